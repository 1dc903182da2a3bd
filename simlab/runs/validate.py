"""Batch validation: many scenarios, each in its own lab, several at a time.

``collect`` turns paths into scenario files (a folder means every *.yaml under
it) and ``load_all`` checks them, turning each bad file into a result that
reports it, so the good ones still run. ``Batch.run`` runs the scenarios
``jobs`` at a time; a scenario is stopped by removing its lab, which ends
whatever it was waiting for: that is how a timeout, --fail-fast and Ctrl-C
cut a run without touching the other labs.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simlab.defaults import default_jobs  # noqa: F401 - re-exported
from simlab.engines.client import Engine
from simlab.errors import EngineError, InputError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs.lab import deferred_interrupts, destroy_lab
from simlab.labs.readiness import prepare
from simlab.labs.security import Trust, check_trust
from simlab.model.scenario import Scenario, load_scenario, shipped_scenarios, shipped_scenarios_dir
from simlab.results import ScenarioResult, StepResult
from simlab.runs.runner import StepWatch, run_scenario
from simlab.runs.script import DEFAULT_STEP_TIMEOUT
from simlab.state.record import StateRecorder

SCENARIO_SUFFIXES = (".yaml", ".yml")
# Told each step's result as it ends; a reason (not None) stops that scenario's run there.
StopWhen = Callable[[Scenario, StepResult], "str | None"]
# The watch of each scenario's run (simlab grade: a submission's commands and its verify).
WatchFor = Callable[[Scenario], StepWatch]


@dataclass
class Options:
    jobs: int = 0  # 0: default_jobs()
    timeout: float | None = None
    fail_fast: bool = False
    keep_failed: bool = False
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    untrusted: bool = False  # hardened mode (security.Trust), judged on each parsed scenario as its lab starts
    allow_privileged: bool = False  # default mode: honour a file's `privileged: true`
    record: bool = False  # record the lab's state after every step (for --html)

    @property
    def trust(self) -> Trust:
        return Trust(untrusted=self.untrusted, allow_privileged=self.allow_privileged)


def collect(paths: list[str]) -> tuple[list[Path], list[ScenarioResult]]:
    """Scenario files named by ``paths`` (files, folders or shipped scenarios' names; default: the
    shipped ones), and a result for each bad path."""
    if not paths:
        return shipped_scenarios(), []
    files, errors = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file())
            if not found:
                errors.append(_input_error(raw, f"{raw}: no scenario files (*.yaml, *.yml) in this folder"))
            files += found
        elif path.exists():  # a FIFO or a device too: loading says what is wrong with it
            files.append(path)
        elif "/" not in raw and (shipped_scenarios_dir() / f"{raw}.yaml").is_file():  # a shipped scenario's name
            files.append(shipped_scenarios_dir() / f"{raw}.yaml")
        else:
            errors.append(_input_error(raw, f"{raw}: no such file or folder, and no shipped scenario of that name"))
    return files, errors


def load_all(files: list[Path], topologies: bool = False) -> tuple[list[Scenario], list[ScenarioResult]]:
    """Load every file; one that is not a valid scenario becomes an error result. A file
    without steps (a topology) is one only when ``topologies``: it has nothing to run."""
    scenarios, errors = [], []
    for path in files:
        try:
            scenario = load_scenario(path)
        except SimlabError as exc:
            errors.append(_input_error(str(path), str(exc), name=path.stem))
            continue
        if not scenario.steps and not topologies:
            errors.append(_input_error(str(path), f"{path}:1: no steps: this is a topology (for `simlab up`), "
                                                  f"not a scenario", name=path.stem))
            continue
        scenarios.append(scenario)
    return scenarios, errors


def split_by_trust(scenarios: list[Scenario], trust: Trust) -> tuple[list[Scenario], list[ScenarioResult]]:
    """The scenarios ``trust`` lets run, and an error result for each it refuses (before any
    lab starts; each start checks again)."""
    allowed, refused = [], []
    for scenario in scenarios:
        try:
            check_trust(scenario.topology, trust, scenario.file)
            allowed.append(scenario)
        except InputError as exc:
            refused.append(_input_error(scenario.file, str(exc), scenario.name))
    return allowed, refused


def _input_error(file: str, message: str, name: str | None = None) -> ScenarioResult:
    return ScenarioResult(scenario=name or Path(file).stem, file=file, error=message)


@dataclass
class EngineSlots:
    """One engine of a batch and how many of its labs run at once."""

    engine: Engine
    slots: int
    down: str = ""  # why the engine was given up, once it was
    ready: threading.Event = field(default_factory=threading.Event)
    preparing: bool = False


class Batch:
    """One validate run over one or more engines: a queue of scenarios (largest first) pulled by
    every free slot of every engine. An engine that stops answering is given up and the
    scenarios it was running go back in the queue for the others (retried, and the result
    says so); a scenario that *fails* is never run again. Knows the labs it started, so it
    can stop any of them."""

    def __init__(self, engines: Engine | list[EngineSlots], options: Options, emit: Emit = ignore,
                 stop_when: StopWhen | None = None, watch_for: WatchFor | None = None) -> None:
        if isinstance(engines, Engine):
            engines = [EngineSlots(engines, options.jobs or default_jobs())]
        self.engines = engines
        self.options = options
        self.emit = emit
        self.stop_when = stop_when  # simlab mutate: a mutant's run ends once a check caught it
        self.watch_for = watch_for
        self.stopping = threading.Event()  # set once the whole batch stops (Ctrl-C, --fail-fast)
        self._stoppers: dict[str, threading.Thread] = {}  # lab -> the thread stop_when started to stop it
        self._lock = threading.Condition()
        self._running: dict[str, tuple[threading.Event, Engine]] = {}  # lab -> its cancel flag, its engine
        self._stopped: dict[str, str] = {}  # lab -> why it was stopped; "*": the whole batch
        self._queue: deque[int] = deque()
        self._in_flight = 0
        self._retries: dict[int, list[str]] = {}
        self._results: dict[int, ScenarioResult] = {}
        self.results: list[ScenarioResult] = []  # also what finished before a Ctrl-C

    def run(self, scenarios: list[Scenario]) -> list[ScenarioResult]:
        """Run every scenario; on Ctrl-C stop them all and return what finished (and re-raise)."""
        self._scenarios = scenarios
        self._queue.extend(sorted(range(len(scenarios)), key=lambda i: -len(scenarios[i].topology.hosts)))
        workers = [threading.Thread(target=self._work, args=(slots,), daemon=True)
                   for slots in self.engines for _ in range(slots.slots)]
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)  # in slices: a Ctrl-C reaches the main thread at once
        except KeyboardInterrupt:
            with deferred_interrupts(reraise=False):  # more Ctrl-C only hurry what is already stopping
                self._stop_all("interrupted")
                for worker in workers:
                    worker.join()
            raise
        finally:
            self._finish()
        return self.results

    def _finish(self) -> None:
        down = "; ".join(f"{s.engine.name}: {s.down}" for s in self.engines if s.down)
        for i, scenario in enumerate(self._scenarios):
            if i in self._results:
                continue
            if self._stopped.get("*"):
                self._results[i] = ScenarioResult(scenario.name, scenario.file,
                                                  stopped=f"not run: {self._stopped['*']}")
            else:
                self._results[i] = ScenarioResult(scenario.name, scenario.file, retries=self._retries.get(i, []),
                                                  error=f"not run: no engine is left ({down})")
        self.results = [self._results[i] for i in sorted(self._results)]

    def _work(self, slots: EngineSlots) -> None:
        """One slot of one engine: take scenarios from the queue until it is empty and nothing
        that could come back to it is still running, or until the engine is down."""
        if not self._prepare(slots):
            return
        while (index := self._next(slots)) is not None:
            result = self._run_one(self._scenarios[index], slots.engine)
            result.engine, result.retries = slots.engine.name, self._retries.get(index, [])
            lost = result.engine_failed and not slots.engine.ping()
            with self._lock:
                self._in_flight -= 1
                if lost and not self._stopped.get("*"):
                    self._give_up(slots, result.error or "it stopped answering")
                    self._retries.setdefault(index, []).append(
                        f"engine {slots.engine.name} was lost ({result.error}); run again elsewhere")
                    self._queue.appendleft(index)
                else:
                    self._results[index] = result
                self._lock.notify_all()
            if lost:
                return
            self.emit(Event("validate.done", result.scenario, result.lab, payload=result))
            if self.options.fail_fast and not result.passed:
                self._stop_all("stopped by --fail-fast")

    def _prepare(self, slots: EngineSlots) -> bool:
        """The first slot of an engine gives it its images; the others wait for that."""
        with self._lock:
            first, slots.preparing = not slots.preparing, True
        if first:
            try:
                prepare(slots.engine, [s.engine for s in self.engines if not s.down], self.emit)
            except EngineError as exc:
                with self._lock:
                    self._give_up(slots, str(exc))
                    self._lock.notify_all()
            finally:
                slots.ready.set()
        slots.ready.wait()
        return not slots.down

    def _give_up(self, slots: EngineSlots, reason: str) -> None:
        if not slots.down:
            slots.down = reason
            self.emit(Event("engine.down", f"engine {slots.engine.name} is given up: {reason}"))

    def _next(self, slots: EngineSlots) -> int | None:
        with self._lock:
            while True:
                if slots.down or self._stopped.get("*"):
                    return None
                if self._queue:
                    self._in_flight += 1
                    return self._queue.popleft()
                if self._in_flight == 0:
                    return None
                self._lock.wait()  # a scenario of an engine that goes down may come back

    def _run_one(self, scenario: Scenario, engine: Engine) -> ScenarioResult:
        lab = f"{scenario.name}-{uuid.uuid4().hex[:6]}"
        with self._lock:
            if self._stopped.get("*"):
                return ScenarioResult(scenario.name, scenario.file, stopped=f"not run: {self._stopped['*']}")
            cancel = threading.Event()
            self._running[lab] = (cancel, engine)
        self.emit(Event("validate.start", scenario.name, lab))
        try:
            recorder = StateRecorder(scenario) if self.options.record and self.watch_for is None else None
            watch = self.watch_for(scenario) if self.watch_for is not None else recorder
            result = run_scenario(engine, scenario, lab, keep=self.options.keep_failed, cancel=cancel,
                                  timeout=self.options.timeout, step_timeout_default=self.options.step_timeout,
                                  watch=watch, trust=self.options.trust, emit=self._step_watch(scenario, lab))
            if recorder is not None:
                recorder.attach(result)
        except Exception as exc:  # one scenario's crash must not take the others down
            result = ScenarioResult(scenario.name, scenario.file, lab, error=f"simlab failed: {exc!r}")
            _remove_quietly(engine, lab)
        finally:
            if lab in self._stoppers:  # its removal of the lab ends before this run does
                self._stoppers.pop(lab).join()
            with self._lock:
                self._running.pop(lab, None)
        if lab in self._stopped:  # the stop is the story; what it broke on the way is not
            result.stopped, result.error, result.kept = self._stopped[lab], None, False
        if result.kept and result.passed:
            _remove_quietly(engine, lab)
            result.kept = False
        return result

    def _step_watch(self, scenario: Scenario, lab: str) -> Emit:
        """What the run of ``scenario`` in ``lab`` tells as it goes: each step's result to
        ``stop_when``, which may stop the run (from another thread, as a timeout does)."""
        stop_when = self.stop_when
        if stop_when is None:
            return ignore

        def on_event(event: Event) -> None:
            if event.kind == "step.done" and lab not in self._stoppers and (
                    reason := stop_when(scenario, event.payload)):
                self._stoppers[lab] = threading.Thread(target=self.stop, args=(lab, reason), daemon=True)
                self._stoppers[lab].start()
        return on_event

    def stop(self, lab: str, reason: str) -> None:
        """Stop one scenario: flag it, so it goes no further, and remove its lab, so that
        whatever it waits for in the lab returns."""
        with self._lock:
            if lab not in self._running:
                return
            self._stopped[lab] = reason
            cancel, engine = self._running[lab]
            cancel.set()
        _remove_quietly(engine, lab)

    def _stop_all(self, reason: str) -> None:
        with self._lock:
            self._stopped["*"] = reason
            self.stopping.set()
            running = list(self._running)
            self._lock.notify_all()
        for lab in running:
            self.stop(lab, reason)


def _remove_quietly(engine: Engine, lab: str) -> None:
    try:
        destroy_lab(engine, lab)
    except SimlabError:
        pass  # an engine that is gone: its labs go with `simlab down --all --engine`
