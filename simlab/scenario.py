"""Scenario files: a topology plus the ordered steps a learner watches.

A scenario file is YAML. The topology keys (hosts, links, segments) describe
the lab; ``steps`` lists what happens in it. A file without steps is a plain
topology, which is what ``simlab up`` takes. README documents the format and
``simlab schema`` prints it as JSON Schema.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simlab.errors import InputError
from simlab.problems import Problems
from simlab.resources import shipped_folder
from simlab.topology import NAME_RE, TOPOLOGY_KEYS, Topology, check_command, parse_topology
from simlab.yamlsource import Path_, Source, load_yaml

SCENARIO_KEYS = TOPOLOGY_KEYS | {"tutorial", "steps"}
STEP_KEYS = {"title", "note", "section", "host", "netns", "run", "ping", "expect", "output", "deadline", "timeout"}
MAX_STEP_TIMEOUT = 3600
RUN_EXPECT = ("success", "failure")
PING_EXPECT = ("reply", "no-reply", "unreachable")
# How long a ping waits when the step gives no deadline. A reply (or an
# ICMP error) ends the wait at once, so only "no-reply" pays its full window:
# three probes in 0.5 s, where a reply in a sealed lab takes under a millisecond.
DEFAULT_DEADLINE = {"reply": 3.0, "no-reply": 0.5, "unreachable": 2.0}
MAX_STEPS = 10_000
# A step's commands travel to its host inside one exec argument, which Linux caps at 128 KiB.
MAX_STEP_SCRIPT = 48 * 1024
PING_TARGET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:%_-]*")  # an address or a host name, nothing for a shell


@dataclass
class Step:
    """One thing that happens on a host (or in a namespace of it)."""

    title: str
    host: str
    netns: str | None = None
    note: str = ""
    section: str = ""
    line: int = 0
    timeout: float | None = None  # seconds each command may take; None: the run's default

    @property
    def where(self) -> str:
        return f"{self.host}/{self.netns}" if self.netns else self.host


@dataclass
class RunStep(Step):
    """Shell commands, run in order; each must succeed, or the last must fail."""

    commands: list[str] = field(default_factory=list)
    expect: str = "success"
    output: str | None = None


@dataclass
class PingStep(Step):
    """A reachability check: ping ``target`` and classify what came back."""

    target: str = ""
    expect: str = "reply"
    deadline: float = DEFAULT_DEADLINE["reply"]


@dataclass
class Scenario:
    topology: Topology
    steps: list[Step]
    file: str
    tutorial: str = ""

    @property
    def name(self) -> str:
        return self.topology.name

    @property
    def description(self) -> str:
        return self.topology.description


def load_scenario(path: str | Path) -> Scenario:
    """Load and check a scenario (or plain topology) file; raise InputError listing every problem."""
    data, source = load_yaml(path)
    return scenario_from_data(data, source, Path(path).stem)


def scenario_from_data(data: Any, source: Source, default_name: str) -> Scenario:
    """Check loaded data (from YAML, or built in code) as a scenario; InputError lists every problem."""
    problems = Problems(source)
    if not isinstance(data, dict):
        problems.add((), "a scenario file must be a mapping with at least 'hosts' (and usually 'steps')")
        problems.raise_if_any()
    for key in data.keys() - SCENARIO_KEYS:
        problems.add((key,), f"unknown key {key!r}; known keys: {', '.join(sorted(SCENARIO_KEYS))}")
    topology = parse_topology(data, problems, default_name=default_name)
    raw_steps = data.get("steps", [])
    if not isinstance(raw_steps, list):
        problems.add(("steps",), "steps must be a list")
        raw_steps = []
    if len(raw_steps) > MAX_STEPS:
        problems.add(("steps",), f"{len(raw_steps)} steps; a scenario has at most {MAX_STEPS} steps")
        raw_steps = []
    steps = [s for i, raw in enumerate(raw_steps) if (s := _parse_step(raw, ("steps", i), topology, problems))]
    if not problems.messages:
        _check_namespaces(topology, steps, problems)
    problems.raise_if_any()
    return Scenario(topology, steps, source.file, str(data.get("tutorial", "")))


def _parse_step(raw: Any, path: Path_, topology: Topology, problems: Problems) -> Step | None:
    line = problems.source.line(path)
    if not isinstance(raw, dict):
        problems.add(path, "a step must be a mapping with title, host and run or ping")
        return None
    for key in raw.keys() - STEP_KEYS:
        problems.add(path + (key,), f"unknown key {key!r} in step; known keys: {', '.join(sorted(STEP_KEYS))}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add(path, "every step needs a title")
        title = f"step {path[-1]}"
    host, netns = raw.get("host"), raw.get("netns")
    if not isinstance(host, str) or host not in topology.hosts:
        known = ", ".join(sorted(topology.hosts))
        problems.add(path + ("host",), f"step {title!r}: unknown host {host!r} (hosts: {known})")
    if netns is not None and (not isinstance(netns, str) or not NAME_RE.fullmatch(netns)):
        problems.add(path + ("netns",), f"step {title!r}: netns {netns!r} is not a namespace name")
    common = dict(title=title, host=str(host), netns=netns, note=str(raw.get("note", "")).strip(),
                  section=str(raw.get("section", "")), line=line, timeout=_parse_timeout(raw, path, problems))
    if ("run" in raw) == ("ping" in raw):
        problems.add(path, f"step {title!r} needs exactly one of 'run' (commands) or 'ping' (a check)")
        return None
    if "run" in raw:
        return _parse_run(raw, path, common, problems)
    return _parse_ping(raw, path, common, problems)


def _parse_timeout(raw: dict, path: Path_, problems: Problems) -> float | None:
    timeout = raw.get("timeout")
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_STEP_TIMEOUT:
        problems.add(path + ("timeout",), f"timeout is the seconds each command of the step may take, "
                                          f"more than 0 and at most {MAX_STEP_TIMEOUT}")
        return None
    return float(timeout)


def _parse_run(raw: dict, path: Path_, common: dict, problems: Problems) -> RunStep | None:
    commands = raw["run"] if isinstance(raw["run"], list) else [raw["run"]]
    if not commands or not all(isinstance(c, str) and c.strip() for c in commands):
        problems.add(path + ("run",), "run must be a command or a list of commands")
        return None
    run_path = path + ("run",)
    if not all([check_command(c, run_path + (i,) if isinstance(raw["run"], list) else run_path, problems)
                for i, c in enumerate(commands)]):
        return None
    expect = raw.get("expect", "success")
    if expect not in RUN_EXPECT:
        problems.add(path + ("expect",), f"a run step expects 'success' or 'failure', not {expect!r}")
    output = raw.get("output")
    if output is not None and not isinstance(output, str):
        problems.add(path + ("output",), "output must be the text the command must print")
    if "deadline" in raw:
        problems.add(path + ("deadline",), "'deadline' belongs to ping steps")
    if isinstance(output, str):
        output = output.rstrip("\n")  # a YAML block ends in a newline; command output as captured does not
        if "\0" in output:
            problems.add(path + ("output",), "output cannot contain a NUL character")
    script = sum(len(shlex.quote(text).encode("utf-8", "surrogatepass"))
                 for text in [*commands, output if isinstance(output, str) else ""])
    if script > MAX_STEP_SCRIPT:
        problems.add(path + ("run",), f"this step's commands and output take {script} bytes as a shell script; "
                                      f"at most {MAX_STEP_SCRIPT} per step")
        return None
    return RunStep(**common, commands=[c.strip() for c in commands], expect=expect, output=output)


def _parse_ping(raw: dict, path: Path_, common: dict, problems: Problems) -> PingStep | None:
    target = raw["ping"]
    if not isinstance(target, str) or not PING_TARGET_RE.fullmatch(target.strip()):
        problems.add(path + ("ping",), "ping takes one address or host name to ping")
        return None
    expect = raw.get("expect", "reply")
    if expect not in PING_EXPECT:
        problems.add(path + ("expect",), f"a ping step expects one of {', '.join(PING_EXPECT)}, not {expect!r}")
        expect = "reply"
    deadline = raw.get("deadline", DEFAULT_DEADLINE[expect])
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0.1 <= deadline <= 60:
        problems.add(path + ("deadline",), "deadline is seconds to wait, from 0.1 to 60")
        deadline = DEFAULT_DEADLINE[expect]
    if "output" in raw:
        problems.add(path + ("output",), "'output' belongs to run steps")
    return PingStep(**common, target=target.strip(), expect=expect, deadline=float(deadline))


NETNS_USE = re.compile(r"\bip\s+(?:netns\s+(add|exec|del|delete)\s+([\w.-]+)|-n(?:etns)?\s+([\w.-]+))")


def _check_namespaces(topology: Topology, steps: list[Step], problems: Problems) -> None:
    """A namespace used (netns:, ip netns exec, ip -n) before any step or setup command
    creates it (ip netns add) on that host is an error the file can show without a lab.
    Runs only on a file without other problems, so ``steps`` are the file's steps in order."""
    created = {name: set() for name in topology.hosts}
    for host in topology.hosts.values():
        for command in host.setup:
            _follow_namespaces(command, created[host.name], lambda ns: None)
    for i, step in enumerate(steps):
        def used_before_made(ns: str, key: Path_, step: Step = step) -> None:
            problems.add(key, f"step {step.title!r} uses namespace {ns!r} on {step.host} before any "
                              f"step creates it (ip netns add {ns})")
        if step.netns and step.netns not in created[step.host]:
            used_before_made(step.netns, ("steps", i, "netns"))
            created[step.host].add(step.netns)  # one error per namespace is enough
        for k, command in enumerate(step.commands if isinstance(step, RunStep) else []):
            _follow_namespaces(command, created[step.host],
                               lambda ns, k=k, i=i: used_before_made(ns, ("steps", i, "run", k)))


