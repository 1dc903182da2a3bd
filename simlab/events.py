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


Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An Emit that drops every event, for callers that want quiet."""
