"""What every step kind has and does: the ``Step`` fields, and the ``Kind`` interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from simlab.checks.capture import Evidence
from simlab.defaults import DEFAULT_STEP_TIMEOUT  # noqa: F401 - re-exported
from simlab.steps.fields import Fields


@dataclass
class Step:
    """One thing that happens on a host (or in a namespace of it)."""

    KIND: ClassVar[str] = ""  # the key that makes a step of this kind, like "ping"

    title: str
    host: str
    netns: str | None = None
    note: str = ""
    section: str = ""
    line: int = 0
    timeout: float | None = None  # seconds each command may take; None: the run's default
    within: float | None = None  # retry until the check holds, for up to this many seconds
    hint: str = ""  # shown to the learner when the step fails
    evidence: list[Evidence] = field(default_factory=list)  # seen/unseen: packets captured around the step

    @property
    def where(self) -> str:
        return f"{self.host}/{self.netns}" if self.netns else self.host


@dataclass
class CommandRun:
    """One command of a step as it ran: its exit code, output and time."""

    command: str
    exit_code: int
    output: str
    seconds: float = 0.0
    cut: int = 0  # bytes of output past the kept part, counted and dropped


@dataclass
class Verdict:
    """How a step went: what came back (``got``, worded like the expectation), whether that
    is what the step expects, the output a reader sees, and facts for the result's own fields
    (``details``: StepResult attribute -> value, like reason, peer, hops)."""

    got: str
    passed: bool
    output: str
    details: dict[str, Any] = field(default_factory=dict)


class Kind:
    """One kind of step. A subclass per kind, registered in registry.py.

    ``key``: the key that makes a step of this kind; ``step``: its dataclass; ``options``:
    the keys it takes besides the common ones, each with its JSON Schema; ``schema``: the
    schema of its own key; ``evidence``: it takes seen/unseen; ``required``: keys besides
    its own that it needs; ``stops_story``: a failure stops the run (later steps build on
    it); ``changes_lab``: it changes the lab (state is recorded after it)."""

    key: ClassVar[str]
    step: ClassVar[type[Step]]
    summary: ClassVar[str] = ""
    schema: ClassVar[dict] = {}
    options: ClassVar[dict[str, dict]] = {}
    evidence: ClassVar[bool] = False
    required: ClassVar[tuple[str, ...]] = ()
    stops_story: ClassVar[bool] = False
    changes_lab: ClassVar[bool] = False

    def parse(self, fields: Fields, common: dict[str, Any]) -> Step | None:
        """The step from its keys (``common``: the fields every step has), or None after
        reporting what is wrong through ``fields``."""
        raise NotImplementedError

    def commands(self, step: Any) -> list[str]:
        """The shell commands the step runs on its host, in order."""
        raise NotImplementedError

    def shown(self, step: Any) -> list[str]:
        """The commands as a learner would type them (probe scripts are long)."""
        return self.commands(step)

    def time_limit(self, step: Any, default: float = DEFAULT_STEP_TIMEOUT) -> float:
        """Seconds each command may take when the step sets no ``timeout``."""
        return default

    def expected(self, step: Any) -> str:
        """What the step expects, worded as its verdict's ``got`` would be."""
        raise NotImplementedError

    def judge(self, step: Any, runs: list[CommandRun]) -> Verdict:
        """Compare what the commands did (at least one ran, none timed out) with the expectation."""
        raise NotImplementedError

    def runs_alone(self, step: Any) -> bool:
        """Whether nothing may run after the step in the same exec, because the runner (not
        the step script) must look at it first."""
        return False

    def guard(self, step: Any, last: bool) -> str | None:
        """A shell line the step script runs after each command (``$rc`` its exit code,
        ``$out`` its output file, ``kept`` prints the part of it a judge sees) that ends the
        script when the story cannot go on, or None."""
        return None


@dataclass
class StepRun:
    """What one step's commands did (fewer than it has when the batch stopped inside it)."""

    step: Step
    commands: list[CommandRun] = field(default_factory=list)
    after: str | None = None  # output of the after-step commands, when the caller gave some
    clock: float | None = None  # a step with packet evidence: when it started, by the engine's clock
