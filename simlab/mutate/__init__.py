"""Mutation testing of a scenario: would its checks catch a broken lab?

Owns: commands.py (what a shell command does to the lab, and its key argument altered),
generate.py (the mutants of a scenario: each setup command and each step that changes
the lab left out, or its key argument altered; applied to the model to run, to the YAML
data to write), run.py (the scenario as written and every mutant, each in its own lab,
through validate's batch; caught or survived) and report.py (terminal, JSON, HTML).
May import: model, steps (the registry: which kinds change the lab), runs, reports, results,
errors, events; never docker or a lab directly: labs run through runs.validate like any batch.
"""
