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

Records (one line each, the output base64-encoded):
    @@simlab cmd STEP COMMAND EXIT_CODE MILLISECONDS OUTPUT_B64
    @@simlab end STEP
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from simlab.checks import PING_ENV, ping_command
from simlab.lab import Lab
from simlab.scenario import PingStep, RunStep, Step

MARK = "@@simlab"
DEFAULT_STEP_TIMEOUT = 60.0  # seconds a step may take unless it says otherwise (key `timeout`)
KILL_GRACE = 1  # seconds between the TERM and the KILL of a command past its limit
TIMED_OUT = (124, 137)  # timeout's exit codes: after TERM, after KILL
ENGINE_SLACK = 15.0  # seconds an exec may stay silent beyond its longest step, for a loaded engine

# A fresh file per command: a background process keeps writing to its own (unlinked) one.
# Clock and record without `$(...)`: /proc/uptime (centiseconds; the engine host's uptime,
# never below 1 s) is read by the shell itself, where `date` cost a fork and an exec twice
# per command; half the shell's CPU per command.
PRELUDE = f"""\
out=/tmp/.simlab-out-$$
trap 'rm -f "$out"' EXIT
run() {{
  read t0 _ </proc/uptime
  rm -f "$out"
  if [ -n "$1" ]; then timeout -k {KILL_GRACE} "$3" ip netns exec "$1" sh -c "$2" >"$out" 2>&1 </dev/null
  else timeout -k {KILL_GRACE} "$3" sh -c "$2" >"$out" 2>&1 </dev/null; fi
  rc=$?
  read t1 _ </proc/uptime
  ms=$(( (${{t1%.*}}${{t1#*.}} - ${{t0%.*}}${{t0#*.}}) * 10 ))
}}
record() {{ printf '{MARK} cmd %s %s %s %s ' "$1" "$2" "$rc" "$ms"; base64 <"$out" | tr -d '\\n'; echo; }}
"""


@dataclass
class CommandRun:
    command: str
    exit_code: int
    output: str
    seconds: float = 0.0


@dataclass
class StepRun:
    """What one step's commands did (fewer than it has when the batch stopped inside it)."""

    step: Step
    commands: list[CommandRun] = field(default_factory=list)


def step_commands(step: Step) -> list[str]:
    if isinstance(step, PingStep):
        return [ping_command(step.target, step.deadline)]
    return list(step.commands)


def step_timeout(step: Step, default: float = DEFAULT_STEP_TIMEOUT) -> float:
    """Seconds each command of ``step`` may take: its own ``timeout``, else ``default``
    (a ping bounds itself: its deadline, and some slack)."""
    if step.timeout is not None:
        return step.timeout
    return step.deadline + 5 if isinstance(step, PingStep) else default


def timed_out(step: Step, run: CommandRun, default: float = DEFAULT_STEP_TIMEOUT) -> bool:
    """Whether ``run`` was ended by its step's time limit."""
    return run.exit_code in TIMED_OUT and run.seconds >= step_timeout(step, default) - 0.05


def batch_script(steps: list[Step], default_timeout: float = DEFAULT_STEP_TIMEOUT) -> str:
    """The shell script that runs ``steps`` in order and reports each command."""
    lines = [PRELUDE]
    for s, step in enumerate(steps):
        ns = shlex.quote(step.netns or "")
        commands = step_commands(step)
        limit = f"{step_timeout(step, default_timeout):g}"
        for c, command in enumerate(commands):
            lines.append(f"run {ns} {shlex.quote(command)} {limit}; record {s} {c}")
            if isinstance(step, RunStep):
                lines.append(_stop_unless_expected(step, last=c == len(commands) - 1))
        lines.append(f"printf '{MARK} end {s}\\n'")
    return "\n".join(lines) + "\n"


def _stop_unless_expected(step: RunStep, last: bool) -> str:
    if not last or step.expect == "success":
        stop = '[ "$rc" -eq 0 ] || exit 0'
    else:
        stop = '[ "$rc" -ne 0 ] || exit 0'
    if last and step.output is not None:
        stop += f'; case "$(cat "$out")" in *{shlex.quote(step.output)}*) ;; *) exit 0 ;; esac'
    return stop


def run_batch(lab: Lab, host: str, steps: list[Step], default_timeout: float = DEFAULT_STEP_TIMEOUT
              ) -> Iterator[StepRun]:
    """Run ``steps`` on ``host`` in one exec, yielding each StepRun as soon as it is done.
    Every command ends within its step's limit, so the exec is given up (EngineTimeout) when
    it stays silent longer than the longest limit and some slack."""
    silence = max(step_timeout(step, default_timeout) for step in steps) + KILL_GRACE + ENGINE_SLACK
    stream, exit_code = lab.engine.exec_stream(lab.container(host), ["sh", "-c", batch_script(steps, default_timeout)],
                                               env=PING_ENV, idle_timeout=silence)
    runs = [StepRun(step) for step in steps]
    pending = b""
    current = 0
    for out, _err in stream:
        if not out:
            continue
        pending += out
        *lines, pending = pending.split(b"\n")
        for line in lines:
            kind, index, payload = _parse(line)
            if kind == "cmd":
                command, code, seconds, output = payload
                runs[index].commands.append(
                    CommandRun(step_commands(steps[index])[command], code, output, seconds))
            elif kind == "end":
                current = index + 1
                yield runs[index]
    if current < len(runs):
        exit_code()  # an EngineError when the engine itself is gone, rather than a failed step
        if runs[current].commands:
            yield runs[current]  # the step the script stopped in


def _parse(line: bytes) -> tuple[str, int, tuple[int, int, float, str] | None]:
    """('cmd', step, (command, exit code, seconds, output)), ('end', step, None), or ('', -1, None)."""
    words = line.decode(errors="replace").split(" ")
    if len(words) < 3 or words[0] != MARK:
        return "", -1, None
    if words[1] == "end":
        return "end", int(words[2]), None
    _, _, step, command, code, millis, *encoded = words
    output = base64.b64decode(encoded[0]).decode(errors="replace") if encoded and encoded[0] else ""
    output = output.rstrip("\n")  # as the shell's $(...) would give it
    return "cmd", int(step), (int(command), int(code), int(millis) / 1000, output)
