"""Every ping outcome and reason on the real engine (tests/data/outcomes): REJECT with
each ICMP type, DROP, prohibit/blackhole/unreachable routes on a router and on the
sender, a loop, a low ttl, an MTU too small, hosts by name; and expectations that
these answers must break."""

from __future__ import annotations

import pytest

from conftest import DATA, run_steps, simlab
from simlab.runs.script import PRELUDE

OUTCOMES = DATA / "outcomes"


def test_every_answer_is_told_apart(engine, lab_name, no_leftovers, tmp_path):
    done, steps = run_steps(OUTCOMES / "answers.yaml", lab_name, tmp_path)
    assert steps["b by name"]["target"] == "b (10.2.0.2)"
    assert (steps["filtered"]["got"], steps["filtered"]["reason"], steps["filtered"]["peer"]) == (
        "unreachable: filtered, from 10.12.0.2", "filtered", "10.12.0.2")
    assert steps["blackhole route on the sender"]["got"] == "unreachable: local"
    assert steps["nobody holds 10.2.0.50"]["got"] == "unreachable: host, from 10.12.0.2"  # after ARP gave up
    assert "✔ unreachable: ttl, from 10.1.0.1, as expected" in done.stdout


def test_ipv6_end_to_end(engine, lab_name, no_leftovers, tmp_path):
    done, steps = run_steps(OUTCOMES / "ipv6.yaml", lab_name, tmp_path)
    assert steps["b by name"]["target"] == "b (fd01::2)"
    assert steps["nobody holds fd01::50"]["got"] == "unreachable: host, from fd00::2"
    assert steps["the path to b"]["hops"] == ["fd00::2", "fd01::2"]
    assert steps["a connects over TCP"]["seen_as"] == "fd00::1"
    assert steps["the same listener serves IPv4"]["seen_as"] == "10.0.0.3"
    assert steps["TCP filtered"]["got"] == "unreachable: filtered, from fd00::2"
    assert "fd00::1 > fd01::2 icmp6: r:eth0" in steps["ping filtered, and the packets say so"]["path"]


def test_wrong_expectations_about_answers_fail(engine, lab_name, no_leftovers):
    file = OUTCOMES / "wrong-answers.yaml"
    done = simlab("run", str(file), "--name", lab_name)
    assert done.returncode == 1, done.stdout + done.stderr
    for line in [
        "a REJECT is not silence: expected no-reply, got unreachable: filtered, from 10.12.0.2",
        "nor a ttl: expected unreachable: ttl, got unreachable: filtered, from 10.12.0.2",
        "nor from r1: expected unreachable from 10.1.0.1, got unreachable: filtered, from 10.12.0.2",
        "a low ttl is not a reply: expected reply, got unreachable: ttl, from 10.1.0.1",
        "nor a local refusal: expected unreachable: local, got unreachable: ttl, from 10.1.0.1",
    ]:
        assert line in done.stdout
    assert "wrong-answers: FAILED: 1 passed, 5 failed" in done.stdout


def test_check_accepts_namespaces_made_in_a_loop():
    done = simlab("check", str(DATA / "good" / "netns-in-a-loop.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif('out=$(sh -c "$2" 2>&1)' in PRELUDE, reason="needs batch.run() to send output to a file instead of $(...) "
                                               "(the lead's per-step time limit change)")
def test_a_background_process_does_not_hold_the_run(engine, lab_name, no_leftovers):
    done = simlab("run", str(OUTCOMES / "background.yaml"), "--name", lab_name, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
