"""`simlab grade`: learners' submissions (and live labs) against one scenario.

Engine-free: the submission format and its errors, the split of a verify report by section,
the reports. On the engine: one grade run of three gateway-nat submissions (the scenario's
own commands, one without the MASQUERADE rule, one that turns forwarding off), shared by
the assertions on its table, CSV, JUnit, JSON and HTML; live labs with --labs; hardened
mode refusing a rootful engine; Ctrl-C in the middle of a run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
import xml.etree.ElementTree as ET

import pytest

from conftest import interrupt_when, running, simlab
from simlab.errors import InputError
from simlab.model.scenario import load_scenario, shipped_scenarios_dir
from simlab.model.submission import parse_commands, read_submission
from simlab.reports.grade import grade_csv, grade_html, grade_junit, grade_table, ranges
from simlab.results import StepResult
from simlab.runs.grade import lab_names, read_submissions
from simlab.state.diff import Change
from simlab.state.explain import Difference, Origin, ProbeCheck, VerifyReport
from simlab.state.grade import CommandDone, Grade, grade_sections, sections_of

GATEWAY = shipped_scenarios_dir() / "gateway-nat.yaml"
SCENARIO = load_scenario(GATEWAY)
NOWHERE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}  # proves nothing reaches an engine


def solution() -> str:
    """The scenario's own commands, as a learner would hand them in."""
    lines = ["# The tutorial, done right.", "# host: container-a"]
    for step in SCENARIO.steps:
        commands = getattr(step, "commands", None)
        if step.KIND == "run" and commands:
            lines += commands
    return "\n".join(lines) + "\n"


# -- the submission format -------------------------------------------------------------------------

def test_markers_say_where_commands_run_in_order():
    text = ("# my lab\n\n# host: container-a\nip netns add red\n# a comment\nip link add v-net-0 \\\n"
            "   type bridge\n#host:outside netns blue\nip route\n")
    commands = parse_commands(text, "s.sh", SCENARIO.topology)
    assert [(c.where, c.text, c.line) for c in commands] == [
        ("container-a", "ip netns add red", 4), ("container-a", "ip link add v-net-0    type bridge", 6),
        ("outside/blue", "ip route", 9)]


@pytest.mark.parametrize("text, message", [
    ("ip netns add red\n", "s.sh:1: no `# host: NAME` line"),
    ("\n\n", "s.sh:1: no `# host: NAME` line"),
    ("# notes\nip netns add red\n# host: container-a\n", "s.sh:2: a command before any `# host: NAME` line"),
    ("# host: container-a\nip a\n# host: contaner-a\nip a\n",
     "s.sh:3: unknown host 'contaner-a'; did you mean 'container-a'? (gateway-nat has hosts container-a, "
     "docker-host, internet, outside)"),
    ("# host: container-a netns 'x;y'\n", "s.sh:1: \"'x;y'\" is not a namespace name"),
    ("# host: container-a nets red\n", "s.sh:1: write the host marker as `# host: NAME`"),
    ("# host: container-a\nip link \\\n", "s.sh:2: the last line ends in `\\`"),
])
def test_a_bad_submission_is_one_line_naming_file_and_line(text, message):
    with pytest.raises(InputError) as raised:
        parse_commands(text, "s.sh", SCENARIO.topology)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value), str(raised.value)


def test_a_yaml_submission_holds_setup_commands_per_host(tmp_path):
    path = tmp_path / "dora.yaml"
    path.write_text("hosts:\n  container-a:\n    setup:\n      - ip netns add red\n      - ip netns add blue\n"
                    "  outside:\n    setup: [ip route]\n")
    submission = read_submission(path, SCENARIO.topology)
    assert submission.student == "dora"
    assert [(c.where, c.text, c.line) for c in submission.commands] == [
        ("container-a", "ip netns add red", 4), ("container-a", "ip netns add blue", 5), ("outside", "ip route", 7)]
    path.write_text("hosts:\n  container-a:\n    interfaces: {eth1: 10.0.0.1/24}\n")
    with pytest.raises(InputError, match=r"dora.yaml:2: hosts.container-a holds only `setup:`"):
        read_submission(path, SCENARIO.topology)


def test_submissions_are_checked_before_anything_starts(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "eve.sh").write_text(solution())
    (tmp_path / "b" / "eve.sh").write_text(solution())
    with pytest.raises(InputError, match="the student name 'eve' .* is also that of"):
        read_submissions([str(tmp_path / "a"), str(tmp_path / "b")], SCENARIO)
    with pytest.raises(InputError, match="no such file"):
        read_submissions([str(tmp_path / "nobody.sh")], SCENARIO)
    assert [s.student for s in read_submissions([str(tmp_path / "a")], SCENARIO)] == ["eve"]


