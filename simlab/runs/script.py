"""Run a run of consecutive steps on one host in a single exec.

Each ``docker exec`` costs tens of milliseconds, more than most tutorial
commands take. So the runner hands the steps it can run back to back on one
host to a small POSIX shell script, run in one exec, which runs every
command (in its namespace when the step has one) and streams one record per
command and one per finished step. The script stops where the runner would
stop the story: at the first run step that does not go as expected.

Each command runs under ``timeout`` (the step's time limit), with its output in a file, not a
pipe: a command that leaves a process in the background (``server &``) does not hold the step
open, and one that blocks is ended at its limit.

Each command's output is kept up to MAX_OUTPUT bytes (the rest counted, cut and noted in its
result), and each step has a deadline for its records to come back (its commands' limits and
some slack), however much output still arrives.

Records (one line each, the output base64-encoded):
    @@simlab cmd STEP COMMAND EXIT_CODE MILLISECONDS SIZE OUTPUT_B64
    @@simlab after STEP OUTPUT_B64   (what the caller's after-step commands printed)
    @@simlab clock STEP SECONDS      (the engine's clock as a step with packet evidence starts)
    @@simlab end STEP
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Iterator
from typing import Literal

from simlab.engines.client import Deadline
from simlab.labs.lab import Lab
from simlab.labs.shell import KILL_GRACE, MARK, PRELUDE, command_record, cut_note
from simlab.steps import CommandRun, Step, StepRun, kind_of
from simlab.steps.base import DEFAULT_STEP_TIMEOUT

TIMED_OUT = (124, 137)  # timeout's exit codes: after TERM, after KILL
TIMED_OUT_SLACK = 0.05  # a command that ran this close to its limit and exited 124 or 137 was stopped by it
ENGINE_SLACK = 15.0  # seconds an exec may stay silent beyond its longest step, for a loaded engine


AfterStep = Callable[[Step], "str | None"]  # shell commands to run after a step, or None
# One line of a batch's output: its kind, the step's index and what it carries (see _parse).
_Record = (tuple[Literal["cmd"], int, tuple[int, int, float, str, int]] | tuple[Literal["after"], int, str]
           | tuple[Literal["clock"], int, float | None] | tuple[Literal["end", ""], int, None])


def step_commands(step: Step) -> list[str]:
    return kind_of(step).commands(step)


def shown_commands(step: Step) -> list[str]:
    """The commands as a learner would type them (probe scripts are long; the JSON has them)."""
    return kind_of(step).shown(step)


def runs_alone_after(step: Step) -> bool:
    """Whether nothing may run after ``step`` in the same exec: the runner, not the script,
    retries it (within), stops its packet captures (seen, unseen), or its kind says so."""
    return step.within is not None or bool(step.evidence) or kind_of(step).runs_alone(step)


def step_timeout(step: Step, default: float = DEFAULT_STEP_TIMEOUT) -> float:
    """Seconds each command of ``step`` may take: its own ``timeout``, else its kind's limit."""
    return step.timeout if step.timeout is not None else kind_of(step).time_limit(step, default)


def timed_out(step: Step, run: CommandRun, default: float = DEFAULT_STEP_TIMEOUT) -> bool:
    """Whether ``run`` was ended by its step's time limit."""
    return run.exit_code in TIMED_OUT and run.seconds >= step_timeout(step, default) - TIMED_OUT_SLACK


