"""Unit tests of inspect parsing, peer matching, state diffs, pictures and the HTML report
(no engine: a recorded dump of gateway-nat's container-a stands in for a live host)."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from conftest import DATA, ROOT, simlab
from simlab.graph import from_state, from_topology, render_dot, render_mermaid, render_svg
from simlab.model.scenario import RunStep, load_scenario
from simlab.reports.html import index_page, scenario_page
from simlab.results import ScenarioResult, StepResult
from simlab.runs.script import _parse, batch_script
from simlab.state.collect import match_peers, parse_dump
from simlab.state.diff import diff_states
from simlab.state.model import HostState, LabState

GATEWAY_NAT = ROOT / "scenarios" / "gateway-nat.yaml"


def container_a() -> HostState:
    namespaces = parse_dump((DATA / "visuals-dump.txt").read_text())
    return HostState("container-a", "running", namespaces.pop(""), namespaces)


def test_dump_parses_into_namespaces_interfaces_routes_and_rules():
    host = container_a()
    assert sorted(host.netns) == ["blue", "red"]
    assert host.root.forwarding is True
    assert host.root.rules["nat"] == ["-A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE"]  # default policies left out
    assert host.root.bridges() == {"v-net-0": ["veth-red-br", "veth-blue-br"]}
    red = host.netns["red"]
    assert red.interfaces["veth-red"].addresses == ["192.168.15.1/24"]
    assert "default via 192.168.15.5 dev veth-red" in red.routes


def test_veth_peers_are_matched_across_namespaces_of_a_host():
    state = LabState("lab", {"container-a": container_a()})
    match_peers(state, load_scenario(GATEWAY_NAT).topology)
    red = state.hosts["container-a"].netns["red"].interfaces["veth-red"].peer
    assert (red.host, red.netns, red.interface, red.master) == ("container-a", "", "veth-red-br", "v-net-0")
    eth0 = state.hosts["container-a"].root.interfaces["eth0"].peer
    assert (eth0.segment, eth0.interface) == ("docker0", "p1")  # the declared switch port
    assert LabState.from_dict(json.loads(json.dumps(state.to_dict()))).to_dict() == state.to_dict()


def test_diff_lists_added_and_removed_facts():
    after = LabState("lab", {"container-a": container_a()})
    before = LabState.from_dict(after.to_dict())
    before.hosts["container-a"].netns.pop("blue")
    before.hosts["container-a"].root.rules["nat"] = []
    changes = {(c.added, c.what, c.netns, c.item) for c in diff_states(before, after)}
    assert (True, "namespace", "", "blue") in changes
    assert (True, "address", "blue", "192.168.15.2/24") in changes
    assert (True, "rule", "", "-t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE") in changes
    assert not any(what == "forwarding" for _, what, _, _ in changes)  # part of the new namespace
    assert diff_states(after, after) == []


def test_graph_of_a_file_in_every_format():
    topology = load_scenario(GATEWAY_NAT).topology
    picture = from_topology(topology)
    svg = ET.fromstring(render_svg(picture))
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert set(topology.hosts) <= texts and "switch docker0" in texts
    mermaid = render_mermaid(picture)
    assert mermaid.startswith("flowchart")
    for link in topology.links:
        assert f"{link.a.interface} 192.0.2.1/30 — {link.b.interface} 192.0.2.2/30" in mermaid
    assert mermaid.count("n_switch_docker0") == 4  # the switch and its three members
    dot = render_dot(picture)
    assert dot.startswith('graph "gateway-nat"') and dot.count(" -- ") == 4


def test_graph_of_a_state_holds_namespaces_bridges_and_highlights_changes():
    after = LabState("lab", {"container-a": container_a()})
    match_peers(after, None)
    before = LabState.from_dict(after.to_dict())
    before.hosts["container-a"].netns.pop("red")
    picture = from_state(after, changes=diff_states(before, after))
    changed = {n.label for n in picture.nodes.values() if n.changed}
    assert changed == {"red"}
    svg = ET.fromstring(render_svg(picture))
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"netns red", "netns blue", "v-net-0", "veth-red", "veth-red-br"} <= texts


def test_graph_cli_from_a_file_needs_no_engine(tmp_path):
    out = tmp_path / "g.mmd"
    done = simlab("graph", str(GATEWAY_NAT), "--format", "mermaid", "-o", str(out),
                  env={"DOCKER_HOST": "unix:///nonexistent.sock", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("flowchart")


def test_graph_cli_refuses_an_unwritable_output_at_once():
    done = simlab("graph", str(GATEWAY_NAT), "-o", "/nonexistent/g.svg")
    assert done.returncode == 2
    assert done.stderr.strip() == "simlab: error: cannot write /nonexistent/g.svg: no folder /nonexistent"


def test_batch_runs_the_after_step_script_once_defined_after_each_step_that_went_well():
    steps = [RunStep(host="a", title="one", commands=["true"]), RunStep(host="a", title="two", commands=["true"]),
             RunStep(host="a", title="three", commands=["false"])]
    script = batch_script(steps, after=lambda step: "echo state; echo 'of it'")
    assert script.count("echo state") == 1  # defined once, called per step
    done = subprocess.run(["sh", "-c", script], capture_output=True, timeout=30)
    records = [_parse(line) for line in done.stdout.splitlines()]
    assert [(kind, step, value) for kind, step, value in records if kind == "after"] == [
        ("after", 0, "state\nof it\n"), ("after", 1, "state\nof it\n")]  # not after the failed step


class _Details(HTMLParser):
    def __init__(self):
        super().__init__()
        self.steps = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.steps.append((attrs["id"], attrs["class"], "open" in attrs))


def _result() -> ScenarioResult:
    steps = [StepResult(1, "make red", "run", "a", ["ip netns add red"], "success", "success", True,
                        changes=[{"change": "added", "what": "namespace", "host": "a", "netns": None,
                                  "interface": None, "item": "red"}],
                        state={"lab": "x", "hosts": {"a": {"status": "running", "root": {"interfaces": {}},
                                                           "netns": {"red": {"interfaces": {}}}}}}),
             StepResult(2, "ping <b>", "ping", "a", ["ping"], "reply", "no-reply", False, target="10.0.0.9"),
             StepResult(3, "later", "run", "a", ["true"], "success", "skipped", False, skipped=True)]
    return ScenarioResult("demo", "demo.yaml", "x", steps)


def test_html_page_has_a_section_per_step_and_opens_the_failed_one():
    page = scenario_page(_result(), None, "a demo")
    parser = _Details()
    parser.feed(page)
    assert parser.steps == [("step-1", "step pass", False), ("step-2", "step fail", True),
                            ("step-3", "step skip", False)]
    assert "ping &lt;b&gt;" in page and "+ a: namespace red" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch
    index = index_page([_result()], ["demo.html"])
    assert 'href="demo.html"' in index and "step 2: expected reply, got no-reply" in index


def test_html_page_shows_the_packet_evidence_and_the_hint():
    step = StepResult(1, "the outside host sees the NAT address", "ping", "container-a/red", ["ping"], "reply",
                      "reply", False, target="172.17.0.3", hint="Is MASQUERADE in place?",
                      evidence=["✘ seen at outside:eth0 src 172.17.0.2 (0 packets)"],
                      packets=["outside:eth0  IP 192.168.15.1 > 172.17.0.3: ICMP echo request"])
    page = scenario_page(ScenarioResult("nat", "nat.yaml", "x", [step]), None)
    assert "The packets" in page and "IP 192.168.15.1 &gt; 172.17.0.3: ICMP echo request" in page
    assert '<li class="removed">✘ seen at outside:eth0 src 172.17.0.2 (0 packets)</li>' in page
    assert "Is MASQUERADE in place?" in page
