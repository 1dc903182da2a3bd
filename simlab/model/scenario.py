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
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simlab.checks.capture import PROTOS as PACKET_PROTOS
from simlab.checks.capture import Evidence, Spot
from simlab.checks.outcome import REASONS
from simlab.errors import InputError
from simlab.model.problems import Problems
from simlab.resources import shipped_folder
from simlab.model.topology import IFNAME_CHAR, NAME_CHARS, NAME_RE, TOPOLOGY_KEYS, Topology, check_command, parse_topology
from simlab.model.yamlsource import Path_, Source, load_yaml

SCENARIO_KEYS = TOPOLOGY_KEYS | {"tutorial", "steps"}
# What each kind of step is (its key) and the keys it takes besides the common ones.
KIND_KEYS = {
    "run": {"expect", "output", "match", "not_output", "seen", "unseen"},
    "ping": {"expect", "deadline", "reason", "from", "count", "ttl", "source", "size", "seen", "unseen"},
    "connect": {"expect", "deadline", "reason", "from", "proto", "appears_as", "seen", "unseen"},
    "serve": {"name", "ready"},
    "route": {"expect", "via", "dev", "src"},
    "trace": {"path", "whole", "max_hops", "seen", "unseen"},
}
EVIDENCE_KEYS = {"at", "src", "dst", "proto", "count"}
SPOT_RE = re.compile(rf"^({NAME_CHARS})(?:/({NAME_CHARS}))?:({IFNAME_CHAR}+)$")
COMMON_KEYS = {"title", "note", "section", "host", "netns", "within", "hint", "timeout"}
PING_KEYS = KIND_KEYS["ping"] - {"expect"}
STEP_KEYS = COMMON_KEYS | set(KIND_KEYS) | set().union(*KIND_KEYS.values())
MAX_STEP_TIMEOUT = 3600
RUN_EXPECT = ("success", "failure")
PING_EXPECT = ("reply", "no-reply", "unreachable")
CONNECT_EXPECT = ("open", "refused", "no-reply", "unreachable")
ROUTE_EXPECT = ("route", "unreachable", "blackhole", "prohibit")
PROTOS = ("tcp", "udp")
SERVE_LISTENER = re.compile(r"^(tcp|udp)\s+(\d{1,5})$")
# How long a probe waits when the step gives no deadline. A reply (or an
# ICMP error) ends the wait at once, so only "no-reply" pays its full window:
# three probes in 0.5 s, where a reply in a sealed lab takes under a millisecond.
# "unreachable" outlasts the kernel's ARP (and NDP) resolution, which gives up on
# an address nobody holds after mcast_solicit (3) probes retrans_time (1 s) apart;
# only then does "Destination Host Unreachable" (EHOSTUNREACH) come back.
DEFAULT_DEADLINE = {"reply": 3.0, "no-reply": 0.5, "unreachable": 4.0, "open": 3.0, "refused": 3.0}
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
    within: float | None = None  # retry until the check holds, for up to this many seconds
    hint: str = ""  # shown to the learner when the step fails
    evidence: list[Evidence] = field(default_factory=list)  # seen/unseen: packets captured around the step

    @property
    def where(self) -> str:
        return f"{self.host}/{self.netns}" if self.netns else self.host


@dataclass
class RunStep(Step):
    """Shell commands, run in order; each must succeed, or the last must fail."""

    commands: list[str] = field(default_factory=list)
    expect: str = "success"
    output: str | None = None  # text the last command prints (whitespace-robust)
    match: str | None = None  # a regular expression its output matches
    not_output: str | None = None  # text it must not print


@dataclass
class PingStep(Step):
    """A reachability check: ping ``target`` and classify what came back."""

    target: str = ""
    expect: str = "reply"
    deadline: float = DEFAULT_DEADLINE["reply"]
    reason: str | None = None  # narrows "unreachable": one of checks.REASONS
    peer: str | None = None  # `from:`: the address that must answer (or send the ICMP error)
    count: int = 1
    ttl: int | None = None
    source: str | None = None  # address or interface to send from
    size: int | None = None  # payload bytes, sent with don't-fragment


@dataclass
class ConnectStep(Step):
    """Open a TCP connection, or send a UDP datagram, to ``target`` ``port``."""

    target: str = ""
    port: int = 0
    proto: str = "tcp"
    expect: str = "open"
    deadline: float = DEFAULT_DEADLINE["open"]
    reason: str | None = None
    peer: str | None = None
    appears_as: str | None = None  # the client address the serving end must see (after NAT)


