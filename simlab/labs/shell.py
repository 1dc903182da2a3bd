"""A long-lived shell in a host, fed scripts on its standard input.

An exec costs tens of milliseconds (the runtime joins the container's
namespaces for each one), more than most tutorial commands take. So simlab
keeps one ``sh`` per host for the steps, captures and setup of a run: each
script goes in as text, runs in a subshell with its input from /dev/null
(so nothing it runs can read the shell's own input), and a line with a
fresh token marks its end. A shell that dies (a step that kills every
process of its host) is replaced by a new one for the next script; closing
the shell's input ends it, so a kept lab keeps no simlab process.
"""

from __future__ import annotations

import base64
import shlex
import threading
import uuid
from collections.abc import Iterator

from simlab.engines.client import EXEC_ATTEMPTS, Engine, ExecResult, ExecSession, never_started
from simlab.errors import EngineError

MARK = "@@simlab"
OPEN_TIMEOUT = 60.0  # seconds for a new shell to answer (a loaded engine starts execs slowly)
KILL_GRACE = 1  # seconds between the TERM and the KILL of a command past its limit

# How a host's shell runs one command, for a batch of steps (runs/script.py) and for run()
# alike: `run NETNS COMMAND LIMIT` under timeout, then `record STEP INDEX` prints its line.
# A file of its own per command: a background process keeps writing to its own one (all are
# removed when the script ends, where a shell's `rm` before each command cost a fork and an
# exec). Clock and record without `$(...)`: /proc/uptime (centiseconds; the engine host's
# uptime, never below 1 s) is read by the shell itself, where `date` cost a fork and an exec
# twice per command; an output only when there is one. A third of the shell's CPU per command.
PRELUDE = f"""\
n=0
trap 'rm -f /tmp/.simlab-out-$$-*' EXIT
run() {{
  read t0 _ </proc/uptime
  n=$((n+1)); out=/tmp/.simlab-out-$$-$n
  if [ -n "$1" ]; then timeout -k {KILL_GRACE} "$3" ip netns exec "$1" sh -c "$2" >"$out" 2>&1 </dev/null
  else timeout -k {KILL_GRACE} "$3" sh -c "$2" >"$out" 2>&1 </dev/null; fi
  rc=$?
  read t1 _ </proc/uptime
  ms=$(( (${{t1%.*}}${{t1#*.}} - ${{t0%.*}}${{t0#*.}}) * 10 ))
}}
record() {{ printf '{MARK} cmd %s %s %s %s ' "$1" "$2" "$rc" "$ms"; if [ -s "$out" ]; then base64 <"$out" | tr -d '\\n'; fi; echo; }}
"""


def command_record(words: list[str]) -> tuple[int, int, int, float, str]:
    """(step, command, exit code, seconds, output) of a `record` line, split at spaces:
    "@@simlab cmd STEP COMMAND EXIT_CODE MILLISECONDS [OUTPUT_B64]"."""
    _, _, step, command, code, millis, *encoded = words
    output = base64.b64decode(encoded[0]).decode(errors="replace") if encoded and encoded[0] else ""
    return int(step), int(command), int(code), int(millis) / 1000, output


class HostShell:
    """The shell of one host container; one script at a time (callers in several threads wait)."""

    def __init__(self, engine: Engine, container: str, env: dict[str, str] | None = None) -> None:
        self._engine, self._container, self._env = engine, container, env
        self._session: ExecSession | None = None
        self._lock = threading.Lock()

    def lines(self, script: str, idle_timeout: float) -> Iterator[bytes]:
        """Run ``script`` and yield each line it prints, as it comes; the iteration ends with
        the script (or with the shell, if the script ended it). EngineTimeout after
        ``idle_timeout`` seconds without output. A caller that stops early loses the shell:
        the next script gets a new one."""
        if not self._lock.acquire(timeout=idle_timeout):
            raise EngineError(f"the shell of container {self._container[:12]} stayed busy for {idle_timeout:g} s")
        try:
            session = self._session or self._open()
            token = uuid.uuid4().hex
            session.send(f"(\n{script}\n) </dev/null\nprintf '\\n{MARK} done {token}\\n'\n".encode())
            finished = False
            try:
                pending = b""
                for out, _err in session.output(idle_timeout):
                    if not out:
                        continue
                    *complete, pending = (pending + out).split(b"\n")
                    for line in complete:
                        if line == f"{MARK} done {token}".encode():
                            finished = True
                            return
                        yield line
                finished = True  # the stream ended: the shell is gone
                self._drop()
            finally:
                if not finished:  # abandoned mid-script: its output would reach the next one
                    self._drop()
        finally:
            self._lock.release()

    def run(self, command: str, netns: str | None = None, timeout: float = 60.0) -> ExecResult:
        """Run one shell command (in ``netns`` when given) and return its exit code and output,
        like an exec of its own; it is ended after ``timeout`` seconds."""
        script = f"{PRELUDE}run {shlex.quote(netns or '')} {shlex.quote(command)} {timeout:g}; record 0 0"
        result = None
        for line in self.lines(script, timeout + KILL_GRACE + 15):  # to its end: the shell stays usable
            words = line.decode(errors="replace").split(" ")
            if len(words) >= 6 and words[:2] == [MARK, "cmd"]:
                _, _, code, _, output = command_record(words)
                result = ExecResult(code, output)
        if result is None:
            raise EngineError(f"the shell of container {self._container[:12]} ended before `{command}` did")
        return result

    def open(self) -> None:
        """Start the shell now (it is otherwise started by its first script)."""
        with self._lock:
            if self._session is None:
                self._open()

    def close(self) -> None:
        """End the shell (a script running in another thread ends with it)."""
        self._drop()

    def _open(self) -> ExecSession:
        """A new shell, once it has answered (an exec the runtime could not start is tried again)."""
        for attempt in range(EXEC_ATTEMPTS):
            session = self._engine.open_session(self._container, ["sh"], self._env)
            session.send(f"printf '{MARK} ready\\n'\n".encode())
            seen = b""
            for out, err in session.output(OPEN_TIMEOUT):
                seen += out or err or b""
                if f"{MARK} ready\n".encode() in seen:
                    self._session = session
                    return session
            session.close()
            if not never_started(session.exit_code(), seen.decode(errors="replace")) or attempt == EXEC_ATTEMPTS - 1:
                break
        raise EngineError(f"no shell could be started in container {self._container[:12]}: "
                          f"{seen.decode(errors='replace').strip() or 'it ended at once'}")

    def _drop(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
