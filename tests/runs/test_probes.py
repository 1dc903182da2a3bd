"""connect, serve, route, trace, within and output matching on the real engine
(tests/data/probes): one lab where every expectation holds, one where each is wrong."""

from __future__ import annotations

from conftest import DATA, run_steps, simlab

PROBES = DATA / "probes"


def test_every_probe_kind_holds(engine, lab_name, no_leftovers, tmp_path):
    done, steps = run_steps(PROBES / "probes.yaml", lab_name, tmp_path)
    assert steps["a connects over TCP"]["seen_as"] == "10.1.0.2"
    assert steps["a connects over TCP"]["kind"] == "connect"
    assert (steps["TCP filtered"]["reason"], steps["TCP filtered"]["peer"]) == ("filtered", "10.12.0.2")
    assert steps["nobody on the link"]["got"] == "unreachable: host, from 10.1.0.2"  # a's own ARP gave up
    assert steps["the whole path to b"]["hops"] == ["10.1.0.1", "10.12.0.2", "10.2.0.2"]
    assert steps["within retries until it holds"]["attempts"] > 1
    assert steps["on-link"]["got"] == "route dev eth1 src 10.2.0.1"
    assert "b $ serve tcp 8080  # log: /var/log/simlab/tcp-8080.log" in done.stdout
    assert "✔ open, seen as 10.1.0.2" in done.stdout


def test_wrong_probe_expectations_fail(engine, lab_name, no_leftovers):
    done = simlab("run", str(PROBES / "wrong-probes.yaml"), "--name", lab_name)
    assert done.returncode == 1, done.stdout + done.stderr
    for line in [
        "a closed port is not open: expected open, got refused from 10.2.0.2",
        "nor seen as r1: expected open, seen as 10.1.0.1, got open from 10.2.0.2, seen as 10.1.0.2",
        "an open UDP port does not refuse: expected open, got refused from 10.2.0.2",
        "not via r2: expected route via 10.12.0.2, got route via 10.1.0.1 dev eth0 src 10.1.0.2",
        "not a blackhole: expected blackhole, got route via 10.1.0.1",
        "the path does not start at r2: expected path starting 10.12.0.2, got path 10.1.0.1 > 10.12.0.2",
        "nor is it only r1: expected path exactly 10.1.0.1, got path 10.1.0.1 > 10.12.0.2 > 10.2.0.2 (reached)",
        "within gives up: expected prohibit, got route via 10.1.0.1",
        "a service that dies is not ready: expected ready, got not ready (exit 1)",
    ]:
        assert line in done.stdout
    assert "hint: r1 does no NAT: b sees a itself" in done.stdout
    assert "the service ended before it was ready" in done.stdout
    assert "wrong-probes: FAILED: 1 passed, 9 failed, 1 skipped" in done.stdout
