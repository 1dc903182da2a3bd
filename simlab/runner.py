"""Run a scenario: start its lab, run each step, check each outcome, clean up.

The runner emits events (``step.start``, ``step.done`` with a StepResult) and
returns a ScenarioResult; it never prints. Consecutive steps on one host run
in one exec (batch.py), their results streaming back as each step ends. A run step that does not go as
expected stops the story (later steps would only fail for the same reason)
and the rest are reported as skipped; a ping check that fails does not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from simlab.batch import DEFAULT_STEP_TIMEOUT, CommandRun, StepRun, run_batch, step_commands, step_timeout, timed_out
from simlab.checks import classify_ping
from simlab.engine import Engine
from simlab.errors import Cancelled, EngineError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.lab import Lab, new_run_id, remove_run, start_lab
from simlab.results import ScenarioResult, StepResult
from simlab.scenario import PingStep, RunStep, Scenario, Step

Pause = Callable[[int, Step], None]
MAX_BATCH_TEXT = 64 * 1024  # characters of commands per exec: the script travels as one argument (128 KiB max)


class StepWatch(Protocol):
    """Sees the lab around the steps (state.record.StateRecorder records its state after each)."""

    def after_step(self, step: Step) -> str | None:
        """Shell commands to run on the step's host right after ``step``, in the step's own exec
        (an exec costs more than most steps); their output comes back in ``StepRun.after``."""

    def __call__(self, lab: Lab, index: int, run: StepRun | None) -> None:
        """Called once before the first step (index 0, no run), then after each step that ran."""


def run_scenario(engine: Engine, scenario: Scenario, lab_name: str, emit: Emit = ignore, keep: bool = False,
                 pause: Pause | None = None, privileged: bool = False,
                 cancel: threading.Event | None = None, exact_name: bool = True, timeout: float | None = None,
                 step_timeout_default: float = DEFAULT_STEP_TIMEOUT, watch: StepWatch | None = None
                 ) -> ScenarioResult:
    """Run every step in a fresh lab. The lab is removed afterwards unless ``keep``,
    also after a failure or Ctrl-C (which sets ``stopped`` instead of raising).
    ``cancel``, set from another thread, stops the run at the next step boundary; to cut a
    step that hangs, the caller also removes the lab (see validate.Batch.stop). ``timeout``
    does both after that many seconds. With ``exact_name`` False, ``lab_name`` is a base
    (see lab.start_lab); ``result.lab`` says which name the lab got."""
    result = ScenarioResult(scenario.name, scenario.file, lab_name)
    started = time.monotonic()
    run_id = new_run_id()
    cancel = cancel or threading.Event()
    timer = _time_limit(engine, run_id, lab_name, cancel, timeout)
    lab = None
    try:
        lab = start_lab(engine, scenario.topology, lab_name, emit, privileged, str(Path(scenario.file).resolve()),
                        cancel, exact=exact_name, run_id=run_id)
        result.lab = lab.name
        _run_steps(lab, scenario, result, emit, pause, cancel, step_timeout_default, watch)
    except KeyboardInterrupt:
        result.stopped = "interrupted"
    except SimlabError as exc:
        if isinstance(exc, Cancelled) or cancel.is_set():
            result.stopped = "cancelled"  # the lab was removed under it: not an error of its own
        else:
            result.error = str(exc)
            result.engine_failed = isinstance(exc, EngineError)
    finally:
        if timer is not None:
            timer.cancel()
            if timer.fired:
                result.stopped, result.error = f"timed out after {timeout:g}s", None
        result.kept = lab is not None and keep and not result.stopped.startswith("timed out")
        if not result.kept:  # by this start's id: whatever it made, even if start_lab never returned
            _remove_lab(engine, run_id, result, emit, announce=lab is not None)
        result.duration = time.monotonic() - started
    return result


class _TimeLimit(threading.Timer):
    fired = False


def _time_limit(engine: Engine, run_id: str, lab: str, cancel: threading.Event,
                timeout: float | None) -> _TimeLimit | None:
    """A timer that, after ``timeout`` seconds, stops the run: it sets ``cancel`` and removes
    the run's containers, which ends whatever a step waits for."""
    if timeout is None:
        return None

    def stop() -> None:
        timer.fired = True
        cancel.set()
        remove_run(engine, run_id, lab)
    timer = _TimeLimit(timeout, stop)
    timer.daemon = True
    timer.start()
    return timer


def _remove_lab(engine: Engine, run_id: str, result: ScenarioResult, emit: Emit, announce: bool) -> None:
    def note_left(event: Event) -> None:
        if event.kind == "lab.left":
            result.error = f"{result.error}; {event.message}" if result.error else event.message
        emit(event)
    if announce:
        emit(Event("lab.down", f"removing lab {result.lab}", result.lab))
    remove_run(engine, run_id, result.lab, note_left)


