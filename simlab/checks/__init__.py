"""Checks: what a probe step runs on a host and how its output becomes an outcome.

This package owns the probe commands (one module per probe kind) and the
outcome taxonomy (outcome.py). It may import the scenario model and results,
never the engine or the lab directly: commands run through the batch script
(batch.py) or through the Lab object a caller passes in.
"""

from simlab.checks.outcome import REASONS, Outcome
from simlab.checks.ping import PING_ENV, classify_ping, ping_command

__all__ = ["PING_ENV", "REASONS", "Outcome", "classify_ping", "ping_command"]
