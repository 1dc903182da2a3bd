"""Run a scenario's mutants and judge each: caught when a check after its change fails.

The scenario as written runs beside its mutants in one batch (validate's ``Batch``: the
same queue, slots, engines, retries and timeouts): it must pass, or a failing check would
prove nothing. A mutant is *caught* when a step at or after its change (after it, for a
step left out; any step, for a setup command) does not go as it expects, or the run stops
on an error (a setup command that fails, a timeout): the report says which. It *survived*
when every later step still held; the report names the checks that did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import EngineError, InputError
from simlab.events import Emit, ignore
from simlab.model.scenario import Scenario
from simlab.mutate.generate import Mutant, generate, is_check, mutant_scenario, mutant_yaml, only_line, read
from simlab.results import ScenarioResult, StepResult
from simlab.runs.validate import Batch, EngineSlots, Options, StopWhen

CAUGHT, SURVIVED, ERROR = "caught", "survived", "error"
ONCE_CAUGHT = "stopped once caught"  # a mutant's run ends at its first failing check: the rest tells nothing


@dataclass
class Check:
    """A step of the scenario as written, as a mutant's run saw it."""

    index: int  # its number in the scenario as written (from 1)
    line: int
    title: str
    expected: str = ""
    got: str = ""

    def describe(self) -> str:
        return f"step {self.index} (line {self.line}) {self.title}"

    def to_dict(self) -> dict:
        return {"index": self.index, "line": self.line, "title": self.title, "expected": self.expected,
                "got": self.got}


@dataclass
class MutantResult:
    mutant: Mutant
    verdict: str  # CAUGHT, SURVIVED or ERROR
    how: str  # caught: what failed, or why the run stopped; error: what went wrong; survived: ""
    stopped: bool = False  # caught by an error that stopped the run, not by a check
    failed: list[Check] = field(default_factory=list)  # the steps after the change that did not hold
    still_passed: list[Check] = field(default_factory=list)  # the checks after the change that still held
    duration: float = 0.0
    engine: str = ""
    written: str = ""  # the mutant's file, with --write

    def to_dict(self) -> dict:
        return {**self.mutant.to_dict(), "verdict": self.verdict, "how": self.how, "stopped": self.stopped,
                "failed": [c.to_dict() for c in self.failed],
                "still_passed": [c.to_dict() for c in self.still_passed],
                "duration": round(self.duration, 3), "engine": self.engine, "written": self.written}


@dataclass
class MutationReport:
    scenario: str
    file: str
    mutants: list[MutantResult] = field(default_factory=list)
    original: ScenarioResult | None = None  # the scenario as written (None: nothing to mutate)
    duration: float = 0.0

    @property
    def caught(self) -> int:
        return sum(m.verdict == CAUGHT for m in self.mutants)

    @property
    def survived(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.verdict == SURVIVED]

    @property
    def errors(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.verdict == ERROR]

    @property
    def score(self) -> str:
        if not self.mutants:
            return "nothing to mutate"
        return f"{self.caught}/{len(self.mutants)} caught"

    @property
    def exit_code(self) -> int:
        """0 every mutant caught (or none to make), 1 one survived, 2 one could not be judged."""
        return 2 if self.errors else 1 if self.survived else 0

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "file": self.file, "score": self.score, "caught": self.caught,
                "survived": len(self.survived), "errors": len(self.errors), "total": len(self.mutants),
                "duration": round(self.duration, 3),
                "original": None if self.original is None else {"passed": self.original.passed,
                                                                "duration": round(self.original.duration, 3)},
                "mutants": [m.to_dict() for m in self.mutants]}


def plan(path: str | Path, only: int | None = None) -> tuple[Scenario, list[Mutant], object]:
    """The scenario in ``path``, its mutants (only those of line ``only``, if given) and the
    file's data (for ``write``). InputError for a bad file or a line with nothing to mutate."""
    scenario, data, source = read(path)
    if not scenario.steps:
        raise InputError(f"{path}:1: no steps: this is a topology (for `simlab up`), not a scenario")
    mutants = generate(scenario, source, data)
    if only is not None:
        mutants = only_line(mutants, scenario, only)
    return scenario, mutants, data


