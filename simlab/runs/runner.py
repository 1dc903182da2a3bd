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

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from simlab.runs.script import (DEFAULT_STEP_TIMEOUT, CommandRun, StepRun, run_batch, runs_alone_after, shown_commands,
                          step_commands, step_timeout, timed_out)
from simlab.checks import classify_ping
from simlab.checks.capture import Capture, Evidence, Spot, packet_path, start_captures, stop_captures
from simlab.checks.connect import classify_connect, seen_as
from simlab.checks.outcome import expectation
from simlab.checks.ping import resolved_target
from simlab.checks.route import classify_route
from simlab.checks.route import describe as describe_route
from simlab.checks.trace import classify_trace
from simlab.engines.client import Engine
from simlab.errors import Cancelled, EngineError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs.lab import Lab, in_background, new_run_id, remove_run, start_lab
from simlab.results import ScenarioResult, StepResult
from simlab.model.scenario import ConnectStep, PingStep, RouteStep, RunStep, Scenario, ServeStep, Step, TraceStep

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
                        cancel, exact=exact_name, run_id=run_id, shells={step.host for step in scenario.steps})
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
                        step_result = _retry(lab, index, step, step_result, cancel, default_timeout)
                finally:
                    stop_captures(lab, captures)
                if step.evidence:
                    judge_evidence(step_result, step.evidence, captures, run.clock if run else None)
                result.steps.append(step_result)
                emit(Event("step.done", step.title, lab.name, payload=step_result))
                if watch is not None and run is not None:
                    watch(lab, index, run)
                if not step_result.passed and (isinstance(step, (RunStep, ServeStep)) or run is None):
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


def _retry(lab: Lab, index: int, step: Step, first: StepResult, cancel: threading.Event,
           default_timeout: float) -> StepResult:
    """Run ``step`` again until it holds or its ``within`` window is over (the step is the
    last of its batch, so nothing after it has run). The result counts the attempts."""
    started, attempts, result = time.monotonic(), 1, first
    while not result.passed and time.monotonic() - started + RETRY_PAUSE < step.within:
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


def _spots(step: Step) -> list[Spot]:
    return list(dict.fromkeys(evidence.spot for evidence in step.evidence))


def judge_evidence(result: StepResult, evidence: list[Evidence], captures: list[Capture],
                   since: float | None = None) -> None:
    """Add the packet evidence to a step's result: each expectation, and what was captured
    from ``since`` (the probe's start, by the engine's clock) on."""
    packets = [packet for capture in captures for packet in capture.since(since)]
    result.packets = [str(packet) for packet in packets]
    result.path = packet_path(packets)
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
    return result


def _judge(index: int, run: StepRun, default_timeout: float) -> StepResult:
    step = run.step
    if not run.commands:
        return _result(index, step, step_commands(step), _expected(step), "no result (the host stopped answering)",
                       False, "")
    late = next((c for c in run.commands if timed_out(step, c, default_timeout)), None)
    if late is not None:
        limit = step_timeout(step, default_timeout)
        transcript = "\n".join(f"$ {c.command}\n{c.output}".rstrip() for c in run.commands)
        shown = shown_commands(step)[0] if not isinstance(step, RunStep) else late.command
        return _result(index, step, [c.command for c in run.commands], _expected(step),
                       f"timed out: `{shown}` was stopped after {limit:g} s (the step's timeout)",
                       False, transcript)
    done = run.commands[-1]
    if isinstance(step, PingStep):
        return _judge_ping(index, step, done)
    if isinstance(step, ConnectStep):
        return _judge_connect(index, step, done)
    if isinstance(step, RouteStep):
        got = classify_route(done.exit_code, done.output)
        return _result(index, step, [done.command], _expected(step), str(got),
                       got.meets(step.expect, step.via, step.dev, step.src), done.output)
    if isinstance(step, TraceStep):
        return _judge_trace(index, step, done)
    if isinstance(step, ServeStep):
        got = "ready" if done.exit_code == 0 else f"not ready (exit {done.exit_code})"
        return _result(index, step, [done.command], "ready", got, done.exit_code == 0, done.output)
    return _judge_run(index, step, run.commands)


def _expected(step: Step) -> str:
    if isinstance(step, (PingStep, ConnectStep)):
        text = expectation(step.expect, step.reason, step.peer)
        if isinstance(step, ConnectStep) and step.appears_as:
            text += f", seen as {step.appears_as}"
        return text
    if isinstance(step, RouteStep):
        return describe_route(step.expect, step.via, step.dev, step.src)
    if isinstance(step, TraceStep):
        return f"path {'exactly' if step.whole else 'starting'} {' > '.join(step.path)}"
    if isinstance(step, ServeStep):
        return "ready"
    expected = step.expect
    if step.output is not None:
        expected += f", printing {step.output!r}"
    if step.match is not None:
        expected += f", matching {step.match!r}"
    if step.not_output is not None:
        expected += f", not printing {step.not_output!r}"
    return expected


