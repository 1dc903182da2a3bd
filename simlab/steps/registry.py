"""Every step kind, by the key that makes a step of it. Adding a kind: its module, one line here."""

from __future__ import annotations

from simlab.steps.base import Kind, Step
from simlab.steps.connect import Connect
from simlab.steps.http import Http
from simlab.steps.neigh import Neigh
from simlab.steps.ping import Ping
from simlab.steps.route import Route
from simlab.steps.run import Run
from simlab.steps.serve import Serve
from simlab.steps.trace import Trace

KINDS: dict[str, Kind] = {kind.key: kind for kind in (Run(), Ping(), Connect(), Serve(), Route(), Trace(), Http(),
                                                     Neigh())}


def kind_of(step: Step) -> Kind:
    """The kind of ``step``."""
    return KINDS[step.KIND]
