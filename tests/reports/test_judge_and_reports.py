"""Without an engine: how step outcomes are judged, how batch records are read,
and what the JUnit and terminal reports say."""

from __future__ import annotations

import base64
import subprocess
import xml.etree.ElementTree as ET

from simlab.model.scenario import PingStep, RunStep
from simlab.reports.junit import junit_xml
from simlab.reports.terminal import results_table, step_lines
from simlab.results import ScenarioResult
from simlab.runs.runner import judge
from simlab.runs.script import _parse, batch_script
from simlab.steps import CommandRun, StepRun

REPLY = "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.1 ms\n"


def run_step(**kwargs) -> RunStep:
    return RunStep(title="t", host="a", line=7, **kwargs)


def test_run_step_expected_to_fail_passes_on_the_message():
    step = run_step(commands=["ip link set x up"], expect="failure", output="Cannot find device")
    result = judge(3, StepRun(step, [CommandRun("ip link set x up", 1, 'Cannot find device "x"', 0.01)]))
    assert result.passed and result.got == "failure (exit 1)" and result.duration == 0.01
    wrong = judge(3, StepRun(step, [CommandRun("ip link set x up", 1, "Operation not permitted")]))
    assert not wrong.passed
    assert (wrong.expected, wrong.got) == ("failure, printing 'Cannot find device'",
                                           "failure (exit 1), without 'Cannot find device'")


def test_a_link_kind_the_kernel_lacks_points_to_simlab_engines():
    step = run_step(commands=["ip link add link eth0 name eth0.10 type vlan id 10"])
    lacking = judge(1, StepRun(step, [CommandRun(step.commands[0], 2, "Error: Unknown device type.")]))
    assert not lacking.passed and "`simlab engines`" in lacking.hint
    other = judge(1, StepRun(step, [CommandRun(step.commands[0], 2, 'Cannot find device "eth0"')]))
    assert other.hint == ""
    expected = judge(1, StepRun(run_step(commands=step.commands, expect="failure"),
                                [CommandRun(step.commands[0], 2, "Error: Unknown device type.")]))
    assert expected.passed and expected.hint == ""


def test_run_step_that_stops_early_names_the_command():
    step = run_step(commands=["true", "false", "true"])
    result = judge(1, StepRun(step, [CommandRun("true", 0, ""), CommandRun("false", 1, "")]))
    assert not result.passed and result.got == "failure (exit 1) at command 2 of 3"
    assert result.output == "$ true\n$ false"


def test_ping_step_compares_the_classified_outcome():
    step = PingStep(title="p", host="a", netns="red", target="10.0.0.2", expect="no-reply")
    result = judge(2, StepRun(step, [CommandRun("ping ...", 0, REPLY)]))
    assert not result.passed and (result.expected, result.got) == ("no-reply", "reply")
    assert result.where == "a/red" and result.target == "10.0.0.2"


def test_a_step_without_records_failed():
    result = judge(1, StepRun(run_step(commands=["sleep 600"])))
    assert not result.passed and result.got == "no result (the host stopped answering)"


def test_batch_records_round_trip():
    output = "line one\nwith ünïcode"
    encoded = base64.b64encode(output.encode()).decode()
    size = len(output.encode())
    assert _parse(f"@@simlab cmd 2 1 127 15 {size} {encoded}".encode()) == ("cmd", 2, (1, 127, 0.015, output, 0))
    assert _parse(b"@@simlab cmd 0 0 0 3 0 ") == ("cmd", 0, (0, 0, 0.003, "", 0))
    assert _parse(b"@@simlab end 4") == ("end", 4, None)
    assert _parse(b"noise from a command") == ("", -1, None)


def run_script_here(steps) -> list[tuple]:
    """Run a batch script in this machine's /bin/sh (steps without a namespace) and read its records."""
    done = subprocess.run(["sh", "-c", batch_script(steps)], capture_output=True, timeout=30)
    return [_parse(line) for line in done.stdout.splitlines()]


def test_batch_script_passes_commands_to_the_shell_intact():
    step = run_step(commands=["printf '%s|' \"it's\" \"$((1+1))\" 'a  b' '$HOME'", "echo last; exit 3"])
    records = run_script_here([step])
    (_, _, (_, code, _, output, _)), (_, _, (_, last_code, _, last_output, _)) = records
    assert (code, output) == (0, "it's|2|a  b|$HOME|")
    assert (last_code, last_output) == (3, "last")  # and the script stopped: no 'end' record
    assert len(records) == 2


def test_batch_script_stops_where_the_runner_would():
    fails_as_expected = run_step(commands=["echo 'Error: x' >&2; exit 1"], expect="failure", output="Error: x")
    wrong_message = run_step(commands=["echo other; exit 1"], expect="failure", output="Error: x")
    never = run_step(commands=["echo never"])
    kinds = [(kind, step) for kind, step, _ in run_script_here([fails_as_expected, wrong_message, never])]
    assert kinds == [("cmd", 0), ("end", 0), ("cmd", 1)]


