"""Progress events. The core reports what it does through a callback and
never prints; the CLI decides how (or whether) to show each event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something the core did or is about to do. ``kind`` names it, e.g. 'lab.node_started'."""

    kind: str
    message: str
    lab: str = ""
    payload: Any = None  # e.g. the StepResult of a 'step.done' event


@dataclass(frozen=True)
class Tally:
    """How far a phase of many like things is: the payload of e.g. 'lab.node_created'."""

    done: int
    total: int


Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An Emit that drops every event, for callers that want quiet."""
