"""Scenario files: a topology plus the ordered steps a learner watches.

A scenario file is YAML. The topology keys (hosts, links, segments) describe
the lab; ``steps`` lists what happens in it. A file without steps is a plain
topology, which is what ``simlab up`` takes. README documents the format and
``simlab schema`` prints it as JSON Schema.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from simlab.checks.capture import PROTOS as PACKET_PROTOS
from simlab.checks.capture import Evidence, Spot
from simlab.errors import InputError
from simlab.model import clab
from simlab.model.names import did_you_mean, unknown_key
from simlab.model.problems import Problems
from simlab.model.topology import IFNAME_CHAR, NAME_CHARS, NAME_RE, TOPOLOGY_KEYS, Topology, parse_topology
from simlab.model.yamlsource import Path_, Source, load_yaml
from simlab.resources import shipped_folder
from simlab.steps import KINDS, ConnectStep, PingStep, RouteStep, RunStep, ServeStep, Step, TraceStep
from simlab.steps.fields import Fields
from simlab.steps.probe import DEFAULT_DEADLINE

__all__ = ["DEFAULT_DEADLINE", "KINDS", "ConnectStep", "PingStep", "RouteStep", "RunStep", "Scenario", "ServeStep",
           "Step", "TraceStep", "load_scenario", "resolve_scenario", "scenario_from_data", "shipped_scenarios",
           "step_from_data"]

SCENARIO_KEYS = TOPOLOGY_KEYS | {"tutorial", "steps"}
EVIDENCE_KEYS = {"at", "src", "dst", "proto", "count"}
# What each kind of step is (its key) and the keys it takes besides the common ones.
KIND_KEYS = {key: set(kind.options) | ({"seen", "unseen"} if kind.evidence else set()) for key, kind in KINDS.items()}
SPOT_RE = re.compile(rf"^({NAME_CHARS})(?:/({NAME_CHARS}))?:({IFNAME_CHAR}+)$")
COMMON_KEYS = {"title", "note", "section", "host", "netns", "within", "hint", "timeout"}
STEP_KEYS = COMMON_KEYS | set(KIND_KEYS) | set().union(*KIND_KEYS.values())
MAX_STEP_TIMEOUT = 3600
MAX_STEPS = 10_000


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
    """Load and check a scenario (or plain topology) file, or a containerlab topology
    (clab.py); raise InputError listing every problem."""
    data, source = load_yaml(path)
    if clab.is_clab(path, data):
        return _from_clab(data, source, clab.default_name(path))
    return scenario_from_data(data, source, Path(path).stem)


def _from_clab(data: Any, source: Source, default_name: str) -> Scenario:
    """A containerlab topology, checked as a simlab file at the lines of its own keys: the
    problems of both readings at once."""
    translated, lines, problems = clab.translate(data, source)
    try:
        scenario = scenario_from_data(translated, lines, default_name)
    except InputError as exc:
        raise InputError("\n".join([*problems.messages, str(exc)])) from None
    problems.raise_if_any()
    scenario.topology.warnings[:0] = problems.warnings
    return scenario


def scenario_from_data(data: Any, source: Source, default_name: str) -> Scenario:
    """Check loaded data (from YAML, or built in code) as a scenario; InputError lists every problem."""
    problems = Problems(source)
    if not isinstance(data, dict):
        problems.add((), "a scenario file must be a mapping with at least 'hosts' (and usually 'steps')")
        problems.raise_if_any()
    for key in data.keys() - SCENARIO_KEYS:
        problems.add((key,), unknown_key(key, SCENARIO_KEYS), at_key=True)
    topology = parse_topology(data, problems, default_name=default_name)
    raw_steps = data.get("steps", [])
    if not isinstance(raw_steps, list):
        problems.add(("steps",), "steps must be a list")
        raw_steps = []
    if len(raw_steps) > MAX_STEPS:
        problems.add(("steps",), f"{len(raw_steps)} steps; a scenario has at most {MAX_STEPS} steps")
        raw_steps = []
    parsed = [(i, s) for i, raw in enumerate(raw_steps) if (s := _parse_step(raw, ("steps", i), topology, problems))]
    on_hosts = [(i, s) for i, s in parsed if s.host in topology.hosts]  # the rest already have their problem
    _check_namespaces(topology, on_hosts, problems)  # in the same pass: every problem at once
    _check_spots(topology, on_hosts, problems)
    _check_targets(topology, on_hosts, problems)
    problems.raise_if_any()
    return Scenario(topology, [s for _, s in parsed], source.file, str(data.get("tutorial", "")))


def step_from_data(raw: dict[str, Any], topology: Topology, where: str) -> Step:
    """One step from its keys, as in a file (``where`` names it in errors), checked against
    ``topology``; InputError names every problem."""
    problems = Problems(Source(where))
    step = _parse_step(raw, ("step", 0), topology, problems)
    problems.raise_if_any()
    assert step is not None  # no problems means a step
    return step


def _parse_step(raw: Any, path: Path_, topology: Topology, problems: Problems) -> Step | None:
    line = problems.source.line(path)
    if not isinstance(raw, dict):
        problems.add(path, f"a step must be a mapping with title, host and one of {', '.join(KIND_KEYS)}")
        return None
    for key in raw.keys() - STEP_KEYS:
        problems.add(path + (key,), unknown_key(key, STEP_KEYS, " in step"), at_key=True)
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add(path, "every step needs a title")
        title = f"step {path[-1]}"
    host, netns = raw.get("host"), raw.get("netns")
    if not isinstance(host, str) or host not in topology.hosts:
        known = ", ".join(sorted(topology.hosts))
        problems.add(path + ("host",), f"step {title!r}: unknown host {host!r}"
                                       + (did_you_mean(host, topology.hosts) or f" (hosts: {known})"))
    if netns is not None and (not isinstance(netns, str) or not NAME_RE.fullmatch(netns)):
        problems.add(path + ("netns",), f"step {title!r}: netns {netns!r} is not a namespace name")
    common = dict(title=title, host=str(host), netns=netns, note=str(raw.get("note", "")).strip(),
                  section=str(raw.get("section", "")), line=line, within=_within(raw, path, problems),
                  hint=str(raw.get("hint", "")).strip(), timeout=_parse_timeout(raw, path, problems))
    kinds = [kind for kind in KIND_KEYS if kind in raw]
    if len(kinds) != 1:
        problems.add(path, f"step {title!r} needs exactly one of {', '.join(KIND_KEYS)}")
        return None
    kind = kinds[0]
    for key in sorted(raw.keys() & STEP_KEYS - COMMON_KEYS - {kind} - KIND_KEYS[kind]):
        owners = [k for k, keys in KIND_KEYS.items() if key in keys or key == k]
        problems.add(path + (key,), f"{key!r} belongs to {' and '.join(owners)} steps", at_key=True)
    if "seen" in raw or "unseen" in raw:
        common["evidence"] = _evidence(raw, path, topology, problems)
    return KINDS[kind].parse(Fields(raw, path, problems), common)


def _evidence(raw: dict, path: Path_, topology: Topology, problems: Problems) -> list[Evidence]:
    found = []
    for key in ("seen", "unseen"):
        if key not in raw:
            continue
        entries = raw[key]
        if not isinstance(entries, list) or not entries:
            problems.add(path + (key,), f"{key} is a list of {{at: HOST[/NETNS]:IFACE, src, dst, proto, count}}")
            continue
        for n, entry in enumerate(entries):
            evidence = _one_evidence(entry, key == "seen", path + (key, n), topology, problems)
            if evidence:
                found.append(evidence)
    return found


def _one_evidence(entry: Any, seen: bool, path: Path_, topology: Topology, problems: Problems) -> Evidence | None:
    if not isinstance(entry, dict) or "at" not in entry:
        problems.add(path, "each entry needs at: HOST[/NETNS]:IFACE (and any of src, dst, proto, count)")
        return None
    for key in sorted(entry.keys() - EVIDENCE_KEYS):
        problems.add(path + (key,), f"unknown key {key!r}; known keys: {', '.join(sorted(EVIDENCE_KEYS))}",
                     at_key=True)
    spot = SPOT_RE.match(str(entry["at"]))
    if not spot:
        problems.add(path + ("at",), f"at is HOST[/NETNS]:IFACE, like outside:eth0, not {entry['at']!r}")
        return None
    host, netns, iface = spot.groups()
    if host not in topology.hosts:
        problems.add(path + ("at",), f"unknown host {host!r} (hosts: {', '.join(sorted(topology.hosts))})")
        return None
    proto = entry.get("proto")
    if proto is not None and proto not in PACKET_PROTOS:
        problems.add(path + ("proto",), f"proto is one of {', '.join(PACKET_PROTOS)}, not {proto!r}")
        proto = None
    count = entry.get("count")
    if count is not None and (not seen or isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.add(path + ("count",), "count is how many matching packets are seen, 1 or more (unseen means none)")
        count = None
    addresses = {}
    for key in ("src", "dst"):
        value = entry.get(key)
        if value is not None and not _is_address(value):
            problems.add(path + (key,), f"{key} is an IPv4 or IPv6 address, not {value!r}")
            value = None
        addresses[key] = str(ipaddress.ip_address(value)) if value is not None else None  # as tcpdump prints it
    return Evidence(Spot(host, iface, netns), seen, addresses["src"], addresses["dst"], proto, count)


def _is_address(value: Any) -> bool:
    try:
        ipaddress.ip_address(str(value))
        return isinstance(value, str)
    except ValueError:
        return False


def _within(raw: dict, path: Path_, problems: Problems) -> float | None:
    within = raw.get("within")
    if within is None:
        return None
    if isinstance(within, bool) or not isinstance(within, (int, float)) or not 0 < within <= 600:
        problems.add(path + ("within",), "within is seconds to keep retrying, more than 0 and at most 600")
        return None
    return float(within)


def _parse_timeout(raw: dict, path: Path_, problems: Problems) -> float | None:
    timeout = raw.get("timeout")
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_STEP_TIMEOUT:
        problems.add(path + ("timeout",), f"timeout is the seconds each command of the step may take, "
                                          f"more than 0 and at most {MAX_STEP_TIMEOUT}")
        return None
    return float(timeout)


NETNS_USE = re.compile(r"\bip\s+(?:netns\s+(add|exec|del|delete)\s+([\w.-]+)|-n(?:etns)?\s+([\w.-]+))")
# Shell the static check cannot follow: expansions, loops, functions, other shells and
# scripts, ip -batch, namespaces made by hand. Such a command could create any namespace.
OPAQUE = re.compile(r"[$`]|\(\)|\b(for|while|until|eval|xargs|source|function|unshare|sh|bash|dash|python3?)\b"
                    r"|-batch\b|/run/netns|(^|[\s;&|])\.{1,2}/|(^|[;&|]\s*)\.\s|\.sh\b")


def _check_namespaces(topology: Topology, steps: list[tuple[int, Step]], problems: Problems) -> None:
    """A namespace used (netns:, ip netns exec, ip -n) before any step or setup command
    creates it (ip netns add) on that host is an error the file can show without a lab.
    Only what the check knows is wrong: after a command it cannot follow (OPAQUE) on a
    host, it says nothing more about that host's namespaces.
    ``steps``: each parsed step on a known host, with its index in the file."""
    created: dict[str, set[str] | None] = {name: set() for name in topology.hosts}  # None: unknown
    for host in topology.hosts.values():
        for command in host.setup:
            _follow_namespaces(command, created, host.name, lambda ns: None)
    for i, step in steps:
        def used_before_made(ns: str, key: Path_, step: Step = step) -> None:
            problems.add(key, f"step {step.title!r} uses namespace {ns!r} on {step.host} before any "
                              f"step creates it (ip netns add {ns})")
        known = created[step.host]
        if step.netns and NAME_RE.fullmatch(step.netns) and known is not None and step.netns not in known:
            used_before_made(step.netns, ("steps", i, "netns"))
            known.add(step.netns)  # one error per namespace is enough
        for k, command in enumerate(_lab_commands(step)):
            _follow_namespaces(command, created, step.host, partial(used_before_made, key=("steps", i, "run", k)))


def _follow_namespaces(command: str, created: dict[str, set[str] | None], host: str,
                       on_missing: Callable[[str], None]) -> None:
    known = created[host]
    if known is None:
        return
    if OPAQUE.search(command):
        created[host] = None
        return
    for verb, name, short in NETNS_USE.findall(command):
        ns = name or short
        if verb == "add":
            known.add(ns)
        elif verb in ("del", "delete"):
            known.discard(ns)
        elif ns not in known:
            on_missing(ns)
            known.add(ns)


def _check_spots(topology: Topology, steps: list[tuple[int, Step]], problems: Problems) -> None:
    """A capture at an interface its host cannot have: not in the file, not named by any
    command on that host up to that step, and no command there the check cannot follow."""
    wired = {(end.host, end.interface) for end in topology.wired_interfaces()}
    said = {name: " ".join(host.setup) for name, host in topology.hosts.items()}
    opaque = {name for name, host in topology.hosts.items() if any(OPAQUE.search(c) for c in host.setup)}
    for i, step in steps:
        for evidence in step.evidence:
            spot = evidence.spot
            declared = spot.iface in ("lo", "any") or (spot.host, spot.iface) in wired or (
                spot.iface in topology.hosts[spot.host].addresses)
            if not (declared or spot.host in opaque or re.search(rf"(?<![\w.-]){re.escape(spot.iface)}(?![\w.-])",
                                                                  said[spot.host])):
                key = "seen" if evidence.seen else "unseen"
                index = [e for e in step.evidence if e.seen == evidence.seen].index(evidence)
                problems.add(("steps", i, key, index, "at"),
                             f"no interface {spot.iface!r} on {spot.host}: not in the file and no step before "
                             f"this one creates it")
        said[step.host] += " " + " ".join(_lab_commands(step))
        if any(OPAQUE.search(c) for c in _lab_commands(step)):
            opaque.add(step.host)


def _check_targets(topology: Topology, steps: list[tuple[int, Step]], problems: Problems) -> None:
    """A probe's target that is neither an address nor a name the lab's /etc/hosts has (a host,
    HOST-IFACE), nor a name any command of the file mentions (one that adds it to /etc/hosts,
    say), could never be reached."""
    said = " ".join([c for host in topology.hosts.values() for c in host.setup]
                    + [c for _, step in steps for c in _lab_commands(step)]
                    + [str(getattr(step, "command", "") or "") for _, step in steps])  # a service's own command
    names = set(topology.hosts) | {f"{host.name}-{iface}" for host in topology.hosts.values()  # as /etc/hosts has
                                   for iface, addresses in host.addresses.items() if addresses}
    for i, step in steps:
        target = getattr(step, "target", "")
        if not target or step.KIND not in ("ping", "connect", "route", "trace") or _is_address(target):
            continue
        if target not in names and not re.search(rf"(?<![\w.-]){re.escape(target)}(?![\w.-])", said):
            problems.add(("steps", i, step.KIND), f"{target!r} is neither an address nor a host of this lab"
                         + (did_you_mean(target, topology.hosts) or f" (hosts: {', '.join(sorted(topology.hosts))})"))


def _lab_commands(step: Step) -> list[str]:
    """The author's own commands of a step that changes the lab (not a probe's script)."""
    kind = KINDS[step.KIND]
    return kind.commands(step) if kind.changes_lab else []


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
