"""`simlab run` on the real engine: shipped scenarios pass, a wrong
expectation fails with a report that names it, and nothing is left behind."""

from __future__ import annotations

import json

import pytest

from conftest import DATA, simlab
from simlab.model.scenario import shipped_scenarios

WRONG = DATA / "scenarios" / "wrong-expectation.yaml"


@pytest.mark.parametrize("name", [p.stem for p in shipped_scenarios()])
def test_shipped_scenario_passes(engine, name, lab_name, no_leftovers):
    done = simlab("run", name, "--name", lab_name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{name}: PASSED" in done.stdout
    assert "✘" not in done.stdout


def test_wrong_expectation_fails_with_a_report(engine, lab_name, no_leftovers, tmp_path):
    report = tmp_path / "result.json"
    done = simlab("run", str(WRONG), "--name", lab_name, "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "✘ expected no-reply, got reply" in out
    assert "| 64 bytes from 10.0.0.2" in out  # the command's output, shown on failure
    assert f"step 3 ({WRONG}:18) b stays silent (it does not): expected no-reply, got reply" in out
    assert f"step 5 ({WRONG}:27) this command fails unexpectedly: expected success, got failure (exit 1) at command 2 of 3" in out
    assert "wrong-expectation: FAILED: 3 passed, 2 failed, 1 skipped" in out
    steps = json.loads(report.read_text())["steps"]
    assert [(s["title"], s["passed"], s["skipped"]) for s in steps] == [
        ("a reaches b", True, False), ("a command that prints", True, False),
        ("b stays silent (it does not)", False, False), ("a failing command fails", True, False),
        ("this command fails unexpectedly", False, False), ("never runs", False, True)]
    assert steps[3]["got"] == "failure (exit 1)" and "Cannot find device" in steps[3]["output"]


def test_json_to_stdout_carries_every_step(engine, lab_name, no_leftovers):
    done = simlab("run", "gateway-nat", "--name", lab_name, "--json", "-")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # progress went to stderr: stdout is only JSON
    assert result["passed"] is True and result["scenario"] == "gateway-nat" and result["lab"] == lab_name
    assert len(result["steps"]) == 16
    assert {s["got"].partition(":")[0] for s in result["steps"]} == {"success", "reply", "unreachable", "no-reply"}
    assert {s["reason"] for s in result["steps"]} == {"", "net", "local"}
    for step in result["steps"]:
        assert step["passed"] and step["commands"] and step["where"] and step["duration"] >= 0


def test_keep_leaves_the_lab_up_until_down(engine, lab_name, no_leftovers):
    done = simlab("run", str(WRONG), "--name", lab_name, "--keep")
    assert done.returncode == 1
    assert f"simlab shell {lab_name} a" in done.stdout and f"simlab down {lab_name}" in done.stdout
    try:
        ping = simlab("exec", lab_name, "a", "--", "ping", "-c1", "-W2", "10.0.0.2")
        assert ping.returncode == 0
    finally:
        assert simlab("down", lab_name).returncode == 0


def test_bad_scenario_file_exits_2_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  a: {}\nsteps:\n  - title: x\n    host: a\n    ping: 10.0.0.1\n    expect: maybe\n")
    done = simlab("run", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"simlab: error: {bad}:7:13: steps[0].expect: a ping step expects one of reply, "
                                   f"no-reply, unreachable, not 'maybe'")


def test_unknown_scenario_exits_2():
    done = simlab("run", "no-such-scenario")
    assert done.returncode == 2 and "`simlab list`" in done.stderr


def test_no_engine_is_one_clear_line(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock", "PATH": "/usr/bin:/bin"}
    done = simlab("ls", env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"simlab: error: No Docker engine answers at unix://{tmp_path}/nothing.sock")


def test_list_describes_shipped_scenarios():
    done = simlab("list", check=True)
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == [p.stem for p in shipped_scenarios()]


def test_step_pauses_before_each_step(engine, lab_name, no_leftovers):
    scenario = DATA / "mixed" / "passing.yaml"
    done = simlab("run", str(scenario), "--name", lab_name, "--step", input="\n\n\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("press Enter to run this step") == 3
    # each pause comes after its step's title and before its outcome
    first = done.stdout.index("1. a reaches b")
    assert first < done.stdout.index("press Enter") < done.stdout.index("✔ reply")
