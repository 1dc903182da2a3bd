"""Run a scenario: start its lab, run each step, check each outcome, clean up.

The runner emits events (``step.start``, ``step.done`` with a StepResult) and
returns a ScenarioResult; it never prints. Consecutive steps on one host run
in one exec (script.py), their results streaming back as each step ends. A run
or serve step that does not go as expected stops the story (later steps would
only fail for the same reason) and the rest are reported as skipped; a probe
(ping, connect, route, trace) that fails does not. A step with packet evidence
runs in an exec of its own between the start and the stop of its captures.
"""

from __future__ import annotations

import base64
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from simlab.checks.capture import Capture, Evidence, Spot, packet_path, start_captures, stop_captures
from simlab.engines.interface import EngineAPI
from simlab.errors import Cancelled, EngineError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs import pcap
from simlab.labs.lab import Lab, in_background, new_run_id, remove_run, start_lab
from simlab.labs.security import Trust
from simlab.model.scenario import Scenario
from simlab.results import ScenarioResult, StepResult
from simlab.runs.script import (
    DEFAULT_STEP_TIMEOUT,
    cut_notes,
    run_batch,
    runs_alone_after,
    shown_commands,
    step_commands,
    step_timeout,
    timed_out,
)
from simlab.state.collect import inspect_lab
from simlab.state.explain import diagnose
from simlab.steps import Step, StepRun, kind_of
from simlab.steps.fields import transcript

Pause = Callable[[int, Step], None]
MAX_BATCH_TEXT = 64 * 1024  # characters of commands per exec: the script travels as one argument (128 KiB max)


class StepWatch(Protocol):
    """Sees the lab around the steps (state.record.StateRecorder records its state after each)."""

    def after_step(self, step: Step) -> str | None:
        """Shell commands to run on the step's host right after ``step``, in the step's own exec
        (an exec costs more than most steps); their output comes back in ``StepRun.after``."""

    def __call__(self, lab: Lab, index: int, run: StepRun | None) -> None:
        """Called once before the first step (index 0, no run), then after each step that ran."""


def run_scenario(engine: EngineAPI, scenario: Scenario, lab_name: str, emit: Emit = ignore, keep: bool = False,
                 pause: Pause | None = None, privileged: bool = False,
                 cancel: threading.Event | None = None, exact_name: bool = True, timeout: float | None = None,
                 step_timeout_default: float = DEFAULT_STEP_TIMEOUT, watch: StepWatch | None = None,
                 trust: Trust | None = None) -> ScenarioResult:
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
                        cancel, exact=exact_name, run_id=run_id, shells={step.host for step in scenario.steps},
                        trust=trust)
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
            timer.join()  # once it fired: its removal of the lab ends before this run does
            if timer.fired:
                result.stopped, result.error = f"timed out after {timeout:g}s", None
        result.kept = lab is not None and keep and not result.stopped.startswith("timed out")
        if lab is not None:
            lab.close_shells()
        if not result.kept:  # by this start's id: whatever it made, even if start_lab never returned
            _remove_lab(engine, run_id, result, emit, announce=lab is not None)
        result.duration = time.monotonic() - started
    return result


class _TimeLimit(threading.Timer):
    fired = False


