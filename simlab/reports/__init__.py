"""Reports: the same result objects (results.py) rendered for people and for CI.

Owns: terminal.py (progress and summary tables), progress.py (how far a lab's up or down
is: a live line or plain lines), junit.py (JUnit XML), html/ (the
self-contained HTML pages), batch.py (a batch's report: its JSON, and the one writer of
JSON, JUnit and HTML), merge.py (the shards' JSON reports read, checked and joined),
verify.py (`simlab verify` for a terminal).
May import: results.py, events.py, errors.py, model, graph, state; never an engine or a lab.
"""