def batch_script(steps: list[Step], default_timeout: float = DEFAULT_STEP_TIMEOUT, after: AfterStep | None = None
                 ) -> str:
    """The shell script that runs ``steps`` in order and reports each command (and, after each
    step that went as expected, the output of ``after(step)`` when that gives commands)."""
    lines = [PRELUDE]
    extras: dict[str, str] = {}  # each distinct after-step script, defined once as a function
    for s, step in enumerate(steps):
        ns = shlex.quote(step.netns or "")
        commands = step_commands(step)
        limit = f"{step_timeout(step, default_timeout):g}"
        limit_ms = int((step_timeout(step, default_timeout) - TIMED_OUT_SLACK) * 1000)
        if step.evidence:  # its packets count from here (date costs a fork: only for these)
            lines.append(f"printf '{MARK} clock {s} %s\\n' \"$(date +%s.%N)\"")
        for c, command in enumerate(commands):
            lines.append(f"run {ns} {shlex.quote(command)} {limit}; record {s} {c}")
            guard = kind_of(step).guard(step, last=c == len(commands) - 1)
            if guard:  # with what timed_out() judges: ended by the step's time limit
                lines.append(f"timed_out=$(( (rc == 124 || rc == 137) && ms >= {limit_ms} ))")
                lines.append(guard)
        extra = after(step) if after else None
        if extra:
            if extra not in extras:
                extras[extra] = f"after{len(extras)}"
                lines.insert(1, f"{extras[extra]}() {{\n{extra}\n}}")
            run_after = f"({extras[extra]}) 2>/dev/null | base64 | tr -d '\\n'"
            lines.append(f"printf '{MARK} after {s} %s\\n' \"$( {run_after})\"")
        lines.append(f"printf '{MARK} end {s}\\n'")
    return "\n".join(lines) + "\n"


def run_batch(lab: Lab, host: str, steps: list[Step], default_timeout: float = DEFAULT_STEP_TIMEOUT,
              after: AfterStep | None = None) -> Iterator[StepRun]:
    """Run ``steps`` on ``host`` in one script of its shell, yielding each StepRun as soon as it
    is done. Every command ends within its step's limit, so the script is given up
    (EngineTimeout) when it stays silent longer than the longest limit and some slack."""
    silence = max(step_timeout(step, default_timeout) for step in steps) + KILL_GRACE + ENGINE_SLACK
    runs = [StepRun(step) for step in steps]
    current = 0
    deadline = Deadline(step_deadline(steps[0], default_timeout))
    for line in lab.shell(host).lines(batch_script(steps, default_timeout, after), silence, deadline):
        match _parse(line):
            case "cmd", index, (command, code, seconds, output, cut):
                done = CommandRun(step_commands(steps[index])[command], code, output, seconds, cut)
                runs[index].commands.append(done)
            case "after", index, text:
                runs[index].after = text
            case "clock", index, clock:
                runs[index].clock = clock
            case "end", index, _:
                current = index + 1
                if current < len(runs):  # the last one once the script has ended: its shell is free then
                    yield runs[index]
                    deadline.renew(step_deadline(steps[current], default_timeout))
    if current == len(runs):
        yield runs[-1]
    elif runs[current].commands:
        yield runs[current]  # the step the script stopped in


def step_deadline(step: Step, default: float = DEFAULT_STEP_TIMEOUT) -> float:
    """Seconds from a step's start until its last record must be in: each of its commands'
    limits, and slack for a loaded engine (its output is bounded, so reading it is quick)."""
    return len(step_commands(step)) * (step_timeout(step, default) + KILL_GRACE) + ENGINE_SLACK


def cut_notes(commands: list[CommandRun]) -> list[str]:
    """A note for each command whose output was cut (reports show it with the step)."""
    return [cut_note(c.cut) if len(commands) == 1 else f"command {i}: {cut_note(c.cut)}"
            for i, c in enumerate(commands, 1) if c.cut]


def _parse(line: bytes) -> _Record:
    """('cmd', step, (command, exit code, seconds, output, bytes cut)), ('after', step, output),
    ('clock', step, seconds), ('end', step, None), or ('', -1, None)."""
    words = line.decode(errors="replace").split(" ")
    if len(words) < 3 or words[0] != MARK:
        return "", -1, None
    if words[1] == "end":
        return "end", int(words[2]), None
    if words[1] == "clock":
        return "clock", int(words[2]), float(words[3]) if len(words) > 3 else None
    if words[1] == "after":
        return "after", int(words[2]), base64.b64decode(words[3] if len(words) > 3 else "").decode(errors="replace")
    record = command_record(words)
    # The output as the shell's $(...) would give it.
    return "cmd", record.step, (record.command, record.exit_code, record.seconds, record.output.rstrip("\n"),
                                record.cut)
