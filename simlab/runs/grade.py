"""Grade many learners against one scenario (`simlab grade`).

Submissions: each runs in a sealed lab of its own, started as `simlab up` starts one (the
scenario's hosts, wires and setup; no step), in hardened mode unless the teacher says
otherwise. The lab's run goes through validate's Batch, so jobs, several engines, a
timeout and Ctrl-C behave as in `simlab validate`: the submission's run is an empty
scenario whose watch, before the (absent) first step, runs the learner's commands on
their hosts in order (a command that fails is recorded, not fatal) and then verifies
the lab (verify.compare_lab). Every lab is verified against one reference, that of the
point graded (reference.py: built once in a shadow lab on the first engine that needs
it, or read from the cache) and split by section (state/grade.py).

Live labs (``--labs PATTERN``): the labs on an engine whose names match are only read:
the reference first, then every lab at once.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from simlab.engines.client import Deadline, Engine
from simlab.engines.interface import EngineAPI
from simlab.errors import EngineError, InputError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs.lab import Lab, deferred_interrupts, in_background, list_labs, open_lab, run_parallel
from simlab.labs.security import require_isolation
from simlab.labs.shell import KILL_GRACE, MARK, PRELUDE, command_record
from simlab.model.scenario import Scenario
from simlab.model.submission import Command, Submission, read_submission
from simlab.model.topology import MAX_NAME
from simlab.results import ScenarioResult
from simlab.runs.reference import Reference, reference_state
from simlab.runs.script import ENGINE_SLACK
from simlab.runs.validate import Batch, EngineSlots, Options
from simlab.runs.verify import compare_lab, lab_scenario, wait
from simlab.state.explain import VerifyReport
from simlab.state.grade import CommandDone, Grade, grade_sections, sections_of
from simlab.steps import Step

COMMAND_TIMEOUT = 30.0  # seconds one command of a submission may take (a `ping` without -c must end)
LAB_PREFIX = "grade-"


@dataclass
class GradeOptions:
    jobs: int = 0  # 0: validate's default
    timeout: float | None = None  # seconds for one submission: lab start, commands and verify
    command_timeout: float = COMMAND_TIMEOUT
    untrusted: bool = True  # hardened mode (security.Trust): a submission is a student's code


def require_hardened(engine: Engine) -> None:
    """EngineError, before any lab starts, when ``engine`` cannot hold students' code hardened."""
    try:
        require_isolation(engine)
    except EngineError as exc:
        raise EngineError(f"{exc}; to grade on this engine anyway, in the default mode, pass --trust-submissions "
                          f"(only for files you would run yourself)") from None


