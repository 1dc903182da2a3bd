"""`simlab mutate` on the real engine: gateway-nat's checks catch every mutant; a setup
command no check depends on survives, with its line, and its mutant file runs by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, simlab
from simlab.labs.lab import LABEL_FILE
from simlab.model.scenario import resolve_scenario

LAX = """\
name: mu-lax
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
    setup:
      - ip route add 10.9.0.0/16 via 10.0.0.2
  b:
    interfaces: {eth0: 10.0.0.2/24}
links:
  - [a:eth0, b:eth0]
steps:
  - title: a routes 10.0.5.0/24 via b
    host: a
    run: ip route add 10.0.5.0/24 via 10.0.0.2
  - title: the route is there
    host: a
    route: 10.0.5.7
    via: 10.0.0.2
  - title: a reaches b
    host: a
    ping: 10.0.0.2
"""


@pytest.fixture
def none_of_ours_left(engine, tmp_path):
    """No container of a lab made from this checkout's files or this test's files is left behind
    (other people's labs come and go on the shared engine meanwhile)."""
    yield
    ours = (str(ROOT), str(tmp_path))
    left = [c.name for c in engine.containers({LABEL_FILE: None}) if c.labels[LABEL_FILE].startswith(ours)]
    assert left == [], f"containers left behind: {left}"


def test_every_mutant_of_gateway_nat_is_caught(tmp_path, none_of_ours_left):
    done = simlab("mutate", "gateway-nat", "--json", str(tmp_path / "m.json"), "--html", str(tmp_path / "m.html"),
                  timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["total"] >= 12 and report["caught"] == report["total"], report["score"]
    assert all(m["verdict"] == "caught" and m["how"] for m in report["mutants"])
    setup_line = next(n for n, text in enumerate(resolve_scenario("gateway-nat").read_text().splitlines(), 1)
                      if "POSTROUTING -s 172.17.0.0/16" in text)  # docker-host's one setup command
    assert {m["line"] for m in report["mutants"] if m["title"] == "setup of docker-host"} == {setup_line}
    assert f"gateway-nat: score {report['total']}/{report['total']} caught" in done.stdout
    page = (tmp_path / "m.html").read_text()
    assert f"{report['total']}/{report['total']} caught" in page and "SURVIVED" not in done.stdout


def test_a_setup_command_no_check_depends_on_survives_with_its_line(tmp_path, none_of_ours_left):
    lax = tmp_path / "mu-lax.yaml"
    lax.write_text(LAX)
    done = simlab("mutate", str(lax), "--write", str(tmp_path / "mutants"), "--json", str(tmp_path / "m.json"),
                  timeout=240)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "SURVIVED mu-lax.yaml:6  setup of a" in out
    assert "left out `ip route add 10.9.0.0/16 via 10.0.0.2`" in out
    assert "✔ step 3 (line 19) a reaches b" in out  # the check that still passed
    assert f"survived: {lax}:6 setup of a" in out
    assert "mu-lax: score 2/4 caught, 2 survived" in out
    report = json.loads((tmp_path / "m.json").read_text())
    assert [m["verdict"] for m in report["mutants"]] == ["survived", "survived", "caught", "caught"]
    caught_step = report["mutants"][2]
    assert caught_step["line"] == 12 and caught_step["failed"][0]["title"] == "the route is there"
    # the survivor's file runs by hand, and passes: no check sees what it broke
    survivor = report["mutants"][0]["written"]
    assert "left out `ip route add 10.9.0.0/16" in Path(survivor).read_text()
    again = simlab("run", survivor, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_scenario_that_fails_as_written_is_an_error_not_a_score(none_of_ours_left):
    done = simlab("mutate", "tests/data/scenarios/wrong-expectation.yaml", timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [(
        "simlab: error: tests/data/scenarios/wrong-expectation.yaml: the scenario as written does not pass "
        "(step 3 (line 18) expected no-reply, got reply); mutants prove nothing until it does: "
        "`simlab run tests/data/scenarios/wrong-expectation.yaml` shows why")]
