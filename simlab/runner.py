"""Run a scenario: start its lab, run each step, check each outcome, clean up.

The runner emits events (``step.start``, ``step.done`` with a StepResult) and
returns a ScenarioResult; it never prints. A run step that does not go as
expected stops the story (later steps would only fail for the same reason)
and the rest are reported as skipped; a ping check that fails does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from simlab.checks import PING_ENV, classify_ping, ping_command
from simlab.engine import Engine
from simlab.errors import SimlabError
from simlab.events import Emit, Event, ignore
from simlab.lab import Lab, destroy_lab, start_lab
from simlab.results import ScenarioResult, StepResult
from simlab.scenario import PingStep, RunStep, Scenario, Step

Pause = Callable[[int, Step], None]


def run_scenario(engine: Engine, scenario: Scenario, lab_name: str, emit: Emit = ignore, keep: bool = False,
                 pause: Pause | None = None, privileged: bool = False) -> ScenarioResult:
    """Run every step in a fresh lab. The lab is removed afterwards unless ``keep``,
    also after a failure or Ctrl-C (which sets ``interrupted`` instead of raising)."""
    result = ScenarioResult(scenario.name, scenario.file, lab_name)
    started = time.monotonic()
    lab = None
    try:
        lab = start_lab(engine, scenario.topology, lab_name, emit, privileged, str(Path(scenario.file).resolve()))
        _run_steps(lab, scenario, result, emit, pause)
    except KeyboardInterrupt:
        result.interrupted = True
    except SimlabError as exc:
        result.error = str(exc)
    finally:
        if lab is not None and not keep:
            emit(Event("lab.down", f"removing lab {lab_name}", lab_name))
            destroy_lab(engine, lab_name)
        result.duration = time.monotonic() - started
    return result


def _run_steps(lab: Lab, scenario: Scenario, result: ScenarioResult, emit: Emit, pause: Pause | None) -> None:
    stopped = False
    for index, step in enumerate(scenario.steps, 1):
        if stopped:
            result.steps.append(_skipped(index, step))
            continue
        emit(Event("step.start", step.title, lab.name, payload=(index, step)))
        if pause is not None:
            pause(index, step)
        step_result = run_step(lab, index, step)
        result.steps.append(step_result)
        emit(Event("step.done", step.title, lab.name, payload=step_result))
        stopped = isinstance(step, RunStep) and not step_result.passed


def run_step(lab: Lab, index: int, step: Step) -> StepResult:
    started = time.monotonic()
    if isinstance(step, PingStep):
        result = _ping(lab, index, step)
    else:
        result = _run(lab, index, step)
    result.duration = time.monotonic() - started
    return result


def _ping(lab: Lab, index: int, step: PingStep) -> StepResult:
    command = ping_command(step.target, step.deadline)
    done = lab.exec(step.host, command, step.netns, env=PING_ENV)
    got = classify_ping(done.exit_code, done.output)
    return _result(index, step, "ping", [command], step.expect, got, got == step.expect, done.output)


def _run(lab: Lab, index: int, step: RunStep) -> StepResult:
    transcript = []
    code = 0
    for command in step.commands:
        done = lab.exec(step.host, command, step.netns)
        transcript.append(f"$ {command}\n{done.output}".rstrip())
        code = done.exit_code
        if code != 0:
            break
    ran_all = len(transcript) == len(step.commands)
    got = "success" if code == 0 else f"failure (exit {code})"
    passed = ran_all and (code == 0) == (step.expect == "success")
    expected = step.expect
    output = "\n".join(transcript)
    if step.output is not None:
        expected += f", printing {step.output!r}"
        if step.output not in done.output:
            got += f", without {step.output!r}"
            passed = False
    if not ran_all:
        got += f" at command {len(transcript)} of {len(step.commands)}"
    return _result(index, step, "run", step.commands, expected, got, passed, output)


def _result(index: int, step: Step, kind: str, commands: list[str], expected: str, got: str,
            passed: bool, output: str) -> StepResult:
    return StepResult(index=index, title=step.title, kind=kind, where=step.where, commands=commands,
                      expected=expected, got=got, passed=passed, output=output.strip(), note=step.note,
                      section=step.section, line=step.line)


def _skipped(index: int, step: Step) -> StepResult:
    kind = "ping" if isinstance(step, PingStep) else "run"
    commands = [ping_command(step.target, step.deadline)] if isinstance(step, PingStep) else step.commands
    return StepResult(index=index, title=step.title, kind=kind, where=step.where, commands=commands,
                      expected=step.expect, got="skipped", passed=False, note=step.note,
                      section=step.section, line=step.line, skipped=True)
