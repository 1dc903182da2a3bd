"""Loading and validating scenario files: good files load, every bad file in
the corpus gets exactly the errors written at its top."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from conftest import DATA
from simlab.errors import InputError
from simlab.model.scenario import PingStep, RunStep, load_scenario, resolve_scenario, shipped_scenarios
from simlab.model.topology import Endpoint

BAD = sorted((DATA / "bad").glob("*.yaml"))


def expected_errors(path: Path) -> str:
    lines = [line.removeprefix("# error: ") for line in path.read_text().splitlines() if line.startswith("# error: ")]
    return "\n".join(lines).replace("{file}", str(path))


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_file_gets_its_exact_error(path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert str(caught.value) == expected_errors(path)


def test_corpus_is_not_empty() -> None:
    assert len(BAD) >= 15


def test_missing_file() -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: no such file"):
        load_scenario("nope.yaml")


def test_topology_model(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(
        "hosts:\n"
        "  a:\n"
        "    interfaces: {eth0: [172.17.0.2/16, 'fd00::2/64']}\n"
        "    routes: [default via 172.17.0.1, 10.0.0.0/8 dev eth0]\n"
        "    sysctls: {net.ipv4.ip_forward: 1}\n"
        "    setup: ip link\n"
        "  b: {interfaces: {eth0: 172.17.0.3/16}}\n"
        "  c: {}\n"
        "segments:\n"
        "  lan: [a:eth0, b:eth0, c:eth0]\n")
    topo = load_scenario(path).topology
    assert topo.name == "lab"
    a = topo.hosts["a"]
    assert a.addresses["eth0"] == [ipaddress.ip_interface("172.17.0.2/16"), ipaddress.ip_interface("fd00::2/64")]
    assert [r.destination for r in a.routes] == [None, ipaddress.ip_network("10.0.0.0/8")]
    assert a.routes[1].dev == "eth0" and a.routes[0].via == ipaddress.ip_address("172.17.0.1")
    assert a.sysctls == {"net.ipv4.ip_forward": "1"} and a.setup == ["ip link"]
    assert topo.segments[0].members == (Endpoint("a", "eth0"), Endpoint("b", "eth0"), Endpoint("c", "eth0"))


def test_steps_are_parsed_with_defaults_and_lines() -> None:
    scenario = load_scenario(resolve_scenario("gateway-nat"))
    kinds = {type(s) for s in scenario.steps}
    assert kinds == {RunStep, PingStep}
    ping = next(s for s in scenario.steps if isinstance(s, PingStep) and s.expect == "no-reply")
    assert ping.deadline == 0.5 and ping.where == "container-a/red"
    text = Path(scenario.file).read_text().splitlines()
    assert text[ping.line - 1].strip().startswith("- title:")


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.steps and scenario.description and scenario.tutorial


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InputError, match=r"no-such-scenario: no such file.*shipped: .*gateway-nat"):
        resolve_scenario("no-such-scenario")


def test_namespaces_made_by_shell_the_check_cannot_follow_are_not_refused() -> None:
    scenario = load_scenario(DATA / "good" / "netns-in-a-loop.yaml")
    assert [s.netns for s in scenario.steps] == [None, "ns3", None, "anything"]


def test_ping_options_are_parsed(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("hosts: {a: {}, pc2: {}}\nsteps:\n  - {title: t, host: a, ping: pc2, expect: unreachable, reason: ttl,\n"
                    "     from: 10.0.0.1, count: 3, ttl: 1, source: eth0, size: 1400}\n")
    step = load_scenario(path).steps[0]
    assert (step.reason, step.peer, step.count, step.ttl, step.source, step.size) == ("ttl", "10.0.0.1", 3, 1, "eth0",
                                                                                     1400)
    assert step.deadline == 4.4  # the unreachable default, plus 0.2 s for each further probe


def test_every_host_knows_every_other_by_name(tmp_path: Path) -> None:
    from simlab.labs.lab import host_entries

    path = tmp_path / "names.yaml"
    path.write_text("hosts:\n  r: {interfaces: {lo: 8.8.8.8/32, eth0: 10.0.0.1/24, eth1: [10.1.0.1/24, 10.1.0.9/24]}}\n"
                    "  b: {interfaces: {eth0: 10.0.0.2/24}}\n  c: {}\n"
                    "  d: {interfaces: {eth0: 10.1.0.2/24}}\nlinks: [[r:eth0, b:eth0], [r:eth1, d:eth0]]\n")
    topology = load_scenario(path).topology
    assert host_entries(topology) == ["r:10.0.0.1", "r-eth0:10.0.0.1", "r-eth1:10.1.0.1", "r-lo:8.8.8.8",
                                      "b:10.0.0.2", "b-eth0:10.0.0.2", "d:10.1.0.2", "d-eth0:10.1.0.2"]
