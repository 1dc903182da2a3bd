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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from simlab.engines.client import EXEC_ATTEMPTS, Deadline, ExecResult, never_started
from simlab.engines.interface import EngineAPI, Session
from simlab.errors import EngineError

MARK = "@@simlab"
OPEN_TIMEOUT = 60.0  # seconds for a new shell to answer (a loaded engine starts execs slowly)
KILL_GRACE = 1  # seconds between the TERM and the KILL of a command past its limit

MAX_OUTPUT = 1 << 20  # bytes of a command's output kept and judged; the rest is counted and cut
MAX_LINE = 4 << 20  # bytes of one line of a script's output (a record is at most MAX_OUTPUT, base64)

# How a host's shell runs one command, for a batch of steps (runs/script.py) and for run()
# alike: `run NETNS COMMAND LIMIT` under timeout, then `record STEP INDEX` prints its line.
# A file of its own per command: a background process keeps writing to its own one (all are
# removed when the script ends, where a shell's `rm` before each command cost a fork and an
# exec). Clock and record without `$(...)`: /proc/uptime (centiseconds; the engine host's
# uptime, never below 1 s) is read by the shell itself, where `date` cost a fork and an exec
# twice per command; an output only when there is one. A third of the shell's CPU per command.
# The output file is opened by the shell (fd 3) and shared with the command, so the shell
# reads how much it wrote from its own fd's offset (/proc/self/fdinfo/3), again without a
# fork; only the first MAX_OUTPUT bytes travel back.
PRELUDE = f"""\
n=0
trap 'rm -f /tmp/.simlab-out-$$-*' EXIT
run() {{
  read t0 _ </proc/uptime
  n=$((n+1)); out=/tmp/.simlab-out-$$-$n
  exec 3>"$out"
  if [ -n "$1" ]; then timeout -k {KILL_GRACE} "$3" ip netns exec "$1" sh -c "$2" >&3 2>&1 </dev/null
  else timeout -k {KILL_GRACE} "$3" sh -c "$2" >&3 2>&1 </dev/null; fi
  rc=$?
  read t1 _ </proc/uptime
  size=0; read _ size </proc/self/fdinfo/3
  exec 3>&-
  ms=$(( (${{t1%.*}}${{t1#*.}} - ${{t0%.*}}${{t0#*.}}) * 10 ))
}}
kept() {{ head -c {MAX_OUTPUT} "$out"; }}
record() {{
  printf '{MARK} cmd %s %s %s %s %s ' "$1" "$2" "$rc" "$ms" "$size"
  if [ -s "$out" ]; then kept | base64 | tr -d '\\n'; fi
  echo
}}
"""


@dataclass
class Record:
    """One command as a host's shell ran it (a `record` line)."""

    step: int
    command: int
    exit_code: int
    seconds: float
    output: str
    cut: int  # bytes it printed past MAX_OUTPUT


def command_record(words: list[str]) -> Record:
    """A `record` line split at spaces:
    "@@simlab cmd STEP COMMAND EXIT_CODE MILLISECONDS SIZE [OUTPUT_B64]" (SIZE: all it wrote)."""
    _, _, step, command, code, millis, size, *encoded = words
    data = base64.b64decode(encoded[0]) if encoded and encoded[0] else b""
    cut = max(int(size or 0) - len(data), 0) if len(data) >= MAX_OUTPUT else 0
    return Record(int(step), int(command), int(code), int(millis) / 1000, data.decode(errors="replace"), cut)


def cut_note(cut: int) -> str:
    """What a report says of output past MAX_OUTPUT."""
    return f"output cut at {MAX_OUTPUT >> 20} MiB ({cut} bytes more)"


class HostShell:
    """The shell of one host container; one script at a time (callers in several threads wait)."""

    def __init__(self, engine: EngineAPI, container: str, env: dict[str, str] | None = None) -> None:
        self._engine, self._container, self._env = engine, container, env
        self._session: Session | None = None
        self._lock = threading.Lock()

    def lines(self, script: str, idle_timeout: float, deadline: Deadline | None = None) -> Iterator[bytes]:
        """Run ``script`` and yield each line it prints, as it comes; the iteration ends with
        the script (or with the shell, if the script ended it). EngineTimeout after
        ``idle_timeout`` seconds without output, and once ``deadline`` (which the caller may
        move) has passed. A line over MAX_LINE bytes is dropped (none of simlab's records is
        that long). A caller that stops early loses the shell: the next script gets a new one."""
        if not self._lock.acquire(timeout=idle_timeout):
            raise EngineError(f"the shell of container {self._container[:12]} stayed busy for {idle_timeout:g} s")
        try:
            session = self._session or self._open()
            token = uuid.uuid4().hex
            session.send(f"(\n{script}\n) </dev/null\nprintf '\\n{MARK} done {token}\\n'\n".encode())
            if deadline is not None:  # it counts from the script's start, not from the wait for the shell
                deadline.renew(deadline.seconds)
            finished = False
            try:
                end = f"{MARK} done {token}".encode()
                for line in _split_lines(session.output(idle_timeout, deadline)):
                    if line == end:
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
        limit = timeout + KILL_GRACE + 15
        for line in self.lines(script, limit, Deadline(limit)):  # to its end: the shell stays usable
            words = line.decode(errors="replace").split(" ")
            if len(words) >= 7 and words[:2] == [MARK, "cmd"]:
                record = command_record(words)
                note = f"\n[{cut_note(record.cut)}]" if record.cut else ""
                result = ExecResult(record.exit_code, record.output + note, record.cut)
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

    def _open(self) -> Session:
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


def _split_lines(chunks: Iterable[tuple[bytes | None, bytes | None]]) -> Iterator[bytes]:
    """The lines of a stream's standard output, each split once (time linear in the stream);
    a line longer than MAX_LINE is dropped whole."""
    pending, overlong = bytearray(), False
    for out, _err in chunks:
        if not out:
            continue
        start = 0
        while (end := out.find(b"\n", start)) >= 0:
            if not overlong and len(pending) + end - start <= MAX_LINE:
                pending += out[start:end]
                yield bytes(pending)
            pending.clear()
            overlong, start = False, end + 1
        if not overlong and len(pending) + len(out) - start <= MAX_LINE:
            pending += out[start:]
        else:
            pending.clear()
            overlong = True
