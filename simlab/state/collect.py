"""Gather a lab's live state: one exec per host, all hosts at once.

Each host runs a small POSIX script that prints, for its own namespace and for
every `ip netns` namespace, the JSON of `ip -j` (links with -d, addresses,
routes, namespace ids), forwarding and `iptables -S` of the nat and filter
tables, in sections marked ``@@``. Veth peers are then matched by interface
index: inside a host through the namespace ids; between hosts through the
wires the topology declares (interface indexes are per namespace, so they
alone cannot tell two hosts' eth0 apart).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from simlab.errors import SimlabError
from simlab.labs.lab import LABEL_FILE, LABEL_LAB, LABEL_ROLE, Lab, run_parallel
from simlab.model.scenario import load_scenario
from simlab.model.topology import Endpoint, Topology
from simlab.state.model import ROOT, HostState, Interface, LabState, Namespace, Peer

# Sections: "@@ns NAME" starts a namespace (empty name: the host's own); "@@ip" holds one JSON
# line per `ip -batch` command (addresses with link details, routes, namespace ids, netconf
# for forwarding), "@@iptables" what iptables-save prints. It runs after every recorded step,
# so it starts few processes: two per namespace.
SCRIPT = r"""
one() {
  echo "@@ns $1"
  echo @@ip
  printf '%s\n' 'addr show' 'route show' 'netns list-id' 'netconf show' | ip ${1:+-n "$1"} -d -j -batch -
  echo @@iptables
  if [ -n "$1" ]; then ip netns exec "$1" iptables-save; else iptables-save; fi
}
one "" 2>/dev/null
ip netns list 2>/dev/null | while read -r ns rest; do one "$ns" 2>/dev/null; done
"""
TABLES = ("nat", "filter")  # the tables inspect reports


@dataclass
class _Where:
    host: str
    netns: str
    interface: Interface


def inspect_lab(lab: Lab, topology: Topology | None = None, hosts: list[str] | None = None) -> LabState:
    """The state of ``hosts`` (default: every host of the lab, and every host the topology
    declares, those without a container reported missing), with veth peers matched."""
    names = hosts if hosts is not None else sorted(set(lab.containers) | set(topology.hosts if topology else []))
    found = run_parallel(lambda host: _inspect_host(lab, host), names)
    state = LabState(lab.name, {h.name: h for h in found})
    match_peers(state, topology)
    return state


def declared_topology(lab: Lab) -> Topology | None:
    """The topology of the file the lab was started from, if that file still loads."""
    for container in lab.engine.containers({LABEL_LAB: lab.name, LABEL_ROLE: "host"}):
        try:
            return load_scenario(container.labels[LABEL_FILE]).topology
        except (SimlabError, KeyError, OSError):
            return None
    return None


def _inspect_host(lab: Lab, host: str) -> HostState:
    if host not in lab.containers:
        return HostState(host, "missing", error="no container for this host (removed?)")
    for _attempt in range(2):  # seen once: an exec's output arrived without its first bytes
        try:
            result = lab.engine.exec(lab.containers[host], ["sh", "-c", SCRIPT])
        except SimlabError as exc:
            return HostState(host, "missing", error=str(exc))
        state = host_state(host, result.output)
        if state.root is not None:
            break
    return state


def host_state(host: str, output: str) -> HostState:
    """A host's state from what SCRIPT printed on it."""
    namespaces = parse_dump(output)
    if ROOT not in namespaces:
        return HostState(host, "error", error=output.strip()[:300] or "no output")
    root = namespaces.pop(ROOT)
    return HostState(host, "running", root, namespaces)