def _time_limit(engine: EngineAPI, run_id: str, lab: str, cancel: threading.Event,
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


def _remove_lab(engine: EngineAPI, run_id: str, result: ScenarioResult, emit: Emit, announce: bool) -> None:
    def note_left(event: Event) -> None:
        if event.kind == "lab.left":
            result.error = f"{result.error}; {event.message}" if result.error else event.message
        emit(event)
    try:
        if announce:
            emit(Event("lab.down", f"removing lab {result.lab}", result.lab))
    finally:  # a progress callback that fails (an API caller's, a closed terminal) cannot keep the lab
        remove_run(engine, run_id, result.lab, note_left)


def _run_steps(lab: Lab, scenario: Scenario, result: ScenarioResult, emit: Emit, pause: Pause | None,
               cancel: threading.Event, default_timeout: float, watch: StepWatch | None = None) -> None:
    steps = scenario.steps
    position, stopped = 0, False
    early: dict[int, Early] = {}  # captures started while the batch before their step ran
    if watch is not None:
        watch(lab, 0, None)
    try:
        while position < len(steps) and not stopped and not cancel.is_set():
            batch = steps[position:position + 1] if pause else _same_host_run(steps, position)
            for offset, step in enumerate(batch):
                index = position + offset + 1
                emit(Event("step.start", step.title, lab.name, payload=(index, step)))
                if pause is not None:
                    pause(index, step)
                if offset == 0:
                    captures = _captures_for(lab, step, early.pop(position, None))  # before its batch
                    if pause is None:
                        _start_early(lab, scenario, position + len(batch), early)
                    runs = run_batch(lab, batch[0].host, batch, default_timeout, watch.after_step if watch else None)
                try:
                    run = next(runs, None)  # the batch runs while we wait here
                    step_result = judge(index, run or StepRun(step), default_timeout)
                    if not step_result.passed and step.within is not None and run is not None:
                        step_result = retry(lab, index, step, step_result, cancel, default_timeout)
                finally:
                    stop_captures(lab, captures)
                if step.evidence:
                    judge_evidence(step_result, step.evidence, captures, run.clock if run else None)
                if wants_a_why(step, step_result):
                    step_result.why = why(lab, scenario, step, step_result)
                result.steps.append(step_result)
                emit(Event("step.done", step.title, lab.name, payload=step_result))
                if watch is not None and run is not None:
                    watch(lab, index, run)
                if not step_result.passed and (kind_of(step).stops_story or run is None):
                    stopped = True
                    break
            position += offset + 1
    finally:
        for unused in early.values():  # their step never ran: stop their tcpdumps
            try:
                stop_captures(lab, unused.captures.result(timeout=60))
            except Exception:  # noqa: BLE001 - they never started, or the lab is gone: its removal ends them
                pass
    result.steps += [_skipped(i, step) for i, step in enumerate(steps[position:], position + 1)]


class Early:
    """Captures of a step started while the batch before it runs (see _start_early)."""

    def __init__(self, spots: list[Spot], captures: Future) -> None:
        self.spots, self.captures = spots, captures


def _start_early(lab: Lab, scenario: Scenario, position: int, early: dict[int, Early]) -> None:
    """Start, in the background, the captures of the step at ``position`` if it has packet
    evidence, at spots that surely exist already (interfaces the fabric made, on hosts other
    than the one the batch before runs on, whose shell is busy): its packets count from its
    probe's start, so nothing the batch before sends is judged."""
    if position >= len(scenario.steps) or not scenario.steps[position].evidence:
        return
    wired = {(end.host, end.interface) for end in scenario.topology.wired_interfaces()}
    busy = scenario.steps[position - 1].host
    spots = [spot for spot in _spots(scenario.steps[position])
             if spot.netns is None and spot.host != busy and (spot.host, spot.iface) in wired]
    if spots:
        early[position] = Early(spots, in_background(lambda: start_captures(lab, spots)))


def _captures_for(lab: Lab, step: Step, started: Early | None) -> list[Capture]:
    """The captures of ``step``: those started early, and the rest started now."""
    if started is None:
        return start_captures(lab, _spots(step))
    return started.captures.result() + start_captures(lab, [s for s in _spots(step) if s not in started.spots])


RETRY_PAUSE = 0.2  # between attempts of a step with `within`: a refusal comes back at once


def retry(lab: Lab, index: int, step: Step, first: StepResult, cancel: threading.Event,
           default_timeout: float) -> StepResult:
    """Run ``step`` again until it holds or its ``within`` window is over (the step is the
    last of its batch, so nothing after it has run). The result counts the attempts."""
    window = step.within
    assert window is not None  # callers retry only a step with `within`
    started, attempts, result = time.monotonic(), 1, first
    while not result.passed and time.monotonic() - started + RETRY_PAUSE < window:
        if cancel.is_set():
            break
        time.sleep(RETRY_PAUSE)
        run = next(run_batch(lab, step.host, [step], default_timeout), None)
        if run is None:
            break
        attempts += 1
        result = judge(index, run, default_timeout)
    result.attempts = attempts
    result.duration = time.monotonic() - started + first.duration
    return result


# What a reachability step expects when it means "the packet gets there".
REACHED = {"ping": "reply", "connect": "open", "http": 200}


def wants_a_why(step: Step, result: StepResult) -> bool:
    """A step that expected its packet to get there, and it did not (not a timeout, not an error of the probe)."""
    expected = REACHED.get(step.KIND)
    return (expected is not None and getattr(step, "expect", None) == expected and not result.passed
            and not result.got.startswith(("timed out", "error", "not run", "status")))


def why(lab: Lab, scenario: Scenario, step: Step, result: StepResult) -> list[str]:
    """Where the packet of a failed reachability step went astray, from the lab's state right
    after it (one exec per host, only for a failure); [] when that cannot be told."""
    try:
        state = inspect_lab(lab, scenario.topology)
        return diagnose(state, step.host, step.netns, result.target or getattr(step, "target", ""))
    except Exception:  # noqa: BLE001 - a diagnosis is a help: it never turns a result into an error
        return []


def _spots(step: Step) -> list[Spot]:
    return list(dict.fromkeys(evidence.spot for evidence in step.evidence))


def judge_evidence(result: StepResult, evidence: list[Evidence], captures: list[Capture],
                   since: float | None = None) -> None:
    """Add the packet evidence to a step's result: each expectation, and what was captured
    from ``since`` (the probe's start, by the engine's clock) on."""
    packets = [packet for capture in captures for packet in capture.since(since)]
    result.packets = [str(packet) for packet in packets]
    result.path = packet_path(packets)
    result.pcap = step_pcap(captures, since)
    errors = [c.error for c in captures if c.error]
    wrong, counts = [], []
    for expected in evidence:
        matching = sum(expected.matches(p) for p in packets)
        holds = expected.holds(packets) and not any(c.error for c in captures if c.spot == expected.spot)
        result.evidence.append(f"{'✔' if holds else '✘'} {expected.describe()} ({_packets(matching)})")
        if not holds:
            wrong.append(expected.describe())
            counts.append(f"{_packets(matching)} at {expected.spot}")
    if wrong or errors:
        result.passed = False
        result.expected += "".join(f"; {text}" for text in wrong)
        result.got += "; " + ", ".join(counts + errors)


def step_pcap(captures: list[Capture], since: float | None) -> str | None:
    """The packets the captures took from ``since`` on, as base64 of a pcap (pcapng, each spot
    named, for several); None unless every capture sent its file back whole."""
    if not captures or not all(c.pcap and not c.error for c in captures):
        return None
    try:
        return base64.b64encode(pcap.joined([(str(c.spot), c.pcap) for c in captures], since)).decode()
    except (ValueError, struct.error):  # not the pcap tcpdump writes (NotPcap is a ValueError)
        return None


def _packets(count: int) -> str:
    return f"{count} packet{'s' if count != 1 else ''}"


def _same_host_run(steps: list[Step], position: int) -> list[Step]:
    """The steps from ``position`` on that run on the same host, to run in one exec (a step
    with packet evidence starts a batch of its own: its captures start before it)."""
    end, size = position + 1, _text(steps[position])
    while (end < len(steps) and steps[end].host == steps[position].host
           and not runs_alone_after(steps[end - 1]) and not steps[end].evidence
           and size + _text(steps[end]) <= MAX_BATCH_TEXT):
        size += _text(steps[end])
        end += 1
    return steps[position:end]


def _text(step: Step) -> int:
    return sum(len(command) + 64 for command in step_commands(step))


def judge(index: int, run: StepRun, default_timeout: float = DEFAULT_STEP_TIMEOUT) -> StepResult:
    """Compare what a step's commands did with what the step expects."""
    result = _judge(index, run, default_timeout)
    result.duration = sum(c.seconds for c in run.commands)
    for note in cut_notes(run.commands):  # the verdict was reached on the part kept; say so
        result.got += f"; {note}"
        result.output += f"\n[{note}]"
    return result


def _judge(index: int, run: StepRun, default_timeout: float) -> StepResult:
    step, kind = run.step, kind_of(run.step)
    if not run.commands:
        return _result(index, step, "no result (the host stopped answering)", False, "")
    late = next((c for c in run.commands if timed_out(step, c, default_timeout)), None)
    if late is not None:
        limit = step_timeout(step, default_timeout)
        shown = late.command if kind.key == "run" else shown_commands(step)[0]
        result = _result(index, step, f"timed out: `{shown}` was stopped after {limit:g} s (the step's timeout)",
                         False, transcript(run.commands))
        result.commands = [c.command for c in run.commands]
        return result
    verdict = kind.judge(step, run.commands)
    result = _result(index, step, verdict.got, verdict.passed, verdict.output)
    for key, value in verdict.details.items():
        setattr(result, key, value)
    return result


def _result(index: int, step: Step, got: str, passed: bool, output: str, skipped: bool = False) -> StepResult:
    kind = kind_of(step)
    return StepResult(index=index, title=step.title, kind=kind.key, where=step.where, commands=kind.commands(step),
                      expected=kind.expected(step), got=got, passed=passed, output=output.strip(), note=step.note,
                      section=step.section, line=step.line, skipped=skipped, target=getattr(step, "target", ""),
                      hint=step.hint, shown=kind.shown(step))


def _skipped(index: int, step: Step) -> StepResult:
    return _result(index, step, "skipped", False, "", skipped=True)