def test_the_cli_refuses_bad_input_without_an_engine(tmp_path):
    bad = tmp_path / "frank.sh"
    bad.write_text("# host: container-a\nip netns add red\n# host: contanier-a\nip a\n")
    done = simlab("grade", "gateway-nat", str(bad), env=NOWHERE)
    assert done.returncode == 2
    assert done.stderr == (f"simlab: error: {bad}:3: unknown host 'contanier-a'; did you mean 'container-a'? "
                           f"(gateway-nat has hosts container-a, docker-host, internet, outside)\n")
    unreadable = tmp_path / "folder.sh"
    unreadable.mkdir()
    done = simlab("grade", "gateway-nat", str(unreadable / "missing.sh"), env=NOWHERE)
    assert (done.returncode, done.stderr) == (2, f"simlab: error: {unreadable}/missing.sh: no such file\n")
    assert simlab("grade", "gateway-nat", env=NOWHERE).returncode == 2
    done = simlab("grade", "gateway-nat", str(bad), "--upto", "Nowhere", env=NOWHERE)
    assert done.returncode == 2 and "no section 'Nowhere'" in done.stderr


def test_lab_names_are_safe_and_distinct():
    assert lab_names(["alice", "Bob Smith", "bob_smith", "Bob!Smith", "ü"]) == [
        "grade-alice", "grade-Bob-Smith", "grade-bob_smith", "grade-Bob-Smith-2", "grade-student"]
    assert all(len(name) <= 37 for name in lab_names(["x" * 80]))


# -- a verify report, split by section -------------------------------------------------------------

def _probe(index: int, section: str, passed: bool, why: list[str]) -> ProbeCheck:
    result = StepResult(index, f"probe {index}", "ping", "container-a/red", [], "reply",
                        "reply" if passed else "no-reply", passed, section=section)
    return ProbeCheck(result, why)


def _difference(text: str, origin: Origin) -> Difference:
    return Difference(Change(True, "rule", "container-a", "", "x"), text, True, origin=origin)


def test_a_missing_fact_fails_its_steps_section_and_a_topology_one_the_sections_it_explains():
    sections = sections_of(SCENARIO, len(SCENARIO.steps))
    assert sections[0] == "Create Network Namespaces" and sections[-1] == "Internet Access" and len(sections) == 8
    nat = "no MASQUERADE for 192.168.15.0/24 on container-a"
    forwarding = "container-a does not forward (net.ipv4.ip_forward = 0)"
    report = VerifyReport("lab", "gateway-nat", str(GATEWAY), 16, differences=[
        _difference(nat, Origin(12, "Masquerade", "Network Gateways and NAT")),
        _difference(forwarding, Origin()),
        _difference("an extra rule nobody explains", Origin())])
    report.probes = [_probe(5, "Test Communication", True, []),
                     _probe(13, "Network Gateways and NAT", False,
                            ["in your lab the packet goes red -> container-a and stops", f"{nat} [step 12]",
                             "reread the section 'Network Gateways and NAT'"]),
                     _probe(16, "Internet Access", False, [f"{forwarding} [set up by the topology]", "hint: h"])]
    graded, elsewhere = grade_sections(report, sections)
    by_name = {s.name: s for s in graded}
    assert [s.name for s in graded] == sections
    assert [s.name for s in graded if not s.passed] == ["Network Gateways and NAT", "Internet Access"]
    assert by_name["Network Gateways and NAT"].missing == [
        nat, "13. probe 13: expected reply, got no-reply", "  why: in your lab the packet goes red -> container-a "
        "and stops"]  # the difference and the section's own name are not said twice
    assert by_name["Internet Access"].missing == [forwarding, "16. probe 16: expected reply, got no-reply",
                                                  "  why: hint: h"]
    assert elsewhere == ["an extra rule nobody explains"]


# -- the reports -----------------------------------------------------------------------------------

def _grades() -> list[Grade]:
    report = VerifyReport("l", "gateway-nat", "f", 16)
    good = Grade("alice", "alice.sh", report=report)
    good.sections, _ = grade_sections(report, ["One", "Two", "Three"])
    bad = Grade("=bob<b>", "bob.sh", report=VerifyReport("l", "gateway-nat", "f", 16, differences=[
        _difference("no MASQUERADE <here>", Origin(2, "t", "Two"))]))
    bad.sections, bad.elsewhere = grade_sections(bad.report, ["One", "Two", "Three"])
    bad.commands = [CommandDone("container-a", 3, "ip route add x", 2, "Error: bad\nmore")]
    broken = Grade("carol", "carol.sh", error="the engine went away")
    return [good, bad, broken]


def test_ranges():
    assert [ranges(n) for n in ([], [1], [1, 2, 3], [1, 2, 4, 6, 7])] == ["-", "1", "1-3", "1-2,4,6-7"]


