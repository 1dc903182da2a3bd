"""A PASS never lies: partial loss, a capture that stopped watching, a command that never
ran, a trace that did not arrive, and a step cut by its time limit are never judged as
the step hoped. Each case here was judged wrongly once (issue 18)."""

from __future__ import annotations

import json
import re

import pytest

import simlab
from conftest import DATA
from conftest import simlab as simlab_cli
from simlab.checks.capture import Spot, _not_watching
from simlab.checks.ping import classify_ping, ping_command
from simlab.checks.trace import TracePath
from simlab.model.scenario import scenario_from_data
from simlab.model.yamlsource import Source
from simlab.runs.runner import judge
from simlab.runs.script import batch_script
from simlab.steps import CommandRun, RunStep, StepRun

VERDICTS = DATA / "verdicts"
HALF = ("PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n"
        "64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.071 ms\n"
        "64 bytes from 10.0.0.2: icmp_seq=4 ttl=64 time=0.060 ms\n\n"
        "--- 10.0.0.2 ping statistics ---\n4 packets transmitted, 2 received, 50% packet loss, time 611ms\n")


def test_partial_loss_is_its_own_answer():
    got = classify_ping(1, HALF, count=4)
    assert (got.kind, got.answered, str(got)) == ("partial", 2, "2/4 replies from 10.0.0.2")
    assert not got.meets("no-reply") and not got.meets("reply")
    assert classify_ping(0, HALF.replace("2 received", "4 received"), count=2).kind == "reply"


def test_several_probes_are_exactly_that_many():
    assert " -c 4 -i 0.2 -W 3 " in ping_command("b", 3, count=4)  # -w would keep sending until 4 replies came
    assert " -c 1 -i 0.2 -w 3 " in ping_command("b", 3)


def ping_step(**keys):
    data = {"hosts": {"a": {}}, "steps": [{"title": "t", "host": "a", "ping": "10.0.0.2", **keys}]}
    return scenario_from_data(data, Source("f.yaml"), "f").steps[0]


@pytest.mark.parametrize("keys, message", [
    ({"replies": 2}, "give count (2 or more) and no expect"),
    ({"count": 4, "replies": 2, "expect": "reply"}, "give count (2 or more) and no expect"),
    ({"count": 4, "replies": 5}, "replies is how many of the 4 probes (count) are answered, at most 4"),
    ({"count": 4, "loss": "60-40%"}, "loss is the share of probes lost"),
    ({"count": 4, "loss": "half"}, "loss is the share of probes lost"),
    ({"count": 4, "loss": "50%", "replies": 2}, "give replies or loss, not both"),
])
def test_expected_loss_is_checked_as_a_file_is(keys, message):
    with pytest.raises(simlab.InputError, match=re.escape(message)):
        ping_step(**keys)


def test_expected_loss_is_judged_on_the_answers():
    def run(step):
        return judge(1, StepRun(step, [CommandRun("ping", 1, HALF)]))
    assert run(ping_step(count=4, replies=2)).passed
    assert run(ping_step(count=4, loss="40-60%")).passed
    wrong = run(ping_step(count=4, loss="25%"))
    assert not wrong.passed and (wrong.expected, wrong.got) == ("25% of 4 lost", "2/4 replies")
    assert (wrong.replies, wrong.loss) == (2, 50.0)


def test_a_capture_counts_only_while_it_watched():
    spot = Spot("a", "eth0")
    assert "stopped watching" in _not_watching(spot, "@@capture gone\ntcpdump: listening on eth0\n")
    assert "no statistics" in _not_watching(spot, "@@capture stats \n")
    lost = "@@capture stats 5 packets captured;7 packets dropped by kernel;0 packets dropped by interface;"
    assert _not_watching(spot, lost) == ("capture at a:eth0 lost packets (7 by the kernel): what it saw is not all "
                                         "that crossed")
    assert _not_watching(spot, lost.replace("7 packets", "0 packets")) == ""


def run_step(**keys):
    return RunStep(title="t", host="a", commands=[keys.pop("command", "x")], **keys)


@pytest.mark.parametrize("code, output, why", [
    (127, "sh: 1: ipp: not found", "(command not found, exit 127)"),
    (126, "sh: 1: ./x: Permission denied", "(not executable, exit 126)"),
    (1, 'Cannot open network namespace "ghost": No such file or directory', "no namespace 'ghost' on a"),
])
def test_a_command_that_never_ran_is_no_expected_failure(code, output, why):
    got = judge(1, StepRun(run_step(expect="failure"), [CommandRun("x", code, output)]))
    assert not got.passed and got.got.startswith("not run: `x`") and why in got.got