def parse_dump(text: str) -> dict[str, Namespace]:
    """The namespaces in the script's output, by name (ROOT for the host's own)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("@@ns"):
            current = sections.setdefault(line[5:].strip(), {})
        elif line.startswith("@@"):
            lines = current.setdefault(line[2:].strip(), [])
        else:
            lines.append(line)
    return {name: _namespace(name, parts) for name, parts in sections.items()}


def _ip_sections(lines: list[str]) -> dict[str, list]:
    """The JSON lines of the `ip -batch` run, told apart by what their objects hold."""
    found: dict[str, list] = {"addr": [], "route": [], "ids": [], "netconf": []}
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            continue
        first = data[0]
        kind = ("addr" if "ifname" in first else "ids" if "nsid" in first else "netconf" if "forwarding" in first
                else "route" if "dst" in first else "")
        if kind:
            found[kind] = data
    return found


def _rules(lines: list[str]) -> dict[str, list[str]]:
    """iptables-save output as `iptables -S` lines per table; ACCEPT policies (the default) left out."""
    rules: dict[str, list[str]] = {}
    table = None
    for line in lines:
        if line.startswith("*"):
            table = line[1:].strip()
            if table in TABLES:
                rules[table] = []
        elif table in rules and line.startswith(":"):
            chain, policy = (line[1:].split() + ["-"])[:2]
            if policy == "-":
                rules[table].append(f"-N {chain}")
            elif policy != "ACCEPT":
                rules[table].append(f"-P {chain} {policy}")
        elif table in rules and line.startswith("-"):
            rules[table].append(line.strip())
    return {t: rules.get(t, []) for t in TABLES}


def _namespace(name: str, parts: dict[str, list[str]]) -> Namespace:
    ip = _ip_sections(parts.get("ip", []))
    interfaces = {}
    for link in ip["addr"]:
        interface = _interface(link, link)
        interfaces[interface.name] = interface
    forwarding = [c.get("forwarding") for c in ip["netconf"] if c.get("interface") == "all"
                  and c.get("family") == "inet"]
    ids = {i["nsid"]: i["name"] for i in ip["ids"] if "name" in i and "nsid" in i}
    return Namespace(name, interfaces, [_route_text(r) for r in ip["route"]],
                     bool(forwarding[0]) if forwarding else None, _rules(parts.get("iptables", [])), ids)


def _interface(link: dict, addr: dict) -> Interface:
    info = link.get("linkinfo", {})
    kind = info.get("info_kind") or link.get("link_type", "")
    addresses = [f"{a['local']}/{a['prefixlen']}" for a in addr.get("addr_info", [])
                 if "local" in a and a.get("scope") != "link" and a.get("local") != "::1"]
    return Interface(name=link["ifname"], kind=kind, state=link.get("operstate", ""), mtu=link.get("mtu", 0),
                     mac=link.get("address", ""), addresses=addresses, master=link.get("master", ""),
                     up="UP" in link.get("flags", []), ifindex=link.get("ifindex", 0),
                     link_index=link.get("link_index", 0), link_netnsid=link.get("link_netnsid"))


def _route_text(route: dict) -> str:
    words = [route.get("dst", "")]
    if route.get("type", "unicast") != "unicast":
        words.insert(0, route["type"])
    for key, word in (("gateway", "via"), ("dev", "dev"), ("scope", "scope"), ("prefsrc", "src")):
        if route.get(key) and not (key == "scope" and route[key] == "global"):
            words += [word, str(route[key])]
    return " ".join(words)


def match_peers(state: LabState, topology: Topology | None) -> None:
    """Set ``peer`` on every veth whose other end can be told for sure."""
    ends = [_Where(h.name, ns.name, i) for h in state.hosts.values() for ns in h.namespaces()
            for i in ns.interfaces.values() if i.kind == "veth"]
    declared = _declared_wires(topology) if topology else {}
    for end in ends:
        end.interface.peer = None
    for end in ends:
        peer = _peer_within_host(end, ends, state) or _peer_between_hosts(end, ends, declared)
        if peer is not None:
            end.interface.peer = Peer(peer.host, peer.netns, peer.interface.name, peer.interface.master) \
                if isinstance(peer, _Where) else peer


def _mutual(a: _Where, b: _Where) -> bool:
    return a is not b and b.interface.ifindex == a.interface.link_index and \
        b.interface.link_index == a.interface.ifindex


def _peer_within_host(end: _Where, ends: list[_Where], state: LabState) -> _Where | None:
    here = state.hosts[end.host].namespace(end.netns)
    nsid = end.interface.link_netnsid
    if nsid is None:
        wanted = {end.netns}  # the peer lives in the same namespace
    elif here is not None and nsid in here.netnsids:
        wanted = {here.netnsids[nsid]}
    elif end.netns != ROOT:
        wanted = {ROOT}  # from a named namespace, an unnamed id is the host's own (or another host's)
    else:
        return None
    found = [e for e in ends if e.host == end.host and e.netns in wanted and _mutual(end, e)]
    return found[0] if len(found) == 1 else None


def _peer_between_hosts(end: _Where, ends: list[_Where], declared: dict[Endpoint, Endpoint | Peer]
                        ) -> _Where | Peer | None:
    if end.netns != ROOT:
        return None
    other = declared.get(Endpoint(end.host, end.interface.name))
    if isinstance(other, Peer):
        return other
    if other is not None:
        found = [e for e in ends if e.host == other.host and e.netns == ROOT and e.interface.name == other.interface]
        return found[0] if found and _mutual(end, found[0]) else None
    found = [e for e in ends if e.host != end.host and e.netns == ROOT and _mutual(end, e)
             and e.interface.link_netnsid is not None]
    return found[0] if len(found) == 1 else None


def _declared_wires(topology: Topology) -> dict[Endpoint, Endpoint | Peer]:
    """Each wired interface and its other end: an interface, or a switch port (segments of 3+)."""
    wires: dict[Endpoint, Endpoint | Peer] = {}
    pairs: list[tuple[Endpoint, ...]] = [(link.a, link.b) for link in topology.links]
    pairs += [tuple(s.members) for s in topology.segments if len(s.members) == 2]
    for a, b in pairs:
        wires[a], wires[b] = b, a
    for segment in topology.segments:
        if len(segment.members) > 2:
            for port, end in enumerate(segment.members):
                wires[end] = Peer(interface=f"p{port}", segment=segment.name)  # fabric.py names ports so
    return wires