def test_the_table_says_sections_held_what_is_missing_and_the_failed_commands():
    lines = grade_table(_grades())
    assert lines[0].split() == ["STUDENT", "RESULT", "SECTIONS", "PASSED", "MISSING"]
    assert lines[1].split() == ["alice", "PASSED", "3/3", "1-3"]
    assert lines[2].split()[:4] == ["=bob<b>", "FAILED", "2/3", "1,3"] and lines[2].endswith("2: no MASQUERADE <here>")
    assert lines[3].split()[:4] == ["carol", "ERROR", "-", "-"]
    assert "=bob<b>: ✘ 2 Two" in lines and "=bob<b>:     no MASQUERADE <here>" in lines
    assert "=bob<b>: command failed: bob.sh:3 (container-a) `ip route add x` exited 2: Error: bad" in lines
    assert "carol: error: the engine went away" in lines


def test_csv_has_a_column_per_section_and_no_formulas():
    rows = list(csv.reader(io.StringIO(grade_csv(_grades(), ["One", "Two", "Three"]))))
    assert rows[0] == ["student", "result", "sections_passed", "sections", "One", "Two", "Three", "missing",
                       "failed_commands", "file", "duration", "error"]
    assert rows[1][:7] == ["alice", "PASSED", "3", "3", "pass", "pass", "pass"]
    assert rows[2][:8] == ["'=bob<b>", "FAILED", "2", "3", "pass", "fail", "pass", "2: no MASQUERADE <here>"]
    assert rows[2][8] == "1" and rows[3][-1] == "the engine went away"


def test_junit_has_a_suite_per_student_and_a_case_per_section():
    root = ET.fromstring(grade_junit(_grades()))
    assert root.get("name") == "simlab grade"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["alice", "=bob<b>", "carol"]
    assert [c.get("name") for c in suites[1].findall("testcase")] == ["01 One", "02 Two", "03 Three"]
    failure = suites[1].find("testcase[@name='02 Two']/failure")
    assert failure is not None and "no MASQUERADE <here>" in failure.get("message")
    assert suites[2].find("testcase/error").get("message") == "the engine went away"


def test_html_escapes_what_comes_from_students():
    page = grade_html(_grades(), "gateway-nat", 16, ["One", "Two", "Three"])
    assert "=bob&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1].replace("<b>✘", "").replace(
        "<b>✔", "").replace("<b>The commands", "")
    assert "no MASQUERADE &lt;here&gt;" in page and "exited 2" in page


# -- on the engine ---------------------------------------------------------------------------------

STUDENTS = ("alice", "bob", "carol")


def _leftovers(engine, prefixes: tuple[str, ...]) -> list[str]:
    return sorted({c.labels["simlab.lab"] for c in engine.containers({"simlab.lab": None})
                   if c.labels["simlab.lab"].startswith(prefixes)})


@pytest.fixture(scope="module")
def graded(engine, tmp_path_factory) -> dict:
    """One grade run of three submissions, every report asked for; a reference cache of its own,
    so the reference is built (once) in this run."""
    folder = tmp_path_factory.mktemp("grade")
    subs = folder / "submissions"
    subs.mkdir()
    right = solution()
    (subs / "alice.sh").write_text(right)
    (subs / "bob.sh").write_text("\n".join(line for line in right.splitlines() if "MASQUERADE" not in line) + "\n")
    (subs / "carol.sh").write_text(right + "sysctl -w net.ipv4.ip_forward=0\nip route add 10.9.9.0/24 via 1.2.3.4\n")
    env = {**os.environ, "SIMLAB_CACHE": str(folder / "cache"), "NO_COLOR": "1"}
    reports = {kind: folder / f"grades.{kind}" for kind in ("csv", "junit", "html", "json")}
    done = simlab("grade", "gateway-nat", str(subs), "--trust-submissions", "--jobs", "3",
                  *(arg for kind, path in reports.items() for arg in (f"--{kind}", str(path))), env=env)
    left = _leftovers(engine, tuple(f"grade-{s}-" for s in STUDENTS) + ("grade-ref-gateway-nat",))
    rows = {line.split()[0]: line for line in done.stdout.splitlines()
            if line.split()[:1] in ([s] for s in STUDENTS) and line.split()[1] in ("PASSED", "FAILED", "ERROR")}
    return {"done": done, "reports": reports, "left": left, "env": env, "rows": rows}


