"""The fabric plan: which veths, bridges, addresses and routes the helper makes."""

from __future__ import annotations

from simlab.labs.fabric import plan_fabric, switched_segments
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


def load(text: str):
    data, source = parse_yaml(text, "t.yaml")
    problems = Problems(source)
    topology = parse_topology(data, problems, "t")
    problems.raise_if_any()
    return topology


def test_segments_of_three_get_a_switch_and_pairs_a_veth() -> None:
    topology = load(TOPOLOGY)
    assert switched_segments(topology) == ["lan"]
    plan = plan_fabric(topology, {"a": 1, "b": 2, "c": 3, "d": 4}, {"lan": 9})
    assert plan["bridges"] == [{"pid": 9, "name": "br0"}]
    ports = [(v["a_pid"], v["a_name"], v["b_pid"], v["b_name"], v["b_master"]) for v in plan["veths"]]
    assert ports == [(1, "eth0", 9, "p0", "br0"), (2, "eth0", 9, "p1", "br0"), (3, "eth0", 9, "p2", "br0"),
                     (1, "eth1", 4, "eth0", None)]


def test_hosts_get_addresses_routes_and_up_links() -> None:
    plan = plan_fabric(load(TOPOLOGY), {"a": 1, "b": 2, "c": 3, "d": 4}, {"lan": 9})
    a, _, c, _ = plan["hosts"]
    assert a["up"] == ["eth0", "eth1"]
    assert a["addresses"] == [["eth0", "10.0.0.1/24"], ["eth1", "10.1.0.1/30"]]
    assert a["routes"] == [{"text": "default via 10.0.0.254", "dst": "0.0.0.0/0", "gateway": "10.0.0.254", "dev": None}]
    assert ["lo", "8.8.8.8/32"] in c["addresses"] and c["up"] == ["eth0"]