def read_submissions(paths: list[str], scenario: Scenario) -> list[Submission]:
    """Every submission named (a folder: each file in it not starting with '.'), read and
    checked before any lab starts; InputError ``file:line: ...`` for the first bad one."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not found:
                raise InputError(f"{raw}: no submission files in this folder")
            files += found
        else:
            files.append(path)
    submissions = [read_submission(path, scenario.topology) for path in files]
    seen: dict[str, str] = {}
    for submission in submissions:
        if submission.student in seen:
            raise InputError(f"{submission.file}: the student name {submission.student!r} (the file's name) is "
                             f"also that of {seen[submission.student]}: rename one of them")
        seen[submission.student] = submission.file
    return submissions


def lab_names(students: list[str]) -> list[str]:
    """A distinct lab-name base for each student: grade-NAME, with what a lab name cannot hold
    replaced (the batch adds a suffix of its own)."""
    names: list[str] = []
    for student in students:
        cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", student).strip("-._") or "student"
        base = (LAB_PREFIX + cleaned)[:MAX_NAME - 3]
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def shadow_name(scenario: Scenario) -> str:
    return f"{LAB_PREFIX}ref-{scenario.name}"[:MAX_NAME]


class SharedReference:
    """The reference of the point graded, for every student: built once, by the first run that
    asks (on its engine, in the background, while its learner's commands run), or read from
    the cache. ``cancel`` stops the build (the batch's stop: Ctrl-C)."""

    def __init__(self, scenario: Scenario, upto: int, cancel: threading.Event) -> None:
        self.scenario, self.upto, self.cancel = scenario, upto, cancel
        self._lock = threading.Lock()
        self._building: Future | None = None

    def start(self, engine: EngineAPI) -> None:
        with self._lock:
            if self._building is None:
                self._building = in_background(lambda: reference_state(
                    engine, self.scenario, self.upto, shadow_name(self.scenario), cancel=self.cancel))

    def get(self, engine: EngineAPI) -> Reference:
        self.start(engine)
        assert self._building is not None
        return self._building.result()

    def finish(self) -> None:
        """Wait until the build has ended (its shadow lab removed), however it ended."""
        if self._building is not None:
            wait(self._building)


class _Grader:
    """The watch of one submission's run: before the first step (there is none), run the
    learner's commands in order, then verify the lab."""

    def __init__(self, submission: Submission, scenario: Scenario, upto: int, reference: SharedReference,
                 command_timeout: float) -> None:
        self.submission, self.scenario, self.upto = submission, scenario, upto
        self.reference, self.command_timeout = reference, command_timeout
        self.commands: list[CommandDone] = []
        self.report: VerifyReport | None = None

    def after_step(self, step: Step) -> str | None:
        return None

    def __call__(self, lab: Lab, index: int, run: object) -> None:
        if index:
            return
        self.reference.start(lab.engine)
        for group in _same_host_runs(self.submission.commands):
            self.commands += run_commands(lab, group, self.command_timeout)
        self.report = compare_lab(lab, self.scenario, self.upto, lambda: self.reference.get(lab.engine))


def _same_host_runs(commands: list[Command]) -> list[list[Command]]:
    groups: list[list[Command]] = []
    for command in commands:
        if groups and groups[-1][0].host == command.host:
            groups[-1].append(command)
        else:
            groups.append([command])
    return groups


def run_commands(lab: Lab, commands: list[Command], timeout: float) -> list[CommandDone]:
    """Run consecutive commands of one host in one script of its shell (a round trip each
    would cost more than most commands take), each on its own and under ``timeout``; one that
    fails does not stop the next."""
    host = commands[0].host
    script = PRELUDE + "".join(f"run {shlex.quote(c.netns or '')} {shlex.quote(c.text)} {timeout:g}; record 0 {n}\n"
                               for n, c in enumerate(commands))
    limit = len(commands) * (timeout + KILL_GRACE) + ENGINE_SLACK
    done = []
    for line in lab.shell(host).lines(script, timeout + KILL_GRACE + ENGINE_SLACK, Deadline(limit)):
        words = line.decode(errors="replace").split(" ")
        if len(words) >= 7 and words[:2] == [MARK, "cmd"]:
            record = command_record(words)
            command = commands[record.command]
            done.append(CommandDone(command.where, command.line, command.text, record.exit_code,
                                    record.output.strip()))
    if len(done) < len(commands):
        raise EngineError(f"the shell of {host} ended before `{commands[len(done)].text}` did")
    return done


class Grading:
    """One grade run over submissions: their labs through validate's Batch, one reference."""

    def __init__(self, scenario: Scenario, upto: int, submissions: list[Submission], options: GradeOptions,
                 emit: Emit = ignore) -> None:
        self.scenario, self.upto, self.options, self.emit = scenario, upto, options, emit
        self.sections = sections_of(scenario, upto)
        names = lab_names([s.student for s in submissions])
        self.submissions = dict(zip(names, submissions))
        self.graders: dict[str, _Grader] = {}
        self.done: dict[str, Grade] = {}

    def run(self, engines: list[EngineSlots]) -> list[Grade]:
        """Grade every submission; on Ctrl-C every lab (the shadow one too) is removed and
        KeyboardInterrupt raised."""
        options = Options(jobs=self.options.jobs, timeout=self.options.timeout,
                          step_timeout=self.options.command_timeout, untrusted=self.options.untrusted)
        batch = Batch(engines, options, self._relay, watch_for=self._watch)
        self.reference = SharedReference(self.scenario, self.upto, batch.stopping)
        empty = [dataclasses.replace(self.scenario, steps=[],
                                     topology=dataclasses.replace(self.scenario.topology, name=name))
                 for name in self.submissions]
        try:
            results = batch.run(empty)
        finally:
            with deferred_interrupts(reraise=False):
                batch.stopping.set()  # a build nobody waits for any more ends at its next step
                self.reference.finish()
        return [self.done.get(r.scenario) or self._grade(r) for r in results]

    def _watch(self, scenario: Scenario) -> _Grader:
        grader = _Grader(self.submissions[scenario.name], self.scenario, self.upto, self.reference,
                         self.options.command_timeout)
        self.graders[scenario.name] = grader
        return grader

    def _relay(self, event: Event) -> None:
        if event.kind == "validate.done":
            grade = self.done[event.payload.scenario] = self._grade(event.payload)
            self.emit(Event("grade.done", grade.student, event.lab, payload=grade))
        elif event.kind == "validate.start":
            self.emit(Event("grade.start", self.submissions[event.message].student, event.lab))
        else:
            self.emit(event)

    def _grade(self, result: ScenarioResult) -> Grade:
        submission = self.submissions[result.scenario]
        grade = Grade(submission.student, submission.file, result.lab, error=result.error, stopped=result.stopped,
                      duration=result.duration, engine=result.engine)
        grader = self.graders.get(result.scenario)
        if grader is not None:
            grade.commands = grader.commands
        if grade.error is None and not grade.stopped:
            if grader is None or grader.report is None:
                grade.error = "the lab was not verified"
            else:
                grade.report = grader.report
                grade.sections, grade.elsewhere = grade_sections(grader.report, self.sections)
        return grade


def grade_submissions(engines: list[EngineSlots], scenario: Scenario, upto: int, submissions: list[Submission],
                      options: GradeOptions, emit: Emit = ignore) -> list[Grade]:
    """Each submission in a lab of its own, verified against ``scenario`` after step ``upto``."""
    return Grading(scenario, upto, submissions, options, emit).run(engines)


def matching_labs(engine: Engine, pattern: str) -> list[str]:
    """The labs up on ``engine`` whose names match the glob ``pattern``; InputError when none does."""
    names = [lab.name for lab in list_labs(engine) if fnmatch.fnmatchcase(lab.name, pattern)]
    if not names:
        raise InputError(f"no lab up matches {pattern!r}; `simlab ls` lists the labs")
    return names


def grade_labs(engine: Engine, scenario: Scenario, upto: int, names: list[str], emit: Emit = ignore
               ) -> list[Grade]:
    """Grade labs that are up, read-only: the reference first, then every lab at once."""
    cancel = threading.Event()
    building = in_background(lambda: reference_state(engine, scenario, upto, shadow_name(scenario), cancel=cancel))
    try:
        reference = building.result()
    except BaseException:
        cancel.set()  # the shadow lab stops at its next step and is removed before we go
        with deferred_interrupts(reraise=False):
            wait(building)
        raise
    sections = sections_of(scenario, upto)

    def one(name: str) -> Grade:
        grade = _live_grade(engine, name, scenario, upto, lambda: reference, sections)
        emit(Event("grade.done", grade.student, name, payload=grade))
        return grade
    return run_parallel(one, names)


def _live_grade(engine: Engine, name: str, scenario: Scenario, upto: int, reference: Callable[[], Reference],
                sections: list[str]) -> Grade:
    started = time.monotonic()
    grade = Grade(name, name, name)
    try:
        lab_scenario(engine, name, scenario.file)  # a lab of another scenario is an error of its own
        grade.report = compare_lab(open_lab(engine, name), scenario, upto, reference)
    except SimlabError as exc:
        grade.error = str(exc)
    else:
        grade.sections, grade.elsewhere = grade_sections(grade.report, sections)
    grade.duration = time.monotonic() - started
    return grade
