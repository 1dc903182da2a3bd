"""Batch validation: many scenarios, each in its own lab, several at a time.

``collect`` turns paths into scenario files (a folder means every *.yaml under
it) and ``load_all`` checks them, turning each bad file into a result that
reports it, so the good ones still run. ``Batch.run`` runs the scenarios
``jobs`` at a time; a scenario is stopped by removing its lab, which ends
whatever it was waiting for: that is how a timeout, --fail-fast and Ctrl-C
cut a run without touching the other labs.
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from simlab.batch import DEFAULT_STEP_TIMEOUT
from simlab.engine import Engine
from simlab.errors import InputError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.lab import deferred_interrupts, destroy_lab
from simlab.results import ScenarioResult
from simlab.runner import run_scenario
from simlab.scenario import Scenario, load_scenario, shipped_scenarios
from simlab.security import refuse_untrusted

SCENARIO_SUFFIXES = (".yaml", ".yml")


def default_jobs() -> int:
    """Labs spend most of their time waiting on the engine and on pings: two per core."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class Options:
    jobs: int = 0  # 0: default_jobs()
    timeout: float | None = None
    fail_fast: bool = False
    keep_failed: bool = False
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    untrusted: bool = False  # hardened mode (security.py): files checked before, engine checked by the caller


def collect(paths: list[str]) -> tuple[list[Path], list[ScenarioResult]]:
    """Scenario files named by ``paths`` (default: the shipped ones), and a result for each bad path."""
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
        else:
            errors.append(_input_error(raw, f"{raw}: no such file or folder"))
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


def refuse_untrusted_files(scenarios: list[Scenario]) -> tuple[list[Scenario], list[ScenarioResult]]:
    """The scenarios --untrusted may run, and an error result for each it refuses."""
    allowed, refused = [], []
    for scenario in scenarios:
        try:
            refuse_untrusted(scenario.file)
            allowed.append(scenario)
        except InputError as exc:
            refused.append(_input_error(scenario.file, str(exc), scenario.name))
    return allowed, refused


def _input_error(file: str, message: str, name: str | None = None) -> ScenarioResult:
    return ScenarioResult(scenario=name or Path(file).stem, file=file, error=message)


class Batch:
    """One validate run: the labs it started, so it can stop any of them."""

    def __init__(self, engine: Engine, options: Options, emit: Emit = ignore) -> None:
        self.engine = engine
        self.options = options
        self.emit = emit
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}  # lab -> its cancel flag
        self._stopped: dict[str, str] = {}  # lab -> why it was stopped
        self.results: list[ScenarioResult] = []  # also what finished before a Ctrl-C

    def run(self, scenarios: list[Scenario]) -> list[ScenarioResult]:
        """Run every scenario; on Ctrl-C stop them all and return what finished (and re-raise)."""
        jobs = self.options.jobs or default_jobs()
        results: dict[int, ScenarioResult] = {}
        pool = ThreadPoolExecutor(max_workers=jobs)
        futures: dict[Future, int] = {pool.submit(self._run_one, s): i for i, s in enumerate(scenarios)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    results[futures[future]] = result
                    if self.options.fail_fast and not result.passed:
                        self._stop_all("stopped by --fail-fast", pending)
        except KeyboardInterrupt:
            with deferred_interrupts(reraise=False):  # more Ctrl-C only hurry what is already stopping
                self._stop_all("interrupted", pending)
                for future in pending:
                    if not future.cancelled():
                        results[futures[future]] = future.result()
            raise
        finally:
            with deferred_interrupts(reraise=False):
                pool.shutdown(wait=True, cancel_futures=True)
            for i in futures.values():
                if i not in results:  # cancelled before it started
                    results[i] = ScenarioResult(scenarios[i].name, scenarios[i].file,
                                                stopped=f"not run: {self._stopped.get('*', 'stopped')}")
            self.results = [results[i] for i in sorted(results)]
        return self.results

    def _run_one(self, scenario: Scenario) -> ScenarioResult:
        lab = f"{scenario.name}-{uuid.uuid4().hex[:6]}"
        with self._lock:
            if self._stopped.get("*"):
                return ScenarioResult(scenario.name, scenario.file, stopped=f"not run: {self._stopped['*']}")
            cancel = self._running[lab] = threading.Event()
        self.emit(Event("validate.start", scenario.name, lab))
        try:
            result = run_scenario(self.engine, scenario, lab, keep=self.options.keep_failed, cancel=cancel,
                                  timeout=self.options.timeout, step_timeout_default=self.options.step_timeout)
        except Exception as exc:  # one scenario's crash must not take the others down
            result = ScenarioResult(scenario.name, scenario.file, lab, error=f"simlab failed: {exc!r}")
            destroy_lab(self.engine, lab)
        finally:
            with self._lock:
                self._running.pop(lab, None)
        if lab in self._stopped:  # the stop is the story; what it broke on the way is not
            result.stopped, result.error, result.kept = self._stopped[lab], None, False
        if result.kept and result.passed:
            destroy_lab(self.engine, lab)
            result.kept = False
        self.emit(Event("validate.done", scenario.name, lab, payload=result))
        return result

    def stop(self, lab: str, reason: str) -> None:
        """Stop one scenario: flag it, so it goes no further, and remove its lab, so that
        whatever it waits for in the lab returns."""
        with self._lock:
            if lab not in self._running:
                return
            self._stopped[lab] = reason
            self._running[lab].set()
        destroy_lab(self.engine, lab)

    def _stop_all(self, reason: str, pending: set[Future]) -> None:
        with self._lock:
            self._stopped["*"] = reason
            running = list(self._running)
        for future in pending:
            future.cancel()
        for lab in running:
            self.stop(lab, reason)
