"""The Python API: scenarios built in code, labs in a with block, typed outcomes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import simlab
from conftest import DATA, ROOT

PAIR = (simlab.Builder("pair")
        .host("a", interfaces={"eth0": "10.0.0.1/24"})
        .host("b", interfaces={"eth0": "10.0.0.2/24"})
        .link("a:eth0", "b:eth0"))


def test_import_simlab_is_light():
    done = subprocess.run([sys.executable, "-c", "import sys, simlab; print(sorted(m for m in sys.modules "
                           "if m.startswith(('docker', 'yaml', 'simlab.'))))"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "['simlab.errors']"


def test_a_builder_is_checked_as_a_file_is():
    bad = (simlab.Builder("bad")
           .host("a", interfaces={"eth0": "10.0.0.1"})
           .link("a:eth0", "c:eth0")
           .ping("a reaches b", "a", "10.0.0.2", expect="answer"))
    with pytest.raises(simlab.InputError) as raised:
        bad.scenario()
    assert str(raised.value).splitlines() == [
        "bad built in code: hosts.a.interfaces.eth0: address '10.0.0.1' needs a prefix length, like 10.0.0.1/24",
        "bad built in code: links[0][1]: unknown host 'c' in 'c:eth0' (hosts: a)",
        "bad built in code: steps[0].expect: a ping step expects one of reply, no-reply, unreachable, not 'answer'",
    ]


def test_a_builder_makes_the_same_scenario_as_its_yaml():
    built = (simlab.Builder("passing", description="two hosts on a link reach each other")
             .host("a", interfaces={"eth0": "10.0.0.1/24"})
             .host("b", interfaces={"eth0": "10.0.0.2/24"})
             .link("a:eth0", "b:eth0")
             .ping("a reaches b", "a", "10.0.0.2")
             .ping("b reaches a", "b", "10.0.0.1")
             .run("quotes, variables and arithmetic reach the shell intact", "a",
                  """printf '%s|' "it's" "$((1+1))" "$HOSTNAME\"""", output="it's|2|a|")).scenario()
    loaded = simlab.load(DATA / "mixed" / "passing.yaml")
    assert built.topology == loaded.topology
    for mine, theirs in zip(built.steps, loaded.steps, strict=True):
        mine.line = theirs.line = 0
        assert mine == theirs


def test_load_takes_a_shipped_name_and_says_what_is_wrong():
    assert simlab.load("gateway-nat").name == "gateway-nat"
    with pytest.raises(simlab.InputError, match="no shipped scenario of that name"):
        simlab.load("no-such-scenario")


def test_a_lab_built_in_code_answers_and_goes_away(engine, lab_name, no_leftovers):
    events = []
    with simlab.lab(PAIR, engine=engine, name=lab_name, emit=events.append) as lab:
        assert lab.hosts == ["a", "b"]
        assert "10.0.0.1/24" in lab.exec("a", "ip -br addr show eth0").output
        reply = lab.ping("a", "10.0.0.2")
        assert (reply.passed, reply.got, reply.kind, reply.where) == (True, "reply", "ping", "a")
        assert "1 received" in reply.output
        wrong = lab.ping("a", "10.0.0.2", expect="no-reply")
        assert (wrong.passed, wrong.expected, wrong.got) == (False, "no-reply", "reply")
        lab.exec("a", "ip netns add red")
        assert lab.ping("a", "10.0.0.2", netns="red", expect="unreachable").passed
        state = lab.inspect().to_dict()
        eth0 = state["hosts"]["a"]["root"]["interfaces"]["eth0"]
        assert "10.0.0.1/24" in eth0["addresses"] and eth0["peer"]["host"] == "b"
        assert "red" in state["hosts"]["a"]["netns"]
        with pytest.raises(simlab.InputError, match="has no host 'c'"):
            lab.ping("c", "10.0.0.2")
    assert any(e.kind == "lab.up" for e in events)
    assert engine.containers({"simlab.lab": lab_name}) == []


@pytest.mark.parametrize("raised", [RuntimeError("boom"), KeyboardInterrupt()])
def test_the_lab_is_removed_when_the_block_raises(engine, lab_name, no_leftovers, raised):
    with pytest.raises(type(raised)):
        with simlab.lab(PAIR, engine=engine, name=lab_name):
            assert engine.containers({"simlab.lab": lab_name})
            raise raised
    assert engine.containers({"simlab.lab": lab_name}) == []


def test_run_and_validate_return_results(engine, lab_name, no_leftovers):
    result = simlab.run(DATA / "mixed" / "passing.yaml", engine=engine, name=lab_name)
    assert (result.passed, result.lab, len(result.steps)) == (True, lab_name, 3)
    results = simlab.validate([DATA / "mixed" / "failing.yaml", DATA / "mixed" / "malformed.yaml"], engine=engine)
    assert [(r.scenario, r.verdict) for r in results] == [("malformed", "ERROR"), ("failing", "FAILED")]


def test_a_progress_callback_that_fails_keeps_no_lab(engine, lab_name, no_leftovers):
    def emit(event):
        if event.kind == "lab.down":
            raise OSError("the terminal went away")
    with pytest.raises(OSError):
        simlab.run(DATA / "mixed" / "passing.yaml", engine=engine, name=lab_name, emit=emit)
    assert engine.containers({"simlab.lab": lab_name}) == []


def test_the_api_example_runs(engine, no_leftovers):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "api_pair.py")], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10.0.0.2: reply; 10.0.0.9: no-reply" in done.stdout
    assert "pair: PASSED, 2 steps" in done.stdout
