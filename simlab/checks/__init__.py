"""Checks: what a probe step runs on a host and how its output becomes an outcome.

Owns: the probe commands, one module per probe kind (ping, connect, serve, route,
trace), packet evidence (capture.py) and the outcome taxonomy (outcome.py).
May import: errors.py and results.py; never the engine, a lab or the scenario model:
commands run through the step script (runs/script.py) or through the Lab object a
caller passes in.
"""

from simlab.checks.outcome import REASONS, Outcome
from simlab.checks.ping import PING_ENV, classify_ping, ping_command

__all__ = ["PING_ENV", "REASONS", "Outcome", "classify_ping", "ping_command"]
