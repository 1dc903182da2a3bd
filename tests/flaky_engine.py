"""An engine whose first execs the runtime cannot start ("OCI runtime exec failed: ...
setns process: exit status 1", exit 126), then runs them in this machine's shell: the
stand-in of a loaded dockerd (engines/test_exec_retry.py, runs/test_bounds.py)."""

from __future__ import annotations

import os
import subprocess

from simlab.engines.client import Engine

NOT_STARTED = b"OCI runtime exec failed: exec failed: unable to start container process: setns process: exit status 1"


class LocalSession:
    """An ExecSession of a shell on this machine (the test's stand-in for a host's)."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def output(self, idle_timeout, deadline=None):
        while (data := os.read(self.proc.stdout.fileno(), 65536)):
            yield data, None

    def exit_code(self) -> int:
        return self.proc.wait(5)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class NeverStarted:
    def send(self, data: bytes) -> None:
        pass

    def output(self, idle_timeout, deadline=None):
        yield NOT_STARTED + b"\r\n", None

    def exit_code(self) -> int:
        return 126

    def close(self) -> None:
        pass


class FlakyEngine(Engine):
    """Fails to start the first ``failures`` execs, then runs them in this machine's shell."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.sessions: list[LocalSession] = []

    def open_session(self, container_id, argv, env=None):
        self.calls += 1
        if self.calls <= self.failures:
            return NeverStarted()
        self.sessions.append(LocalSession(argv))
        return self.sessions[-1]

    def exec_stream(self, container_id, argv, env=None, idle_timeout=None):
        self.calls += 1
        if self.calls <= self.failures:
            return iter([(NOT_STARTED + b"\r\n", None)]), lambda: 126
        done = subprocess.run(argv, capture_output=True, timeout=30)
        return iter([(done.stdout, None)]), lambda: done.returncode
