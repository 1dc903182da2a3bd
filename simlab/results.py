"""Typed results of a scenario run; every reporter (terminal, JSON, JUnit) renders these."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class StepResult:
    index: int
    title: str
    kind: str  # the step's kind: "run", "ping", ... (steps.KINDS)
    where: str  # host or host/netns
    commands: list[str]
    expected: str
    got: str
    passed: bool
    output: str = ""
    duration: float = 0.0
    note: str = ""
    section: str = ""
    line: int = 0
    skipped: bool = False
    target: str = ""  # what a ping step pings ("pc2 (10.0.0.2)" when a name was resolved)
    reason: str = ""  # why a probe was unreachable (checks.REASONS), "" otherwise
    peer: str = ""  # who answered a probe: the target, or the router that sent an ICMP error
    seen_as: str = ""  # connect: the client address the serving end saw (after any NAT)
    hops: list[str] = field(default_factory=list)  # trace: the path found ("*" a silent hop)
    replies: int | None = None  # ping: probes answered (of its count), when any probe went out
    loss: float | None = None  # ping: the share of its count lost, in percent
    attempts: int = 1  # how often a step with `within` ran before it held (or time ran out)
    hint: str = ""  # shown to the learner when the step fails
    why: list[str] = field(default_factory=list)  # a failed reachability step: where its packet went astray
    shown: list[str] = field(default_factory=list)  # the commands as a learner would type them
    evidence: list[str] = field(default_factory=list)  # each seen/unseen expectation, marked, with its count
    packets: list[str] = field(default_factory=list)  # what the captures saw: "HOST:IFACE  tcpdump line"
    path: list[str] = field(default_factory=list)  # where each flow of those packets went, in order
    # Those packets as base64 of a pcap (pcapng naming each spot, for several), when every
    # capture's file came back whole; None otherwise (not in the JSON then).
    pcap: str | None = None
    # Recorded only with --explain/--html: the lab's state after the step (LabState.to_dict)
    # and what changed since the step before (Change.to_dict each).
    state: dict | None = None
    changes: list[dict] | None = None

    @classmethod
    def from_dict(cls, data: dict) -> StepResult:
        """The step as ``ScenarioResult.to_dict`` wrote it (keys it does not know are ignored)."""
        return cls(**{name: data[name] for name in _STEP_FIELDS if name in data})


@dataclass
class ScenarioResult:
    scenario: str
    file: str
    lab: str = ""
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None  # the scenario could not run (bad input, engine failure, timeout)
    duration: float = 0.0
    stopped: str = ""  # why the run was cut short: "interrupted", "timed out after 30s", ...
    kept: bool = False  # the lab is still up (--keep, --keep-failed)
    engine: str = ""  # the engine it ran on (validate over several engines)
    retries: list[str] = field(default_factory=list)  # earlier tries lost with their engine, and why
    engine_failed: bool = False  # the error came from the engine (worth a try elsewhere), not the scenario
    lab_state: dict | None = None  # recorded only with --explain/--html: the lab as built, before step 1

    @property
    def passed(self) -> bool:
        return self.error is None and not self.stopped and all(s.passed for s in self.steps)

    @property
    def failed_steps(self) -> list[StepResult]:
        return [s for s in self.steps if not s.passed and not s.skipped]

    @property
    def verdict(self) -> str:
        return verdict_of(self.error, self.stopped, self.passed)

    @property
    def exit_code(self) -> int:
        """0 every expectation held, 1 one did not, 2 the scenario could not run."""
        if self.error is not None:
            return 2
        return 0 if self.passed else 1

    def to_dict(self) -> dict:
        data = {"scenario": self.scenario, "file": self.file, "lab": self.lab, "passed": self.passed,
                "error": self.error, "stopped": self.stopped, "kept": self.kept, "duration": round(self.duration, 3),
                "engine": self.engine, "retries": self.retries,
                "steps": [_without_unrecorded({**vars(s), "duration": round(s.duration, 3)}) for s in self.steps]}
        return _without_unrecorded({**data, "lab_state": self.lab_state})

    @classmethod
    def from_dict(cls, data: dict) -> ScenarioResult:
        """The result as ``to_dict`` wrote it (in a JSON report, e.g. for `simlab merge`)."""
        return cls(**{k: v for k, v in data.items() if k in _SCENARIO_FIELDS},
                   steps=[StepResult.from_dict(step) for step in data.get("steps", [])])


def _without_unrecorded(data: dict) -> dict:
    """Recorded states (and a step's pcap) appear in JSON only when they were recorded."""
    return {k: v for k, v in data.items() if v is not None or k not in ("state", "changes", "lab_state", "pcap")}


_STEP_FIELDS = tuple(f.name for f in fields(StepResult))
_SCENARIO_FIELDS = frozenset(f.name for f in fields(ScenarioResult)) - {"steps", "engine_failed"}


def verdict_of(error: str | None, stopped: str, passed: bool) -> str:
    """ERROR (it could not run), STOPPED (cut short), PASSED or FAILED: one word for a run."""
    if error is not None:
        return "ERROR"
    if stopped:
        return "STOPPED"
    return "PASSED" if passed else "FAILED"
