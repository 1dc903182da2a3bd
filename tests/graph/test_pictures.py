"""Pictures stay readable at size (no engine): rows wrap at a page's width, no two texts of an
SVG overlap, wires between hosts pass through no other host, and the width that layout
reckons for a text is at least what a real browser draws."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

import labgen
from conftest import DATA, ROOT
from simlab.graph import from_state, from_topology, render_svg
from simlab.graph.labels import Label, overlaps, text_width
from simlab.graph.layout import ROW_MAX, layout
from simlab.model.scenario import load_scenario
from simlab.reports.html import scenario_page
from simlab.results import ScenarioResult, StepResult
from simlab.state.collect import match_peers, parse_dump
from simlab.state.model import HostState, LabState

SVG = "{http://www.w3.org/2000/svg}"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
GENERATED = {"chain13": labgen.chain(13), "chain40": labgen.chain(40), "office13": labgen.office(13),
             "office40": labgen.office(40)}


def svg_labels(svg: str) -> list[Label]:
    """Every text of an SVG as drawn: its place, size, anchor and weight, read back from the SVG."""
    return [Label(float(t.get("x")), float(t.get("y")), t.text or "", int(t.get("font-size")),
                  t.get("text-anchor", "start"), t.get("font-weight") == "bold")
            for t in ET.fromstring(svg).iter(f"{SVG}text")]


def collisions(svg: str) -> list[tuple[str, str]]:
    labels = svg_labels(svg)
    return [(a.text, b.text) for a, b in combinations(labels, 2) if overlaps(a.bounds(), b.bounds())]


def generated(tmp_path, name: str):
    return load_scenario(labgen.write(tmp_path, GENERATED[name], name)).topology


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_no_two_texts_of_a_shipped_scenario_overlap(path):
    assert collisions(render_svg(from_topology(load_scenario(path).topology))) == []


def test_port_forwards_client_and_gw_addresses_stand_apart():
    svg = render_svg(from_topology(load_scenario(ROOT / "scenarios" / "port-forward.yaml").topology))
    texts = {label.text: label.bounds() for label in svg_labels(svg)}
    assert not overlaps(texts["203.0.113.10/24"], texts["203.0.113.1/24"])


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_a_big_lab_wraps_into_rows_with_no_overlapping_texts(tmp_path, name):
    picture = from_topology(generated(tmp_path, name))
    svg = render_svg(picture)
    assert collisions(svg) == []
    root = ET.fromstring(svg)
    assert float(root.get("width")) <= ROW_MAX + 150  # one row of 13 hosts was 4,080 pixels wide
    drawing = layout(picture)
    rows = {box.y for node_id, box in drawing.boxes.items() if node_id.startswith("host:")}
    assert len(rows) >= (3 if "13" in name else 8)
    for wire in drawing.wires:  # a wire crosses no host but its own ends'
        ends = {picture.nodes[end].parent or end for end in (wire.edge.a, wire.edge.b)}
        for (x1, y1), (x2, y2) in zip(wire.points, wire.points[1:]):
            for host in (n.id for n in picture.hosts() if n.id not in ends):
                box = drawing.boxes[host]
                inside = (min(x1, x2) < box.x + box.w and box.x < max(x1, x2)
                          and min(y1, y2) < box.bottom and box.y < max(y1, y2))
                assert not inside, (wire.edge, host)


def test_a_chain_turns_at_the_end_of_a_row_so_neighbours_stay_side_by_side(tmp_path):
    picture = from_topology(generated(tmp_path, "chain13"))
    boxes = layout(picture).boxes
    for i in range(1, 13):  # each host beside or right under the one before it
        a, b = boxes[f"host:h{i}"], boxes[f"host:h{i + 1}"]
        beside = a.y == b.y and (abs(a.x + a.w - b.x) < 200 or abs(b.x + b.w - a.x) < 200)
        under = b.y > a.y and a.x < b.x + b.w and b.x < a.x + a.w
        assert beside or under, (i, a, b)


def test_a_state_with_namespaces_and_bridges_has_no_overlapping_texts():
    namespaces = parse_dump((DATA / "visuals-dump.txt").read_text())
    topology = load_scenario(ROOT / "scenarios" / "gateway-nat.yaml").topology
    hosts = {"container-a": HostState("container-a", "running", namespaces.pop(""), namespaces)}
    for name in ("docker-host", "outside", "internet"):
        hosts[name] = HostState(name, "missing")
    state = LabState("lab", hosts)
    match_peers(state, topology)
    svg = render_svg(from_state(state, topology))
    assert "netns red" in svg and "v-net-0" in svg
    assert collisions(svg) == []


def test_texts_take_no_more_room_in_a_browser_than_layout_reckons(tmp_path):
    """Measured in Debian's chromium where it is installed: each text's drawn length."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium (scripts/ensure-chromium.sh installs it)")
    svg = render_svg(from_topology(generated(tmp_path, "office13")))
    svg += render_svg(from_topology(load_scenario(ROOT / "scenarios" / "port-forward.yaml").topology))
    page = tmp_path / "measure.html"
    page.write_text("<!DOCTYPE html><html><body>" + svg + "<pre id='out'></pre><script>"
                    "document.getElementById('out').textContent = Array.from(document.querySelectorAll('text'))"
                    ".map(t => t.getComputedTextLength().toFixed(1) + ' ' + t.textContent).join('\\n');"
                    "</script></body></html>")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    drawn = done.stdout.split("<pre id=\"out\">")[1].split("</pre>")[0].splitlines()
    labels = svg_labels(svg.replace("</svg>\n<svg", "</svg><svg", 1).split("</svg>")[0] + "</svg>")
    labels += svg_labels(svg.split("</svg>", 1)[1].strip())
    assert len(drawn) == len(labels) > 20
    for line, label in zip(drawn, labels):
        width, text = line.split(" ", 1)
        assert text == label.text.replace("&", "&amp;")
        assert float(width) <= text_width(label.text, label.size, label.bold), (text, width)


def test_the_report_shows_the_lab_as_it_ended_with_what_steps_made():
    before = {"lab": "x", "hosts": {"a": {"status": "running", "root": {"interfaces": {}}, "netns": {}}}}
    after = {"lab": "x", "hosts": {"a": {"status": "running", "root": {"interfaces": {}},
                                         "netns": {"red": {"interfaces": {}}}}}}
    steps = [StepResult(1, "make red", "run", "a", ["ip netns add red"], "success", "success", True, state=after),
             StepResult(2, "later", "run", "a", ["true"], "success", "skipped", False, skipped=True)]
    result = ScenarioResult("demo", "demo.yaml", "x", steps, lab_state=before)
    page = scenario_page(result, None)
    built = page.split("<h2>The lab as built</h2>")[1].split("<h2>Steps</h2>")[0]
    assert "after step 1" in built and "netns red" in built
    result.steps[0].state = None  # nothing recorded after a step: the lab before step 1
    built = scenario_page(result, None).split("<h2>The lab as built</h2>")[1].split("<h2>Steps</h2>")[0]
    assert "netns red" not in built and ">a<" in built
