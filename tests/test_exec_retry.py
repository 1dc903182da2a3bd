"""An exec the runtime could not start (dockerd under heavy load: "OCI runtime exec failed:
... setns process: exit status 1", exit 126) never ran its command: it is tried again. Any
other outcome is the command's own and is never repeated."""

from __future__ import annotations

import os
import subprocess

from simlab.engines.client import Engine, ExecResult
from simlab.labs.lab import Lab
from simlab.model.scenario import RunStep
from simlab.runs.script import run_batch

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


def test_a_shell_the_runtime_could_not_start_is_started_again_and_then_kept():
    engine = FlakyEngine(failures=2)
    lab = Lab("l", engine, {"a": "c"})
    step = RunStep(title="t", host="a", commands=["echo hello", "cd /; x=1"])
    runs = list(run_batch(lab, "a", [step]))
    assert engine.calls == 3
    assert [(c.exit_code, c.output) for c in runs[0].commands] == [(0, "hello"), (0, "")]
    # the next batch and a capture's command reuse that shell, each in a subshell of its own
    again = list(run_batch(lab, "a", [RunStep(title="u", host="a", commands=['echo "${x:-unset} $PWD" && exit 3'])]))
    assert [(c.exit_code, c.output) for c in again[0].commands] == [(3, f"unset {os.getcwd()}")]
    assert lab.shell("a").run("read line; echo $? from stdin") == ExecResult(0, "1 from stdin\n")
    assert engine.calls == 3
    lab.close_shells()
    assert engine.sessions[0].proc.poll() is not None


def test_a_shell_that_dies_is_replaced_for_the_next_script():
    engine = FlakyEngine(failures=0)
    lab = Lab("l", engine, {"a": "c"})
    assert lab.shell("a").run("true").exit_code == 0
    killer = RunStep(title="t", host="a", commands=[f"kill -9 {engine.sessions[0].proc.pid}"])
    killed = list(run_batch(lab, "a", [killer]))  # the subshell still reports; its shell is gone
    assert [c.exit_code for run in killed for c in run.commands] == [0]
    runs = list(run_batch(lab, "a", [RunStep(title="u", host="a", commands=["echo back"])]))
    assert [(c.exit_code, c.output) for c in runs[0].commands] == [(0, "back")] and engine.calls == 2


def test_exec_tries_again_only_when_the_command_never_ran():
    engine = FlakyEngine(failures=1)
    assert engine.exec("c", ["sh", "-c", "exit 126"]) == ExecResult(126, "")  # the command's own 126
    assert engine.calls == 2
    engine = FlakyEngine(failures=5)
    result = engine.exec("c", ["true"])
    assert result.exit_code == 126 and engine.calls == 3  # given up after three tries
