"""Step kinds come from the registry: each in its own module, dispatched by its key.

The http and neigh kinds were added through the registry alone; these tests check them
as a file and on a real lab, and that the registry is the only list of kinds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simlab
from conftest import ROOT
from simlab.checks.http import classify_http
from simlab.checks.neigh import classify_neigh
from simlab.model.scenario import KIND_KEYS, scenario_from_data
from simlab.model.yamlsource import Source
from simlab.steps import KINDS, Step

PAIR = (simlab.Builder("kinds")
        .host("a", interfaces={"eth0": "10.0.0.1/24"})
        .host("b", interfaces={"eth0": "10.0.0.2/24"})
        .link("a:eth0", "b:eth0"))


def problems(**step) -> list[str]:
    data = {"hosts": {"a": {}}, "steps": [{"title": "t", "host": "a", **step}]}
    with pytest.raises(simlab.InputError) as raised:
        scenario_from_data(data, Source("f.yaml"), "f")
    return str(raised.value).splitlines()


def test_every_kind_has_its_own_step_class_and_keys():
    assert set(KINDS) == set(KIND_KEYS) == {"run", "ping", "connect", "serve", "route", "trace", "http", "neigh"}
    for key, kind in KINDS.items():
        assert kind.key == key and kind.step.KIND == key and issubclass(kind.step, Step)


def test_no_module_outside_steps_names_a_step_class():
    """Dispatch goes through the registry: no isinstance ladder on step classes elsewhere."""
    classes = {kind.step.__name__ for kind in KINDS.values()}
    found = []
    for path in (ROOT / "simlab").rglob("*.py"):
        if path.parent.name == "steps":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                found += [f"{path.relative_to(ROOT)}:{node.lineno}" for _ in names & classes]
    assert found == []


@pytest.mark.parametrize("step, message", [
    ({"http": "ftp://10.0.0.2/"}, "steps[0].http: http takes a URL like http://10.0.0.2:8080/"),
    ({"http": "http://10.0.0.2/", "expect": 999}, "steps[0].expect: expect is an HTTP status, from 100 to 599"),
    ({"http": "http://10.0.0.2/", "match": "("}, "steps[0].match: match is not a regular expression"),
    ({"neigh": "b"}, "steps[0].neigh: neigh takes one IPv4 or IPv6 address"),
    ({"neigh": "10.0.0.2", "expect": "gone"}, "steps[0].expect: a neigh step expects one of resolved, failed"),
    ({"neigh": "10.0.0.2", "lladdr": "zz"}, "steps[0].lladdr: lladdr is the MAC address"),
    ({"neigh": "10.0.0.2", "via": "10.0.0.1"}, "steps[0].via: 'via' belongs to route steps"),
])
def test_http_and_neigh_steps_say_what_is_wrong(step, message):
    assert any(message in line for line in problems(**step)), problems(**step)


def test_http_answers_are_read_from_what_the_probe_printed():
    assert str(classify_http("@@http 200\n<h1>hi</h1>")) == "status 200"
    assert classify_http("@@http 404\nnope").body == "nope"
    assert str(classify_http("@@http error Connection refused")) == "no answer: Connection refused"
    assert classify_http("Traceback ...").status == 0


def test_neighbour_states_are_classified():
    entry = '[{"dst":"10.0.0.2","dev":"eth0","lladdr":"02:00:00:00:00:02","state":["%s"]}]'
    assert classify_neigh(0, entry % "REACHABLE", "10.0.0.2").kind == "resolved"
    assert classify_neigh(0, entry % "STALE", "10.0.0.2").lladdr == "02:00:00:00:00:02"
    assert classify_neigh(0, '[{"dst":"10.0.0.9","dev":"eth0","state":["FAILED"]}]', "10.0.0.9").kind == "failed"
    assert classify_neigh(0, "[]", "10.0.0.2").kind == "absent"
    assert classify_neigh(1, "", "10.0.0.2").kind == "error"


def test_http_and_neigh_on_a_real_lab(engine):
    lab_topology = (PAIR.step("b serves files", "b", serve="python3 -m http.server 8080 --directory /etc",
                              ready="Serving HTTP")).scenario()
    with simlab.lab(lab_topology, engine=engine) as lab:
        assert lab.step("b", serve="python3 -m http.server 8080 --directory /etc", ready="Serving HTTP").passed
        assert lab.check("a", http="http://10.0.0.2:8080/hostname", output="b").got == "status 200"
        assert lab.check("a", http="http://b:8080/", match=r"href=\"passwd\"")
        assert lab.check("a", http="http://10.0.0.2:8080/no-such-file", expect=404)
        wrong = lab.step("a", http="http://10.0.0.2:8080/hostname", output="not-b")
        assert not wrong.passed and wrong.got == "status 200, body without 'not-b'"
        refused = lab.step("a", http="http://10.0.0.2:8081/")
        assert not refused.passed and refused.got == "no answer: Connection refused"

        mac = lab.exec("b", "cat /sys/class/net/eth0/address").output.strip()
        assert lab.check("a", neigh="10.0.0.2", expect="resolved", lladdr=mac, dev="eth0")  # after the GETs
        assert lab.check("a", neigh="10.0.0.9", expect="absent")
        assert lab.check("a", ping="10.0.0.9", expect="unreachable", reason="host")
        failed = lab.check("a", neigh="10.0.0.9", expect="failed", within=5)
        assert failed.got == "failed (dev eth0)"
        assert not lab.step("a", neigh="10.0.0.9", expect="resolved").passed


def test_a_kind_is_usable_from_a_builder_and_its_schema():
    from simlab.model.schema import scenario_schema

    built = PAIR.step("a reads b's neighbour entry", "a", neigh="10.0.0.2", expect="absent").scenario()
    assert built.steps[-1].KIND == "neigh"
    step_schema = scenario_schema()["properties"]["steps"]["items"]
    assert {"http", "neigh", "lladdr"} <= set(step_schema["properties"])
    assert Path(ROOT / "simlab" / "steps" / "neigh.py").is_file()