def test_a_step_may_expect_a_particular_exit_code():
    step = run_step(expect="failure", exit=127)
    assert judge(1, StepRun(step, [CommandRun("x", 127, "not found")])).passed
    assert not judge(1, StepRun(step, [CommandRun("x", 1, "")])).passed
    with_text = run_step(expect="failure", output="not found")
    assert judge(1, StepRun(with_text, [CommandRun("x", 127, "sh: 1: x: not found")])).passed


def test_a_whole_trace_must_arrive():
    assert TracePath(["10.0.0.1", "10.0.1.2"], "reached").meets(["10.0.0.1", "10.0.1.2"], whole=True)
    assert not TracePath(["10.0.0.1", "*"], "").meets(["10.0.0.1", "*"], whole=True)
    assert not TracePath(["10.0.0.1", "10.0.1.1"], "unreachable: net").meets(["10.0.0.1", "10.0.1.1"], whole=True)
    assert TracePath(["10.0.0.1", "*"], "").meets(["10.0.0.1"], whole=False)


def test_the_step_script_stops_where_the_judge_stops_the_story():
    script = batch_script([run_step(expect="failure", timeout=1)])
    assert "timed_out=$(( (rc == 124 || rc == 137) && ms >= 950 ))" in script
    assert "case $rc in 126|127) exit 0" in script and "Cannot open network namespace" in script


def steps_of(result) -> dict[str, tuple[bool, str]]:
    return {s.title: (s.passed, s.got) for s in result.steps}


def test_partial_loss_on_a_real_path(engine, lab_name, no_leftovers):
    steps = steps_of(simlab.run(VERDICTS / "partial-loss.yaml", engine=engine, name=lab_name))
    assert steps == {
        "half lost is not no-reply": (False, "2/4 replies"),
        "half lost is not a reply": (False, "2/4 replies"),
        "two of four answered": (True, "2/4 replies"),
        "half lost": (True, "2/4 replies"),
        "not a quarter lost": (False, "2/4 replies"),
    }


def test_a_killed_capture_is_no_evidence(engine, lab_name, no_leftovers):
    result = simlab.run(VERDICTS / "dead-capture.yaml", engine=engine, name=lab_name)
    live, dead = result.steps
    assert not dead.passed and "capture at a:eth0 stopped watching before the probe ended" in dead.got
    assert live.passed, live.got


def test_a_typo_is_not_an_expected_failure(engine, lab_name, no_leftovers):
    result = simlab.run(VERDICTS / "not-run.yaml", engine=engine, name=lab_name)
    assert not result.passed
    assert result.steps[0].got == "not run: `ipp route add 10.9.0.0/24 dev lo` (command not found, exit 127)"


def test_what_the_report_says_ran_is_what_ran(engine, lab_name, no_leftovers):
    result = simlab.run(VERDICTS / "timed-out.yaml", engine=engine, name=lab_name, keep=True)
    try:
        first, second = result.steps
        assert first.got.startswith("timed out") and second.skipped
        left = engine.exec(f"simlab-{result.lab}-a", ["test", "-e", "/tmp/ran-after-timeout"])
        assert left.exit_code == 1, "the step after the timeout ran although the report says skipped"
    finally:
        simlab.api.destroy_lab(engine, result.lab)


def test_a_reset_forged_by_the_sender_is_refused_local(engine, lab_name, no_leftovers):
    steps = steps_of(simlab.run(VERDICTS / "forged-reset.yaml", engine=engine, name=lab_name))
    assert steps == {
        "b refuses for real": (True, "refused"),
        "a forbids itself port 80": (True, "success"),
        "a forged refusal is not the target's": (False, "refused: local"),
        "said so, and no SYN reached b": (True, "refused: local"),
    }


def test_a_failed_ping_of_a_run_says_where_its_packet_stopped(engine, lab_name, no_leftovers):
    done = simlab_cli("run", str(VERDICTS / "why.yaml"), "--name", lab_name, "--json", "-")
    assert done.returncode == 1, done.stderr
    step = json.loads(done.stdout)["steps"][0]
    assert step["why"] == ["the packet goes a -> r and stops: r does not forward (net.ipv4.ip_forward = 0)"]
    assert "why: the packet goes a -> r and stops: r does not forward" in done.stderr
