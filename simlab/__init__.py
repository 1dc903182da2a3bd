"""simlab: container-orchestrated multi-host network labs, checked step by step.

The Python API (see README, "From Python / pytest")::

    import simlab
    with simlab.lab("gateway-nat") as lab:
        print(lab.exec("container-a", "ip -br addr").output)
    result = simlab.run("gateway-nat")

Names are imported on first use, so ``import simlab`` (and the CLI's start) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simlab.errors import EngineError, InputError, SimlabError

__version__ = "0.1.0"

_LAZY = {
    "Builder": "simlab.api", "RunningLab": "simlab.api", "load": "simlab.api", "connect": "simlab.api",
    "start": "simlab.api", "lab": "simlab.api", "run": "simlab.api", "validate": "simlab.api",
    "load_paths": "simlab.api", "run_many": "simlab.api", "CheckFailed": "simlab.api", "topology_of": "simlab.api",
    "Scenario": "simlab.model.scenario", "Topology": "simlab.model.topology", "ScenarioResult": "simlab.results",
    "StepResult": "simlab.results", "ExecResult": "simlab.engines.client", "Engine": "simlab.engines.client",
    "Event": "simlab.events",
}
__all__ = ["EngineError", "InputError", "SimlabError", "__version__", *_LAZY]

if TYPE_CHECKING:
    from simlab.api import (
        Builder,
        CheckFailed,
        RunningLab,
        connect,
        lab,
        load,
        load_paths,
        run,
        run_many,
        start,
        topology_of,
        validate,
    )
    from simlab.engines.client import Engine, ExecResult
    from simlab.events import Event
    from simlab.model.scenario import Scenario
    from simlab.model.topology import Topology
    from simlab.results import ScenarioResult, StepResult


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'simlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