def write(mutants: list[Mutant], data: object, scenario: Scenario, folder: Path) -> dict[int, str]:
    """Write each mutant as a scenario file into ``folder``; its file by mutant number."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for mutant in mutants:
            target = folder / f"{Path(scenario.file).stem}.mutant-{mutant.number:02d}.yaml"
            target.write_text(mutant_yaml(data, mutant, scenario.file), encoding="utf-8")
            written[mutant.number] = str(target)
    except OSError as exc:
        raise InputError(f"--write {folder}: cannot write the mutant files: {exc.strerror or exc}") from None
    return written


def run_mutants(scenario: Scenario, mutants: list[Mutant], engines: list[EngineSlots], options: Options,
                emit: Emit = ignore) -> MutationReport:
    """Run the scenario as written and every mutant, each in its own lab, ``options`` as for
    validate; judge each mutant. InputError (or EngineError) when the scenario as written
    does not pass: then no mutant can be judged."""
    started = time.monotonic()
    report = MutationReport(scenario.name, scenario.file)
    if not mutants:
        return report
    runs = [scenario] + [mutant_scenario(scenario, m) for m in mutants]
    results = Batch(engines, options, emit, stop_when=_once_caught(runs[1:], mutants)).run(runs)
    report.original = _require_passing(scenario, results[0])
    report.mutants = [judge(scenario, mutant, result) for mutant, result in zip(mutants, results[1:])]
    report.duration = time.monotonic() - started
    return report


def _require_passing(scenario: Scenario, result: ScenarioResult) -> ScenarioResult:
    if result.passed:
        return result
    if result.error and result.engine_failed:
        raise EngineError(f"{scenario.file}: the scenario as written could not run: {result.error}")
    why = result.error or result.stopped or "; ".join(
        f"step {s.index} (line {s.line}) expected {s.expected}, got {s.got}" for s in result.failed_steps[:1])
    raise InputError(f"{scenario.file}: the scenario as written does not pass ({why}); mutants prove nothing "
                     f"until it does: `simlab run {scenario.file}` shows why")


def judge(scenario: Scenario, mutant: Mutant, result: ScenarioResult) -> MutantResult:
    """Caught, survived or error: what the mutant's run says about the scenario's checks."""
    judged = MutantResult(mutant, ERROR, "", duration=result.duration, engine=result.engine)
    stopped = "" if result.stopped == ONCE_CAUGHT else result.stopped
    if result.error is not None and result.engine_failed or stopped and not stopped.startswith("timed out"):
        judged.how = result.error or stopped
        return judged
    if result.error is not None or stopped:
        judged.verdict, judged.stopped = CAUGHT, True
        judged.how = f"the run stopped: {result.error or result.stopped}"
        return judged
    first = _first_judged(mutant)
    seen = [(index, step) for index, step in zip(_original_indices(mutant, len(result.steps)), result.steps)]
    early = [_check(i, s) for i, s in seen if i < first and not s.passed and not s.skipped]
    if early:
        judged.how = (f"{early[0].describe()} failed before the change it could catch: the scenario does not "
                      f"behave the same way every time (expected {early[0].expected}, got {early[0].got})")
        return judged
    judged.failed = [_check(i, s) for i, s in seen if i >= first and not s.passed and not s.skipped]
    if judged.failed:
        failure = judged.failed[0]
        judged.verdict = CAUGHT
        judged.stopped = not is_check(scenario.steps[failure.index - 1])
        judged.how = (("the run stopped: " if judged.stopped else "")
                      + f"{failure.describe()}: expected {failure.expected}, got {failure.got}")
        return judged
    judged.verdict = SURVIVED
    judged.still_passed = [_check(i, s) for i, s in seen
                           if i >= first and s.passed and is_check(scenario.steps[i])]
    return judged


def _once_caught(runs: list[Scenario], mutants: list[Mutant]) -> StopWhen:
    """Stops a mutant's run at its first failing step at or after its change."""
    by_run = {id(run): mutant for run, mutant in zip(runs, mutants)}

    def caught(run: Scenario, step: StepResult) -> str | None:
        mutant = by_run.get(id(run))
        if mutant is None or step.passed or step.skipped:
            return None
        original = _original_indices(mutant, step.index)[-1]
        return ONCE_CAUGHT if original >= _first_judged(mutant) else None
    return caught


def _first_judged(mutant: Mutant) -> int:
    """The index (from 0, in the scenario as written) of the first step that can catch ``mutant``."""
    index = mutant.step_index
    if index is None:
        return 0  # a setup command: every step comes after it
    return index + 1 if mutant.removes_step else index


def _original_indices(mutant: Mutant, count: int) -> list[int]:
    """For each step of the mutant's run, its index in the scenario as written."""
    gone = mutant.step_index if mutant.removes_step else None
    return [i if gone is None or i < gone else i + 1 for i in range(count)]


def _check(index: int, step: StepResult) -> Check:
    return Check(index + 1, step.line, step.title, step.expected, step.got)

