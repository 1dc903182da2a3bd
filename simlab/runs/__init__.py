"""Running scenarios: the steps of one in its lab, and many at once.

Owns: script.py (consecutive steps on one host as one shell script in one exec),
runner.py (start the lab, run and judge each step, remove the lab), validate.py
(a queue of scenarios over the slots of one or more engines) and shard.py (which
scenarios one shard of a batch runs, computed alike on every machine); for `simlab
verify`: verify.py (a learner's lab against its scenario at step N), reference.py (that
point built in a shadow lab, cached) and probes.py (the scenario's probes of that point).
May import: labs, engines, model, checks, state, results, errors, events;
never reports or the CLI: results go back as ``ScenarioResult`` objects.
"""