@dataclass
class ServeStep(Step):
    """A detached service: simlab's TCP/UDP listener (``proto`` ``port``) or any ``command``;
    ready (listening, or its log showing ``ready``) before the next step, logging to ``log``."""

    name: str = ""
    proto: str | None = None
    port: int = 0
    command: str | None = None
    ready: str | None = None

    @property
    def log(self) -> str:
        return f"/var/log/simlab/{self.name}.log"


@dataclass
class RouteStep(Step):
    """What the kernel would do with a packet to ``target`` (ip route get)."""

    target: str = ""
    expect: str = "route"
    via: str | None = None
    dev: str | None = None
    src: str | None = None


@dataclass
class TraceStep(Step):
    """The hops toward ``target``, found with TTL-limited probes."""

    target: str = ""
    path: list[str] = field(default_factory=list)
    whole: bool = False  # the path is exactly ``path``, not only its start
    max_hops: int = 8


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
        _check_spots(topology, steps, problems)
    problems.raise_if_any()
    return Scenario(topology, steps, source.file, str(data.get("tutorial", "")))


def _parse_step(raw: Any, path: Path_, topology: Topology, problems: Problems) -> Step | None:
    line = problems.source.line(path)
    if not isinstance(raw, dict):
        problems.add(path, f"a step must be a mapping with title, host and one of {', '.join(KIND_KEYS)}")
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
                  section=str(raw.get("section", "")), line=line, within=_within(raw, path, problems),
                  hint=str(raw.get("hint", "")).strip(), timeout=_parse_timeout(raw, path, problems))
    kinds = [kind for kind in KIND_KEYS if kind in raw]
    if len(kinds) != 1:
        problems.add(path, f"step {title!r} needs exactly one of {', '.join(KIND_KEYS)}")
        return None
    kind = kinds[0]
    for key in sorted(raw.keys() & STEP_KEYS - COMMON_KEYS - {kind} - KIND_KEYS[kind]):
        owners = [k for k, keys in KIND_KEYS.items() if key in keys or key == k]
        problems.add(path + (key,), f"{key!r} belongs to {' and '.join(owners)} steps")
    if "seen" in raw or "unseen" in raw:
        common["evidence"] = _evidence(raw, path, topology, problems)
    return PARSERS[kind](raw, path, common, problems)


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
        problems.add(path + (key,), f"unknown key {key!r}; known keys: {', '.join(sorted(EVIDENCE_KEYS))}")
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
    texts = {key: raw.get(key) for key in ("output", "match", "not_output")}
    for key, text in texts.items():
        if text is not None and not isinstance(text, str):
            problems.add(path + (key,), f"{key} must be text")
            texts[key] = None
        elif text is not None and "\0" in text:
            problems.add(path + (key,), f"{key} cannot contain a NUL character")
    if texts["match"] is not None:
        try:
            re.compile(texts["match"])
        except re.error as exc:
            problems.add(path + ("match",), f"match is not a regular expression: {exc}")
    if texts["output"] is not None:
        texts["output"] = texts["output"].rstrip("\n")  # a YAML block ends in a newline; captured output not
    script = sum(len(shlex.quote(text).encode("utf-8", "surrogatepass"))
                 for text in [*commands, texts["output"] or ""])
    if script > MAX_STEP_SCRIPT:
        problems.add(path + ("run",), f"this step's commands and output take {script} bytes as a shell script; "
                                      f"at most {MAX_STEP_SCRIPT} per step")
        return None
    return RunStep(**common, commands=[c.strip() for c in commands], expect=expect, **texts)


def _target(raw: dict, key: str, path: Path_, problems: Problems, usage: str) -> str | None:
    """The one address or host name a probe step takes (``key``: ping, route, trace)."""
    target = raw[key]
    if not isinstance(target, str) or not PING_TARGET_RE.fullmatch(target.strip()):
        problems.add(path + (key,), usage)
        return None
    return target


def _expect(raw: dict, kind: str, choices: tuple[str, ...], path: Path_, problems: Problems) -> str:
    """The step's ``expect``, one of ``choices`` (the first is the default)."""
    expect = raw.get("expect", choices[0])
    if expect not in choices:
        problems.add(path + ("expect",), f"a {kind} step expects one of {', '.join(choices)}, not {expect!r}")
        expect = choices[0]
    return expect