def _run_steps(lab: Lab, scenario: Scenario, result: ScenarioResult, emit: Emit, pause: Pause | None,
               cancel: threading.Event, default_timeout: float, watch: StepWatch | None = None) -> None:
    steps = scenario.steps
    position, stopped = 0, False
    if watch is not None:
        watch(lab, 0, None)
    while position < len(steps) and not stopped and not cancel.is_set():
        batch = steps[position:position + 1] if pause else _same_host_run(steps, position)
        runs = run_batch(lab, batch[0].host, batch, default_timeout, watch.after_step if watch else None)
        for offset, step in enumerate(batch):
            index = position + offset + 1
            emit(Event("step.start", step.title, lab.name, payload=(index, step)))
            if pause is not None:
                pause(index, step)
            run = next(runs, None)  # the batch runs while we wait here
            step_result = judge(index, run or StepRun(step), default_timeout)
            result.steps.append(step_result)
            emit(Event("step.done", step.title, lab.name, payload=step_result))
            if watch is not None and run is not None:
                watch(lab, index, run)
            if not step_result.passed and (isinstance(step, RunStep) or run is None):
                stopped = True
                break
        position += offset + 1
    result.steps += [_skipped(i, step) for i, step in enumerate(steps[position:], position + 1)]


def _same_host_run(steps: list[Step], position: int) -> list[Step]:
    """The steps from ``position`` on that run on the same host, to run in one exec."""
    end, size = position + 1, _text(steps[position])
    while end < len(steps) and steps[end].host == steps[position].host and size + _text(steps[end]) <= MAX_BATCH_TEXT:
        size += _text(steps[end])
        end += 1
    return steps[position:end]


def _text(step: Step) -> int:
    return sum(len(command) + 64 for command in step_commands(step))


def judge(index: int, run: StepRun, default_timeout: float = DEFAULT_STEP_TIMEOUT) -> StepResult:
    """Compare what a step's commands did with what the step expects."""
    result = _judge(index, run, default_timeout)
    result.duration = sum(c.seconds for c in run.commands)
    return result


def _judge(index: int, run: StepRun, default_timeout: float) -> StepResult:
    step = run.step
    if not run.commands:
        return _result(index, step, step_commands(step), step.expect, "no result (the host stopped answering)",
                       False, "")
    late = next((c for c in run.commands if timed_out(step, c, default_timeout)), None)
    if late is not None:
        limit = step_timeout(step, default_timeout)
        transcript = "\n".join(f"$ {c.command}\n{c.output}".rstrip() for c in run.commands)
        return _result(index, step, [c.command for c in run.commands], step.expect,
                       f"timed out: `{late.command}` was stopped after {limit:g} s (the step's timeout)",
                       False, transcript)
    if isinstance(step, PingStep):
        done = run.commands[0]
        got = classify_ping(done.exit_code, done.output)
        return _result(index, step, [done.command], step.expect, got, got == step.expect, done.output)
    return _judge_run(index, step, run.commands)


def _judge_run(index: int, step: RunStep, commands: list[CommandRun]) -> StepResult:
    last = commands[-1]
    ran_all = len(commands) == len(step.commands)
    got = "success" if last.exit_code == 0 else f"failure (exit {last.exit_code})"
    passed = ran_all and (last.exit_code == 0) == (step.expect == "success")
    expected = step.expect
    if step.output is not None:
        expected += f", printing {step.output!r}"
        if step.output not in last.output:
            got += f", without {step.output!r}"
            passed = False
    if not ran_all:
        got += f" at command {len(commands)} of {len(step.commands)}"
    transcript = "\n".join(f"$ {c.command}\n{c.output}".rstrip() for c in commands)
    return _result(index, step, step.commands, expected, got, passed, transcript)


def _result(index: int, step: Step, commands: list[str], expected: str, got: str,
            passed: bool, output: str) -> StepResult:
    return StepResult(index=index, title=step.title, kind=_kind(step), where=step.where, commands=commands,
                      expected=expected, got=got, passed=passed, output=output.strip(), note=step.note,
                      section=step.section, line=step.line, target=_target(step))


def _target(step: Step) -> str:
    return step.target if isinstance(step, PingStep) else ""


def _kind(step: Step) -> str:
    return "ping" if isinstance(step, PingStep) else "run"


def _skipped(index: int, step: Step) -> StepResult:
    return StepResult(index=index, title=step.title, kind=_kind(step), where=step.where, commands=step_commands(step),
                      expected=step.expect, got="skipped", passed=False, note=step.note,
                      section=step.section, line=step.line, skipped=True, target=_target(step))
