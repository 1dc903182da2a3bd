"""An exec the runtime could not start (dockerd under heavy load: "OCI runtime exec failed:
... setns process: exit status 1", exit 126) never ran its command: it is tried again. Any
other outcome is the command's own and is never repeated."""

from __future__ import annotations

import subprocess

from simlab.runs.script import run_batch
from simlab.engines.client import Engine, ExecResult
from simlab.labs.lab import Lab
from simlab.model.scenario import RunStep

NOT_STARTED = b"OCI runtime exec failed: exec failed: unable to start container process: setns process: exit status 1"


class FlakyEngine(Engine):
    """Fails to start the first ``failures`` execs, then runs them in this machine's shell."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def exec_stream(self, container_id, argv, env=None, idle_timeout=None):
        self.calls += 1
        if self.calls <= self.failures:
            return iter([(NOT_STARTED + b"\r\n", None)]), lambda: 126
        done = subprocess.run(argv, capture_output=True, timeout=30)
        return iter([(done.stdout, None)]), lambda: done.returncode


def test_a_batch_the_runtime_could_not_start_is_started_again():
    engine = FlakyEngine(failures=2)
    step = RunStep(title="t", host="a", commands=["echo hello"])
    runs = list(run_batch(Lab("l", engine, {"a": "c"}), "a", [step]))
    assert engine.calls == 3
    assert [(c.exit_code, c.output) for c in runs[0].commands] == [(0, "hello")]  # all records in one chunk


def test_exec_tries_again_only_when_the_command_never_ran():
    engine = FlakyEngine(failures=1)
    assert engine.exec("c", ["sh", "-c", "exit 126"]) == ExecResult(126, "")  # the command's own 126
    assert engine.calls == 2
    engine = FlakyEngine(failures=5)
    result = engine.exec("c", ["true"])
    assert result.exit_code == 126 and engine.calls == 3  # given up after three tries