def _parse_ping(raw: dict, path: Path_, common: dict, problems: Problems) -> PingStep | None:
    target = _target(raw, "ping", path, problems, "ping takes one address or host name to ping")
    if target is None:
        return None
    expect = _expect(raw, "ping", PING_EXPECT, path, problems)
    count = _number(raw, "count", 1, (1, 100), path, problems, "count is how many probes to send, from 1 to 100")
    deadline = _number(raw, "deadline", DEFAULT_DEADLINE[expect] + 0.2 * (count - 1), (0.1, 60), path, problems,
                       "deadline is seconds to wait, from 0.1 to 60")
    ttl = _number(raw, "ttl", None, (1, 255), path, problems, "ttl is a hop limit, from 1 to 255")
    size = _number(raw, "size", None, (0, 65507), path, problems, "size is payload bytes, from 0 to 65507")
    return PingStep(**common, target=target.strip(), expect=expect, deadline=float(deadline),
                    reason=_reason(raw, expect, path, problems), peer=_text(raw, "from", path, problems),
                    count=int(count), ttl=ttl, source=_text(raw, "source", path, problems), size=size)


def _number(raw: dict, key: str, default: float | None, bounds: tuple[float, float], path: Path_,
            problems: Problems, message: str) -> Any:
    if key not in raw:
        return default
    value = raw[key]
    whole = key != "deadline"
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int))
            or not bounds[0] <= value <= bounds[1]):
        problems.add(path + (key,), message)
        return default
    return value


