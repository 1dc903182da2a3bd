"""The fabric plan: which veths, bridges, addresses and routes the helper makes."""

from __future__ import annotations

from simlab.labs.fabric import HANDOFF_PER_ITEM, HANDOFF_TIMEOUT, handoff_timeout, plan_fabric, switched_segments
from simlab.model.problems import Problems
from simlab.model.topology import parse_topology
from simlab.model.yamlsource import parse_yaml

TOPOLOGY = """
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24, eth1: 10.1.0.1/30}, routes: [default via 10.0.0.254]}
  b: {interfaces: {eth0: 10.0.0.2/24}}
  c: {interfaces: {eth0: 10.0.0.3/24, lo: 8.8.8.8/32}}
  d: {interfaces: {eth0: 10.1.0.2/30}}
segments:
  lan: [a:eth0, b:eth0, c:eth0]
  pair: [a:eth1, d:eth0]
"""


CONTAINERS = {"a": "A", "b": "B", "c": "C", "d": "D"}  # host -> container id


def test_a_plan_has_an_id_and_a_time_limit_that_grows_with_it() -> None:
    small = plan_fabric(load(TOPOLOGY), CONTAINERS, {"lan": "S"})
    assert len(small["id"]) == 12 and small["id"] != plan_fabric(load(TOPOLOGY), CONTAINERS, {"lan": "S"})["id"]
    # 4 hosts and 4 veths (three switch ports, one link): the helper's base time and 8 items' worth
    assert small["limit"] == HANDOFF_TIMEOUT + 8 * HANDOFF_PER_ITEM and small["limit"] > 60
    bigger = load(TOPOLOGY.replace("hosts:\n", "hosts:\n  e: {}\n"))
    assert handoff_timeout(plan_fabric(bigger, {**CONTAINERS, "e": "E"}, {"lan": "S"})) > small["limit"]


def load(text: str):
    data, source = parse_yaml(text, "t.yaml")
    problems = Problems(source)
    topology = parse_topology(data, problems, "t")
    problems.raise_if_any()
    return topology


def test_segments_of_three_get_a_switch_and_pairs_a_veth() -> None:
    topology = load(TOPOLOGY)
    assert switched_segments(topology) == ["lan"]
    plan = plan_fabric(topology, CONTAINERS, {"lan": "S"})
    assert plan["bridges"] == [{"container": "S", "name": "br0"}]
    # a switch port is the end made up, with its bridge as master; the host's end is the peer
    ports = [(v["a"], v["a_name"], v["a_master"], v["b"], v["b_name"]) for v in plan["veths"]]
    assert ports == [("S", "p0", "br0", "A", "eth0"), ("S", "p1", "br0", "B", "eth0"), ("S", "p2", "br0", "C", "eth0"),
                     ("A", "eth1", None, "D", "eth0")]
    assert [(v["a_host"], v["b_host"]) for v in plan["veths"]] == [("lan", "a"), ("lan", "b"), ("lan", "c"), ("a", "d")]


def test_hosts_get_addresses_routes_and_up_links() -> None:
    plan = plan_fabric(load(TOPOLOGY), CONTAINERS, {"lan": "S"})
    a, _, c, _ = plan["hosts"]
    assert a["container"] == "A" and c["container"] == "C"
    assert a["up"] == ["eth0", "eth1"]
    assert a["addresses"] == [["eth0", "10.0.0.1/24"], ["eth1", "10.1.0.1/30"]]
    assert a["routes"] == [{"text": "default via 10.0.0.254", "dst": "0.0.0.0/0", "gateway": "10.0.0.254", "dev": None}]
    assert ["lo", "8.8.8.8/32"] in c["addresses"] and c["up"] == ["eth0"]