def _follow_namespaces(command: str, created: set[str], on_missing: Callable[[str], None]) -> None:
    for verb, name, short in NETNS_USE.findall(command):
        ns = name or short
        if verb == "add":
            created.add(ns)
        elif verb in ("del", "delete"):
            created.discard(ns)
        elif ns not in created:
            on_missing(ns)
            created.add(ns)


def shipped_scenarios_dir() -> Path:
    """The scenarios that come with simlab (SIMLAB_SCENARIOS overrides, for tests)."""
    override = os.environ.get("SIMLAB_SCENARIOS")
    return Path(override) if override else shipped_folder("scenarios")


def shipped_scenarios() -> list[Path]:
    return sorted(shipped_scenarios_dir().glob("*.yaml"))


def resolve_scenario(name_or_file: str) -> Path:
    """A path to an existing file, or the shipped scenario of that name."""
    path = Path(name_or_file)
    if path.exists() and not path.is_dir():  # a FIFO or a device too: loading says what is wrong with it
        return path
    shipped = shipped_scenarios_dir() / f"{name_or_file}.yaml"
    if "/" not in name_or_file and shipped.is_file():
        return shipped
    names = ", ".join(p.stem for p in shipped_scenarios()) or "none found"
    raise InputError(f"{name_or_file}: no such file, and no shipped scenario of that name "
                     f"(shipped: {names}; `simlab list` describes them)")