def _reason(raw: dict, expect: str, path: Path_, problems: Problems) -> str | None:
    reason = raw.get("reason")
    if reason is None:
        return None
    if expect != "unreachable":
        problems.add(path + ("reason",), f"reason narrows 'unreachable'; the outcome {expect!r} has none")
        return None
    if reason not in REASONS:
        problems.add(path + ("reason",), f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
        return None
    return reason


def _text(raw: dict, key: str, path: Path_, problems: Problems) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or " " in value.strip():
        problems.add(path + (key,), f"{key} takes one address (or interface)")
        return None
    return value.strip()


def _parse_connect(raw: dict, path: Path_, common: dict, problems: Problems) -> ConnectStep | None:
    target, port = _host_port(raw["connect"])
    if target is None:
        problems.add(path + ("connect",), "connect takes HOST:PORT (an address or host name, and a port 1-65535)")
        return None
    expect = _expect(raw, "connect", CONNECT_EXPECT, path, problems)
    proto = raw.get("proto", "tcp")
    if proto not in PROTOS:
        problems.add(path + ("proto",), f"proto is tcp or udp, not {proto!r}")
        proto = "tcp"
    deadline = _number(raw, "deadline", DEFAULT_DEADLINE[expect], (0.1, 60), path, problems,
                       "deadline is seconds to wait, from 0.1 to 60")
    return ConnectStep(**common, target=target, port=port, proto=proto, expect=expect, deadline=float(deadline),
                       reason=_reason(raw, expect, path, problems), peer=_text(raw, "from", path, problems),
                       appears_as=_text(raw, "appears_as", path, problems))


def _host_port(value: Any) -> tuple[str | None, int]:
    if not isinstance(value, str):
        return None, 0
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not PING_TARGET_RE.fullmatch(host) or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None, 0
    return host, int(port)


def _parse_serve(raw: dict, path: Path_, common: dict, problems: Problems) -> ServeStep | None:
    serve = raw["serve"]
    if not isinstance(serve, str) or not serve.strip():
        problems.add(path + ("serve",), "serve takes 'tcp PORT', 'udp PORT' or a command to run in the background")
        return None
    if not check_command(serve, path + ("serve",), problems):
        return None
    listener = SERVE_LISTENER.match(serve.strip())
    proto, port = (listener.group(1), int(listener.group(2))) if listener else (None, 0)
    if listener and not 1 <= port <= 65535:
        problems.add(path + ("serve",), "a port is 1 to 65535")
    default = f"{proto}-{port}" if listener else f"serve-{path[-1] + 1}"
    name = raw.get("name", f"{common['netns']}-{default}" if common["netns"] else default)
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(path + ("name",), "name is letters, digits, '_', '.' or '-' (it names the log file)")
        name = default
    ready = raw.get("ready")
    if ready is not None and (not isinstance(ready, str) or listener):
        problems.add(path + ("ready",), "ready is text the command's log shows once it is ready "
                                        "(simlab's own listener needs none)")
        ready = None
    return ServeStep(**common, name=name, proto=proto, port=port, command=None if listener else serve.strip(),
                     ready=ready)


def _parse_route(raw: dict, path: Path_, common: dict, problems: Problems) -> RouteStep | None:
    target = _target(raw, "route", path, problems, "route takes one destination address")
    if target is None:
        return None
    expect = _expect(raw, "route", ROUTE_EXPECT, path, problems)
    fields = {key: _text(raw, key, path, problems) for key in ("via", "dev", "src")}
    if expect != "route":
        for key in sorted(k for k, v in fields.items() if v is not None):
            problems.add(path + (key,), f"{key} describes a route; the outcome {expect!r} has none")
    return RouteStep(**common, target=target.strip(), expect=expect, **fields)


def _parse_trace(raw: dict, path: Path_, common: dict, problems: Problems) -> TraceStep | None:
    target = _target(raw, "trace", path, problems, "trace takes one destination address or host name")
    if target is None:
        return None
    hops = raw.get("path")
    if not isinstance(hops, list) or not hops or not all(isinstance(h, str) and h.strip() for h in hops):
        problems.add(path + ("path",), "path is a non-empty list of hop addresses ('*' for a silent hop)")
        hops = []
    whole = raw.get("whole", False)
    if not isinstance(whole, bool):
        problems.add(path + ("whole",), "whole is true (the path is exactly this) or false (it starts so)")
        whole = False
    max_hops = _number(raw, "max_hops", 8, (1, 30), path, problems, "max_hops is from 1 to 30")
    if len(hops) > max_hops:
        problems.add(path + ("path",), f"path has {len(hops)} hops, more than max_hops ({max_hops})")
    return TraceStep(**common, target=target.strip(), path=[h.strip() for h in hops], whole=whole,
                     max_hops=max_hops)


PARSERS: dict[str, Callable[[dict, Path_, dict, Problems], Step | None]] = {
    "run": _parse_run, "ping": _parse_ping, "connect": _parse_connect, "serve": _parse_serve,
    "route": _parse_route, "trace": _parse_trace}


NETNS_USE = re.compile(r"\bip\s+(?:netns\s+(add|exec|del|delete)\s+([\w.-]+)|-n(?:etns)?\s+([\w.-]+))")
# Shell the static check cannot follow: expansions, loops, functions, other shells and
# scripts, ip -batch, namespaces made by hand. Such a command could create any namespace.
OPAQUE = re.compile(r"[$`]|\(\)|\b(for|while|until|eval|xargs|source|function|unshare|sh|bash|dash|python3?)\b"
                    r"|-batch\b|/run/netns|(^|[\s;&|])\.{1,2}/|(^|[;&|]\s*)\.\s|\.sh\b")


def _check_namespaces(topology: Topology, steps: list[Step], problems: Problems) -> None:
    """A namespace used (netns:, ip netns exec, ip -n) before any step or setup command
    creates it (ip netns add) on that host is an error the file can show without a lab.
    Only what the check knows is wrong: after a command it cannot follow (OPAQUE) on a
    host, it says nothing more about that host's namespaces.
    Runs only on a file without other problems, so ``steps`` are the file's steps in order."""
    created: dict[str, set[str] | None] = {name: set() for name in topology.hosts}  # None: unknown
    for host in topology.hosts.values():
        for command in host.setup:
            _follow_namespaces(command, created, host.name, lambda ns: None)
    for i, step in enumerate(steps):
        def used_before_made(ns: str, key: Path_, step: Step = step) -> None:
            problems.add(key, f"step {step.title!r} uses namespace {ns!r} on {step.host} before any "
                              f"step creates it (ip netns add {ns})")
        known = created[step.host]
        if step.netns and known is not None and step.netns not in known:
            used_before_made(step.netns, ("steps", i, "netns"))
            known.add(step.netns)  # one error per namespace is enough
        for k, command in enumerate(step.commands if isinstance(step, RunStep) else []):
            _follow_namespaces(command, created, step.host,
                               lambda ns, k=k, i=i: used_before_made(ns, ("steps", i, "run", k)))


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


def _check_spots(topology: Topology, steps: list[Step], problems: Problems) -> None:
    """A capture at an interface its host cannot have: not in the file, not named by any
    command on that host up to that step, and no command there the check cannot follow."""
    wired = {(end.host, end.interface) for end in topology.wired_interfaces()}
    said = {name: " ".join(host.setup) for name, host in topology.hosts.items()}
    opaque = {name for name, host in topology.hosts.items() if any(OPAQUE.search(c) for c in host.setup)}
    for i, step in enumerate(steps):
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
        if isinstance(step, RunStep):
            said[step.host] += " " + " ".join(step.commands)
            if any(OPAQUE.search(c) for c in step.commands):
                opaque.add(step.host)


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
