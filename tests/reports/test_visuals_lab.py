"""inspect, graph, --explain and the HTML report on the real engine, the report opened in a
real headless browser (Debian's chromium; `make tools` installs it where missing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import DATA, ROOT, simlab
from simlab.labs.lab import container_name

ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots of the reports, kept (ignored by git)
FAILS = DATA / "visuals-fails.yaml"


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # the test setup installs Debian's package where it can; nothing is downloaded
        subprocess.run([str(ROOT / "scripts" / "ensure-tools.sh")], check=True)
        found = shutil.which("chromium")
    assert found, "no chromium: run `make tools`"
    return found


@pytest.fixture
def kept_gateway_nat(engine, lab_name, no_leftovers, tmp_path):
    """gateway-nat run to the end with --keep, --json and --html; removed afterwards."""
    report, html = tmp_path / "result.json", tmp_path / "gateway-nat.html"
    done = simlab("run", "gateway-nat", "--name", lab_name, "--keep", "--explain", "--json", str(report),
                  "--html", str(html))
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield lab_name, done, json.loads(report.read_text()), html
    finally:
        simlab("down", lab_name)


def test_inspect_graph_explain_and_html_of_gateway_nat(kept_gateway_nat, engine, chromium):
    lab, run, result, html = kept_gateway_nat
    state = json.loads(simlab("inspect", lab, "--json", check=True).stdout)
    a = state["hosts"]["container-a"]
    assert sorted(a["netns"]) == ["blue", "red"]
    red = a["netns"]["red"]
    assert red["interfaces"]["veth-red"]["peer"] == {"host": "container-a", "netns": None,
                                                     "interface": "veth-red-br", "master": "v-net-0"}
    assert "default via 192.168.15.5 dev veth-red" in red["routes"]
    assert "-A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE" in a["root"]["rules"]["nat"]
    assert a["root"]["bridges"]["v-net-0"] == ["veth-red-br", "veth-blue-br"]

    # State after every step: step 1 adds exactly the namespaces red and blue.
    first = result["steps"][0]["changes"]
    assert [(c["change"], c["what"], c["item"]) for c in first] == [("added", "namespace", "blue"),
                                                                    ("added", "namespace", "red")]
    assert result["steps"][-1]["state"]["hosts"]["container-a"]["netns"]["red"]["routes"] == red["routes"]
    assert "        + container-a: namespace red" in run.stdout  # --explain, under step 1

    svg = ET.fromstring(simlab("graph", lab, check=True).stdout)
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"container-a", "docker-host", "outside", "internet", "netns red", "netns blue", "v-net-0"} <= texts
    mermaid = simlab("graph", lab, "--format", "mermaid", check=True).stdout
    for link in ("veth-red-br — veth-red 192.168.15.1/24", "veth-blue-br — veth-blue 192.168.15.2/24",
                 "eth1 192.0.2.1/30 — eth0 192.0.2.2/30", "eth0 172.17.0.2/16", "eth0 172.17.0.3/16"):
        assert link in mermaid
    assert simlab("graph", lab, "--format", "dot", check=True).stdout.startswith(f'graph "{lab}"')

    page = _open_in_browser(chromium, html, "gateway-nat")
    assert page.steps == [(f"step-{i}", "step pass", False) for i in range(1, 17)]

    engine.remove(container_name(lab, "outside"))  # a host removed by hand
    done = simlab("inspect", lab, "--json")
    assert done.returncode == 0, done.stderr
    hosts = json.loads(done.stdout)["hosts"]
    assert hosts["outside"]["status"] == "missing" and hosts["container-a"]["status"] == "running"


def test_report_of_a_failing_scenario_opens_the_failed_step(engine, lab_name, no_leftovers, tmp_path, chromium):
    html = tmp_path / "fails.html"
    done = simlab("run", str(FAILS), "--name", lab_name, "--html", str(html))
    assert done.returncode == 1, done.stdout + done.stderr
    page = _open_in_browser(chromium, html, "visuals-fails")
    assert page.steps == [("step-1", "step pass", False), ("step-2", "step pass", False),
                          ("step-3", "step fail", True), ("step-4", "step pass", False)]
    assert "expected" in page.text and "no-reply" in page.text


def test_validate_html_writes_an_index_and_a_page_per_scenario(engine, no_leftovers, tmp_path):
    folder = tmp_path / "report"
    done = simlab("validate", str(FAILS), "--html", str(folder))
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "visuals-fails.html"]
    assert 'href="visuals-fails.html"' in (folder / "index.html").read_text()


def test_inspect_and_graph_of_a_lab_that_is_not_up(engine):
    for args in (["inspect", "no-such-lab"], ["graph", "no-such-lab"]):
        done = simlab(*args)
        assert done.returncode == 2
        assert done.stderr == "simlab: error: no lab named 'no-such-lab' is up; `simlab ls` lists the labs\n"


def test_unwritable_html_path_fails_before_any_container(engine, lab_name, no_leftovers):
    done = simlab("run", "gateway-nat", "--name", lab_name, "--html", "/nonexistent/report.html")
    assert done.returncode == 2
    assert done.stderr.strip() == "simlab: error: cannot write /nonexistent/report.html: no folder /nonexistent"
    assert "wiring" not in done.stdout  # no lab was started


class _Page(HTMLParser):
    """The step sections of a page as the browser left it: (id, class, open)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[str, str, bool]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.steps.append((attrs.get("id"), attrs.get("class"), "open" in attrs))

    def handle_data(self, data):
        self.text += data


def _open_in_browser(chromium: str, html: Path, name: str) -> _Page:
    """Load the page in headless chromium: no console message or error, a screenshot kept in
    tests/artifacts/, and the DOM after its script ran."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    profile = html.parent / "chromium-profile"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
              "--enable-logging=stderr", "--v=0", "--window-size=1280,2000"]
    shown = subprocess.run([*common, f"--screenshot={shot}", html.as_uri()], capture_output=True, text=True,
                           timeout=120)
    dom = subprocess.run([*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    print(f"screenshot of the {name} report: {shot}")
    for run in (shown, dom):
        assert run.returncode == 0, run.stderr
        console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert console == [], console
    assert shot.stat().st_size > 10_000
    page = _Page()
    page.feed(dom.stdout)
    return page