def _judge_ping(index: int, step: PingStep, done: CommandRun) -> StepResult:
    got = classify_ping(done.exit_code, done.output)
    resolved = resolved_target(done.output)
    address = resolved.partition("(")[2].rstrip(")") if resolved else step.target
    shown = replace(got, peer="") if got.peer == address else got  # "reply from X" only when X is news
    result = _result(index, step, [done.command], _expected(step), str(shown),
                     got.meets(step.expect, step.reason, step.peer), done.output)
    result.reason, result.peer, result.target = got.reason, got.peer, resolved or step.target
    if resolved:  # say which address the name got
        result.shown = [f"{result.shown[0].rpartition(' ')[0]} {resolved}"]
    return result


def _judge_connect(index: int, step: ConnectStep, done: CommandRun) -> StepResult:
    got, said = classify_connect(done.exit_code, done.output)
    client = seen_as(said)
    shown = replace(got, peer="") if got.peer == step.target else got
    text = str(shown) + (f", seen as {client}" if client else "")
    passed = got.meets(step.expect, step.reason, step.peer) and step.appears_as in (None, client)
    result = _result(index, step, [done.command], _expected(step), text, passed, done.output)
    result.reason, result.peer, result.seen_as = got.reason, got.peer, client
    return result


def _judge_trace(index: int, step: TraceStep, done: CommandRun) -> StepResult:
    got = classify_trace(done.exit_code, done.output)
    output = "\n".join(line for line in done.output.splitlines() if not line.startswith("@@hop"))
    if got is None:
        return _result(index, step, [done.command], _expected(step), "error", False, done.output)
    result = _result(index, step, [done.command], _expected(step), str(got), got.meets(step.path, step.whole),
                     output or "\n".join(f"{n}  {hop}" for n, hop in enumerate(got.hops, 1)))
    result.hops = got.hops
    return result


def _judge_run(index: int, step: RunStep, commands: list[CommandRun]) -> StepResult:
    last = commands[-1]
    ran_all = len(commands) == len(step.commands)
    got = "success" if last.exit_code == 0 else f"failure (exit {last.exit_code})"
    passed = ran_all and (last.exit_code == 0) == (step.expect == "success")
    if step.output is not None and squeeze(step.output) not in squeeze(last.output):
        got += f", without {step.output!r}"
        passed = False
    if step.match is not None and not re.search(step.match, last.output, re.MULTILINE):
        got += f", not matching {step.match!r}"
        passed = False
    if step.not_output is not None and squeeze(step.not_output) in squeeze(last.output):
        got += f", printing {step.not_output!r}"
        passed = False
    if not ran_all:
        got += f" at command {len(commands)} of {len(step.commands)}"
    transcript = "\n".join(f"$ {c.command}\n{c.output}".rstrip() for c in commands)
    result = _result(index, step, step.commands, _expected(step), got, passed, transcript)
    if not passed and not result.hint and KERNEL_LACKS.search(last.output):
        result.hint = ("the engine's kernel may have been built without this link kind or qdisc; "
                       "`simlab engines` says which ones it lacks")
    return result


KERNEL_LACKS = re.compile(r"Unknown device type|Unknown qdisc|Specified qdisc (?:kind is unknown|not found)")


def squeeze(text: str) -> str:
    """Text with every run of whitespace (newlines too) made one space: output matching
    does not depend on how a command aligns its columns."""
    return " ".join(text.split())


def _result(index: int, step: Step, commands: list[str], expected: str, got: str,
            passed: bool, output: str) -> StepResult:
    return StepResult(index=index, title=step.title, kind=_kind(step), where=step.where, commands=commands,
                      expected=expected, got=got, passed=passed, output=output.strip(), note=step.note,
                      section=step.section, line=step.line, target=_target(step), hint=step.hint,
                      shown=shown_commands(step))


def _target(step: Step) -> str:
    return getattr(step, "target", "")


def _kind(step: Step) -> str:
    return KINDS[type(step)]


KINDS = {RunStep: "run", PingStep: "ping", ConnectStep: "connect", ServeStep: "serve", RouteStep: "route",
         TraceStep: "trace"}


def _skipped(index: int, step: Step) -> StepResult:
    return StepResult(index=index, title=step.title, kind=_kind(step), where=step.where, commands=step_commands(step),
                      expected=_expected(step), got="skipped", passed=False, note=step.note,
                      section=step.section, line=step.line, skipped=True, target=_target(step), hint=step.hint,
                      shown=shown_commands(step))
