"""Step kinds: what a scenario's steps can be, one module per kind.

Owns: base.py (``Step``, the ``Kind`` interface, ``CommandRun``, ``StepRun``, ``Verdict``),
fields.py (reading a step's keys with one problem per bad key), probe.py (what the
probe kinds share), one module per kind (run, ping, connect, serve, route, trace)
and registry.py (``KINDS``: the key of each kind to its ``Kind``).
A kind says everything about itself: its keys and their schema, how it is parsed,
the commands it runs, its time limit, what it expects and how it is judged. The
loader, the schema, the step script and the runner dispatch through the registry.
May import: checks (command text and output parsing), errors.py, results.py; never
the model, a lab or an engine (the model imports this package).
"""

from simlab.steps.base import CommandRun, Kind, Step, StepRun, Verdict
from simlab.steps.connect import ConnectStep
from simlab.steps.ping import PingStep
from simlab.steps.registry import KINDS, kind_of
from simlab.steps.route import RouteStep
from simlab.steps.run import RunStep, is_run
from simlab.steps.serve import ServeStep
from simlab.steps.trace import TraceStep

__all__ = ["KINDS", "CommandRun", "ConnectStep", "Kind", "PingStep", "RouteStep", "RunStep", "ServeStep", "Step",
           "StepRun",
           "TraceStep", "Verdict", "is_run", "kind_of"]
