"""Hostile and malformed input: every kind ends in exit 2 and one line per problem,
`file:line:col: ...` (`file:line: ...` where only a line is known), never a traceback, a hang or a MemoryError. The small cases live in
tests/data/bad (test_loading checks their exact errors); the big or special ones
(FIFOs, devices, deep nesting, huge numbers, too many hosts) are made here."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import DATA, simlab
from simlab.errors import InputError
from simlab.model.problems import Problems
from simlab.model.scenario import MAX_STEPS, load_scenario
from simlab.model.topology import MAX_COMMAND, MAX_HOSTS, check_image
from simlab.model.yamlsource import MAX_FILE_BYTES, Source
from simlab.reports.junit import junit_xml
from simlab.results import ScenarioResult, StepResult
from simlab.steps.run import MAX_STEP_SCRIPT

BAD = sorted((DATA / "bad").glob("*.yaml"))
HOST = "hosts:\n  a: {}\n"


def write(text: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "lab.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    return make


def fifo(folder: Path) -> Path:
    path = folder / "fifo.yaml"
    os.mkfifo(path)
    return path


def folder(folder: Path) -> Path:
    (folder / "dir.yaml").mkdir()
    return folder / "dir.yaml"


def steps(count: int, command: str = "true") -> str:
    return HOST + "steps:\n" + f"  - {{title: t, host: a, run: '{command}'}}\n" * count


# kind -> (how to make it, where: the line and the column if known, what the message says)
HOSTILE: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "fifo": (fifo, "1", "this is a FIFO; a scenario must be a regular file"),
    "dev-zero": (lambda _: Path("/dev/zero"), "1", "this is a device; a scenario must be a regular file"),
    "folder": (folder, "1", "this is a folder; a scenario must be a regular file"),
    "over-1-MiB": (write("# padding\n" * (MAX_FILE_BYTES // 10 + 1)), "1",
                   f"the file is {(MAX_FILE_BYTES // 10 + 1) * 10} bytes, over the 1024 KiB limit"),
    "not-utf8": (write(b"hosts:\n  a: {}\ndescription: caf\xe9\n"), "3:17", "not UTF-8 text (byte 0xe9)"),
    "deep-flow": (write("hosts: " + "[" * 10_000 + "]" * 10_000 + "\n"), "1:1007", "YAML syntax error: exceeded maximum nesting depth"),
    "deep-block": (write("".join("  " * i + f"k{i}:\n" for i in range(200))), "64:127", "nesting deeper than 64 levels"),
    "alias-chain": (write("a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 2000))),
                    "1:10", "nesting deeper than 64 levels"),
    "5000-digits": (write(HOST + "description: " + "9" * 5000 + "\n"), "3:14", "an integer of more than 30 digits"),
    "too-many-hosts": (write("hosts:\n" + "".join(f"  h{i}: {{}}\n" for i in range(MAX_HOSTS + 1))), "1:1",
                       f"hosts: {MAX_HOSTS + 1} hosts; simlab runs labs of at most {MAX_HOSTS} hosts"),
    "too-many-steps": (write(steps(MAX_STEPS + 1)), "3:1",
                       f"steps: {MAX_STEPS + 1} steps; a scenario has at most {MAX_STEPS} steps"),
    "long-command": (write(steps(1, "x" * (MAX_COMMAND + 1))), "4:30",
                     f"steps[0].run: a command of {MAX_COMMAND + 1} bytes; at most {MAX_COMMAND} bytes per command"),
    "step-over-one-exec": (write(HOST + "steps:\n  - {title: t, host: a, run: [" + ", ".join(["x" * 16000] * 4) + "]}\n"),
                           "4:30", "steps[0].run: this step's commands and output take 64002 bytes as a shell script; "
                              f"at most {MAX_STEP_SCRIPT} per step"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_file_is_refused_in_one_line(kind: str, tmp_path: Path) -> None:
    make, where, message = HOSTILE[kind]
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}:{where}: {message}")
    assert "\n" not in str(caught.value)


def test_check_refuses_each_hostile_file_in_one_line(tmp_path: Path) -> None:
    expected = []
    for kind, (make, where, _) in HOSTILE.items():
        if kind != "folder":  # check looks for scenarios in a folder
            (tmp_path / kind).mkdir()
            expected.append((make(tmp_path / kind), where))
    done = simlab("check", *(str(path) for path, _ in expected), timeout=120)  # a FIFO once blocked for ever
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(expected), done.stderr
    for (path, where), said in zip(expected, lines):
        assert said.startswith(f"{path}:{where}: ")


def test_check_reports_every_bad_file_in_file_line_form() -> None:
    done = simlab("check", *map(str, BAD), timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert all(re.match(r"\S+\.yaml:\d+:\d+: ", line) or line.endswith(":1: the file is empty")
               for line in lines), done.stderr
    assert {line.split(":")[0] for line in lines} == {str(p) for p in BAD}


def test_up_refuses_a_fifo_without_an_engine(tmp_path: Path) -> None:
    path = fifo(tmp_path)
    done = simlab("up", str(path), timeout=60, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert done.returncode == 2
    assert done.stderr == f"simlab: error: {path}:1: this is a FIFO; a scenario must be a regular file\n"


def test_check_accepts_topologies_and_every_good_file() -> None:
    done = simlab("check", str(DATA / "good"), str(DATA / "mixed" / "topology-only.yaml"), "scenarios", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("file(s) OK (2 topology-only)")


def test_validate_still_refuses_a_topology_for_running() -> None:
    from simlab.runs.validate import load_all

    scenarios, errors = load_all([DATA / "mixed" / "topology-only.yaml"])
    assert scenarios == [] and "no steps" in errors[0].error


def test_plain_yaml_still_loads(tmp_path: Path) -> None:
    path = write("description: 2026-11-28\n"  # a date stays text
                 "tutorial: !!str 12\n"
                 "hosts:\n"
                 "  a: &host {interfaces: {eth0: '10.0.0.1/24'}, sysctls: {net.ipv4.ip_forward: !!int '1'}}\n"
                 "  b: {interfaces: {eth0: 10.0.0.2/24}, setup: [\"printf '\\\\033[0m'\"]}\n"
                 "links: [[a:eth0, b:eth0]]\n")(tmp_path)
    scenario = load_scenario(path)
    assert scenario.description == "2026-11-28" and scenario.tutorial == "12"
    assert scenario.topology.hosts["a"].sysctls == {"net.ipv4.ip_forward": "1"}


@pytest.mark.parametrize("routes", [
    ["default via 10.0.0.2"],
    ["default via 192.168.99.1 dev eth0"],  # naming the interface: the user says it is on-link
    ["172.16.0.0/12 dev eth0", "10.7.0.0/16 via 172.16.0.1"],  # on-link through an earlier route
    ["default via fe80::1 dev eth0", "default via 10.0.0.2"],  # IPv4 and IPv6 defaults differ
    ["2001:db8:1::/48 via 2001:db8::2"],
])
def test_on_link_routes_are_accepted(routes: list[str], tmp_path: Path) -> None:
    path = write("hosts:\n"
                 f"  a: {{interfaces: {{eth0: [10.0.0.1/24, '2001:db8::1/64']}}, routes: {routes}}}\n"
                 "  b: {interfaces: {eth0: 10.0.0.2/24}}\n"
                 "links: [[a:eth0, b:eth0]]\n")(tmp_path)
    assert len(load_scenario(path).topology.hosts["a"].routes) == len(routes)


@pytest.mark.parametrize("image", [
    "ubuntu_with_basic_net", "ubuntu:24.04", "library/ubuntu", "localhost:5000/team/img:1.0-rc_1",
    "registry.example.com/a/b/c", "[::1]:5000/img", "img@sha256:" + "ab" * 32, "a__b", "a--b.c",
])
def test_valid_image_references(image: str) -> None:
    problems = Problems(Source("f"))
    assert check_image(image, ("image",), problems) and problems.messages == []


@pytest.mark.parametrize("image", [
    "Ubuntu", "ubuntu:", "ubuntu:24.04\n", ":tag", "a//b", "-a", "a:b:c", "ubuntu@sha256:short", "ü", "a" * 256, "",
    "ubuntu:" + "t" * 129, 12,
])
def test_invalid_image_references(image: object) -> None:
    problems = Problems(Source("f"))
    assert not check_image(image, ("image",), problems)
    assert len(problems.messages) == 1 and "\n" not in problems.messages[0]


def test_junit_is_valid_xml_with_control_characters() -> None:
    title = "colours \x1b[31mred\x1b[0m and a NUL \x00"
    step = StepResult(index=1, title=title, kind="run", where="a", commands=["printf '\\033[31m'"],
                      expected="success", got="failure", passed=False, output="\x1b[31mred\x07\ud800", line=3)
    result = ScenarioResult("s\x1b", "f.yaml", steps=[step], error="engine said \x1b[1mno")
    root = ET.fromstring(junit_xml([result]).encode())
    case = root.find("testsuite/testcase")
    assert case.get("name") == "01 colours \\x1b[31mred\\x1b[0m and a NUL \\x00"
    assert case.find("failure").text.endswith("\\x1b[31mred\\x07\\ud800")
    assert root.find("testsuite").get("name") == "s\\x1b"