def scenario_results() -> list[ScenarioResult]:
    step = run_step(commands=["false"])
    failed = judge(1, StepRun(step, [CommandRun("false", 1, "boom")]))
    ok = judge(2, StepRun(run_step(commands=["true"]), [CommandRun("true", 0, "")]))
    return [ScenarioResult("s1", "s1.yaml", "lab1", [ok, failed], duration=1.5),
            ScenarioResult("bad", "bad.yaml", error="bad.yaml:3: unknown host 'c'"),
            ScenarioResult("slow", "slow.yaml", "lab3", stopped="timed out after 5s", duration=5.0)]


def test_junit_has_a_suite_per_scenario_and_a_case_per_step():
    root = ET.fromstring(junit_xml(scenario_results()))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "2")
    s1, bad, slow = root.findall("testsuite")
    assert [c.get("name") for c in s1.findall("testcase")] == ["02 t", "01 t"]
    assert s1.find("testcase/failure").get("message") == "expected success, got failure (exit 1)"
    assert "a $ false" in s1.find("testcase/failure").text and "boom" in s1.find("testcase/failure").text
    assert bad.find("testcase/error").get("message") == "bad.yaml:3: unknown host 'c'"
    assert slow.find("testcase/error").get("type") == "stopped"


def test_results_table_and_failure_lines():
    lines = results_table(scenario_results())
    assert lines[0].split() == ["SCENARIO", "RESULT", "STEPS", "DURATION"]
    assert lines[1].split() == ["s1", "FAILED", "1", "passed/1", "failed", "1.5s"]
    assert lines[2].split()[:2] == ["bad", "ERROR"] and lines[3].split()[:2] == ["slow", "STOPPED"]
    assert "s1:   ✘ step 1 (s1.yaml:7) t: expected success, got failure (exit 1)" in lines
    assert "slow: timed out after 5s" in lines


def test_expected_failure_shows_its_error_to_the_learner():
    step = run_step(commands=["ip link set veth-red-br master v-net-0"], expect="failure")
    result = judge(9, StepRun(step, [CommandRun(step.commands[0], 1, 'Cannot find device "veth-red-br"')]))
    assert step_lines(result) == ["      a $ ip link set veth-red-br master v-net-0",
                                  "      ✔ failure (exit 1), as expected  (0.00s)",
                                  '      | Cannot find device "veth-red-br"']


def test_output_matching_is_whitespace_robust_and_has_match_and_not_output():
    table = "inet  10.0.0.1/24   scope global eth0\n    valid_lft forever\n"
    step = run_step(commands=["ip a"], output="10.0.0.1/24 scope global eth0 valid_lft forever")
    assert judge(1, StepRun(step, [CommandRun("ip a", 0, table)])).passed
    step = run_step(commands=["ip a"], match=r"inet 10\.0\.0\.\d+/24", not_output="fd00::")
    result = judge(1, StepRun(step, [CommandRun("ip a", 0, table)]))
    assert not result.passed and result.got == "success, not matching 'inet 10\\\\.0\\\\.0\\\\.\\\\d+/24'"
    step = run_step(commands=["ip a"], match=r"inet\s+10\.0\.0\.\d+/24", not_output="scope   global")
    result = judge(1, StepRun(step, [CommandRun("ip a", 0, table)]))
    assert not result.passed and result.got == "success, printing 'scope   global'"
    assert result.expected == "success, matching 'inet\\\\s+10\\\\.0\\\\.0\\\\.\\\\d+/24', not printing 'scope   global'"


def test_batch_script_compares_output_across_whitespace():
    spaced = run_step(commands=["printf 'a   b\\n  c\\n'"], output="a b c")
    never = run_step(commands=["echo never"], output="x  y")
    after = run_step(commands=["echo after"])
    kinds = [(kind, step) for kind, step, _ in run_script_here([spaced, never, after])]
    assert kinds == [("cmd", 0), ("end", 0), ("cmd", 1)]


def test_hint_is_shown_on_failure_in_terminal_and_junit():
    step = run_step(commands=["false"], hint="did you turn on forwarding?")
    failed = judge(1, StepRun(step, [CommandRun("false", 1, "")]))
    assert "      hint: did you turn on forwarding?" in step_lines(failed)
    root = ET.fromstring(junit_xml([ScenarioResult("s", "s.yaml", "lab", [failed])]))
    assert "hint: did you turn on forwarding?" in root.find("testsuite/testcase/failure").text
    ok = judge(1, StepRun(run_step(commands=["true"], hint="h"), [CommandRun("true", 0, "")]))
    assert not any("hint" in line for line in step_lines(ok))
