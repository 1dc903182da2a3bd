"""An exec the runtime could not start (dockerd under heavy load: "OCI runtime exec failed:
... setns process: exit status 1", exit 126) never ran its command: it is tried again. Any
other outcome is the command's own and is never repeated."""

from __future__ import annotations

import os

from flaky_engine import FlakyEngine
from simlab.engines.client import ExecResult
from simlab.labs.lab import Lab
from simlab.model.scenario import RunStep
from simlab.runs.script import run_batch


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