def test_grade_tells_who_holds_which_section_and_why_not(graded):
    done = graded["done"]
    assert done.returncode == 1, done.stdout + done.stderr
    assert graded["left"] == [], "labs left behind"
    rows = graded["rows"]
    assert rows["alice"].split()[1:4] == ["PASSED", "8/8", "1-8"], done.stdout
    assert rows["bob"].split()[1:4] == ["FAILED", "6/8", "1-6"], done.stdout
    assert "7: no MASQUERADE for 192.168.15.0/24 on container-a" in rows["bob"]
    assert rows["carol"].split()[1] == "FAILED" and "does not forward (net.ipv4.ip_forward = 0)" in rows["carol"]
    assert "bob: ✘ 7 Network Gateways and NAT" in done.stdout
    assert ("carol: command failed: " in done.stdout and "`ip route add 10.9.9.0/24 via 1.2.3.4` exited 2"
            in done.stdout)
    assert "1 of 3 submission(s) hold every section" in done.stdout
    assert {line.split()[0] for line in done.stderr.splitlines() if line.split()} >= {"PASSED", "FAILED"}


def test_grade_writes_csv_junit_json_and_html(graded):
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(graded["reports"]["csv"].read_text()))}
    assert rows["alice"]["result"] == "PASSED" and rows["alice"]["sections_passed"] == "8"
    assert rows["bob"]["Network Gateways and NAT"] == "fail" and rows["bob"]["Test Communication"] == "pass"
    assert "MASQUERADE" in rows["bob"]["missing"] and rows["carol"]["failed_commands"] == "1"
    suites = {s.get("name"): s for s in ET.parse(graded["reports"]["junit"]).getroot().findall("testsuite")}
    assert len(suites["alice"].findall("testcase")) == 8 and suites["alice"].get("failures") == "0"
    nat = suites["bob"].find("testcase[@name='07 Network Gateways and NAT']/failure")
    assert nat is not None and "MASQUERADE" in nat.get("message")
    forwarding = suites["carol"].find("testcase[@name='07 Network Gateways and NAT']/failure")
    assert forwarding is not None and "ip_forward" in forwarding.text
    data = json.loads(graded["reports"]["json"].read_text())
    assert data["scenario"] == "gateway-nat" and data["upto"] == 16 and len(data["sections"]) == 8
    carol = next(r for r in data["results"] if r["student"] == "carol")
    assert [c["exit_code"] for c in carol["commands"]][-2:] == [0, 2]
    assert carol["verify"]["differences"] and not carol["passed"]
    assert "simlab grade: gateway-nat" in graded["reports"]["html"].read_text()


def test_grade_live_labs_read_only(engine, graded):
    tag = f"grade-live-{uuid.uuid4().hex[:6]}"
    try:
        simlab("up", "gateway-nat", "--until", "16", "--name", f"{tag}-done", check=True, env=graded["env"])
        simlab("up", "gateway-nat", "--until", "11", "--name", f"{tag}-half", check=True, env=graded["env"])
        done = simlab("grade", "gateway-nat", "--labs", f"{tag}-*", env=graded["env"])
        assert done.returncode == 1, done.stdout + done.stderr
        rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.startswith(tag)}
        assert rows[f"{tag}-done"][1:4] == ["PASSED", "8/8", "1-8"]
        assert rows[f"{tag}-half"][1:4] == ["FAILED", "6/8", "1-6"]
        assert _leftovers(engine, ("grade-ref-gateway-nat",)) == []
        assert simlab("grade", "gateway-nat", "--labs", f"{tag}-nobody-*").stderr.startswith(
            "simlab: error: no lab up matches")
    finally:
        for lab in ("done", "half"):
            simlab("down", f"{tag}-{lab}")


def test_hardened_mode_refuses_a_rootful_engine_before_any_lab(engine, tmp_path):
    from simlab.labs.security import engine_isolation

    if engine_isolation(engine):
        pytest.skip("this engine isolates container root")
    (tmp_path / "gina.sh").write_text(solution())
    # this engine, named: simlab's isolated engine, when the security tests left it running, is not it
    here = {**os.environ, "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")}
    done = simlab("grade", "gateway-nat", str(tmp_path / "gina.sh"), env=here)
    assert done.returncode == 2 and "pass --trust-submissions" in done.stderr, done.stderr
    assert _leftovers(engine, ("grade-gina-",)) == []


def test_ctrl_c_removes_every_lab(engine, tmp_path, monkeypatch):
    for student in ("hana", "ivan"):
        (tmp_path / f"{student}.sh").write_text("# host: outside\nsleep 47\n")
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))  # empty: the reference's shadow lab is built too

    def sleeping() -> bool:
        return any(running(engine, c.id, "sleep 47") for c in engine.containers({"simlab.lab": None})
                   if c.labels["simlab.lab"].startswith(("grade-hana-", "grade-ivan-")))
    done = interrupt_when(["grade", "gateway-nat", str(tmp_path), "--trust-submissions"], sleeping,
                          "a submission's command")
    assert done.returncode == 130, done.stdout + done.stderr
    assert _leftovers(engine, ("grade-hana-", "grade-ivan-", "grade-ref-gateway-nat")) == []

