"""`simlab check` and `simlab validate`: many scenarios, reports CI can read."""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET

from conftest import DATA, interrupt_when, running, simlab
from simlab.labs.lab import LABEL_LAB
from simlab.model.scenario import shipped_scenarios

MIXED = DATA / "mixed"
HANG = """
name: hang
hosts:
  a: {}
steps:
  - title: hangs
    host: a
    run: sleep 600
"""


def test_check_lists_every_problem_of_every_file():
    done = simlab("check", str(MIXED), str(DATA / "bad" / "two-problems.yaml"), "no-such-path")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert (f"{MIXED}/malformed.yaml:3:26: hosts.a.interfaces.eth0: address '10.0.0.1' needs a prefix length, "
            f"like 10.0.0.1/24") in lines
    assert not any("topology-only.yaml" in line for line in lines)  # a topology is a good file for check
    assert sum("two-problems.yaml" in line for line in lines) == 2
    assert "no-such-path: no such file or folder, and no shipped scenario of that name" in lines


def test_check_passes_the_shipped_scenarios():
    done = simlab("check", check=True)
    assert done.stdout.strip() == f"{len(shipped_scenarios())} scenario file(s) OK"


def test_check_empty_folder(tmp_path):
    done = simlab("check", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == f"{tmp_path}: no scenario files (*.yaml, *.yml) in this folder"


def test_mixed_folder_reports_exactly(engine, tmp_path, no_leftovers):
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    done = simlab("validate", str(MIXED), "--junit", str(junit), "--json", str(report))
    assert done.returncode == 2, done.stdout + done.stderr  # malformed files are input errors
    suites = {s.get("name"): s for s in ET.parse(junit).getroot().findall("testsuite")}
    assert set(suites) == {"passing", "failing", "malformed", "topology-only"}
    counts = {name: (s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped"))
              for name, s in suites.items()}
    assert counts == {"passing": ("3", "0", "0", "0"), "failing": ("3", "1", "0", "0"),
                      "malformed": ("1", "0", "1", "0"), "topology-only": ("1", "0", "1", "0")}
    failure = suites["failing"].find("testcase/failure")
    assert failure.get("message") == "expected no-reply, got reply"
    assert "64 bytes from 10.0.0.2" in failure.text
    case_names = [c.get("name") for c in suites["failing"].findall("testcase")]
    assert case_names == ["01 a reaches b", "02 b stays silent (it does not)", "03 a runs a command"]
    error = suites["malformed"].find("testcase/error")
    assert error.get("message") == (f"{MIXED}/malformed.yaml:3:26: hosts.a.interfaces.eth0: address '10.0.0.1' "
                                    f"needs a prefix length, like 10.0.0.1/24")
    results = {r["scenario"]: r for r in json.loads(report.read_text())["results"]}
    assert results["passing"]["passed"] and not results["failing"]["passed"]
    assert [s["passed"] for s in results["failing"]["steps"]] == [True, False, True]
    assert results["malformed"]["error"].startswith(f"{MIXED}/malformed.yaml:3:26: hosts.a.interfaces.eth0: ")
    table = done.stdout[done.stdout.index("SCENARIO"):]
    assert "passing        PASSED  3 passed/0 failed" in table
    assert "failing        FAILED  2 passed/1 failed" in table


def test_only_failures_exit_1(engine, tmp_path, no_leftovers):
    done = simlab("validate", str(MIXED / "passing.yaml"), str(MIXED / "failing.yaml"))
    assert done.returncode == 1, done.stdout + done.stderr


def test_eight_copies_of_gateway_nat_at_once(engine, tmp_path, no_leftovers):
    source = next(p for p in shipped_scenarios() if p.stem == "gateway-nat")
    for i in range(8):
        shutil.copy(source, tmp_path / f"copy{i}.yaml")
    report = tmp_path / "r.json"
    done = simlab("validate", str(tmp_path), "--jobs", "8", "--json", str(report), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text())["results"]
    assert len(results) == 8 and all(r["passed"] for r in results)
    assert len({r["lab"] for r in results}) == 8


def test_a_hang_is_cut_by_timeout_and_the_others_pass(engine, tmp_path, no_leftovers):
    (tmp_path / "hang.yaml").write_text(HANG)
    shutil.copy(MIXED / "passing.yaml", tmp_path)
    junit = tmp_path / "r.xml"
    started = time.monotonic()
    done = simlab("validate", str(tmp_path), "--timeout", "5", "--junit", str(junit))
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stdout + done.stderr
    assert "hang: timed out after 5s" in done.stdout
    suites = {s.get("name"): s for s in ET.parse(junit).getroot().findall("testsuite")}
    assert suites["passing"].get("failures") == "0" and suites["passing"].get("errors") == "0"
    assert suites["hang"].find("testcase[@name='lab']/error").get("message") == "timed out after 5s"


def test_interrupted_validate_leaves_no_lab(engine, tmp_path, no_leftovers):
    for i in range(3):
        (tmp_path / f"hang{i}.yaml").write_text(HANG.replace("name: hang", f"name: hang{i}"))
    junit = tmp_path / "r.xml"

    def two_hang_steps_running() -> bool:
        hosts = [c for c in engine.containers({LABEL_LAB: None, "simlab.role": "host"})
                 if c.labels[LABEL_LAB].startswith("hang") and c.state == "running"]
        return sum(running(engine, c.id, "sleep 600") for c in hosts) == 2

    done = interrupt_when(["validate", str(tmp_path), "--jobs", "2", "--junit", str(junit)],
                          two_hang_steps_running, "two hanging steps")
    assert done.returncode == 130, done.stdout + done.stderr
    assert [c.name for c in engine.containers({LABEL_LAB: None}) if c.labels[LABEL_LAB].startswith("hang")] == []
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == 3  # the two stopped and the one never started are all reported
    assert {s.find("testcase[@name='lab']/error").get("message") for s in suites} == {
        "interrupted", "not run: interrupted"}


def test_keep_failed_leaves_only_the_failed_lab(engine, tmp_path, no_leftovers):
    report = tmp_path / "r.json"
    done = simlab("validate", str(MIXED / "passing.yaml"), str(MIXED / "failing.yaml"), "--keep-failed",
                  "--json", str(report))
    results = {r["scenario"]: r for r in json.loads(report.read_text())["results"]}
    kept = results["failing"]["lab"]
    labs = {c.labels[LABEL_LAB] for c in engine.containers({LABEL_LAB: None})}
    removed = simlab("down", kept)  # before any assertion, so that a failure leaves nothing behind
    assert done.returncode == 1
    assert f"kept lab {kept} (hosts: a, b): simlab shell {kept} a; simlab down {kept}" in done.stdout
    assert results["failing"]["kept"] and not results["passing"]["kept"]
    assert kept in labs and results["passing"]["lab"] not in labs
    assert removed.returncode == 0


def test_fail_fast_stops_the_rest(engine, tmp_path, no_leftovers):
    shutil.copy(MIXED / "failing.yaml", tmp_path / "a-failing.yaml")
    (tmp_path / "b-hang.yaml").write_text(HANG)
    report = tmp_path / "r.json"
    started = time.monotonic()
    done = simlab("validate", str(tmp_path), "--jobs", "1", "--fail-fast", "--json", str(report))
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stdout + done.stderr
    results = {r["scenario"]: r for r in json.loads(report.read_text())["results"]}
    assert not results["failing"]["passed"]
    # the hang may have started in the moment before the failure was seen: stopped either way
    assert results["hang"]["stopped"] in ("not run: stopped by --fail-fast", "stopped by --fail-fast")
