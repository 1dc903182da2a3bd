"""The picture model: boxes (hosts holding namespaces and bridges, switches) and the wires
between them, each end labelled with its interface and addresses."""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.model.topology import Endpoint, Topology
from simlab.state.diff import Change
from simlab.state.model import HostState, Interface, LabState


@dataclass
class Node:
    id: str
    label: str
    kind: str  # host, netns, bridge, root, switch
    parent: str = ""  # the host box holding a netns, bridge or root box
    detail: list[str] = field(default_factory=list)  # addresses, forwarding, ...
    changed: bool = False
    missing: bool = False


@dataclass
class Edge:
    a: str  # node ids
    b: str
    a_label: str  # interface name
    b_label: str
    a_detail: str = ""  # its addresses
    b_detail: str = ""
    changed: bool = False


@dataclass
class Picture:
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def hosts(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "host"]

    def children(self, host: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.parent == host]


def host_id(host: str) -> str:
    return f"host:{host}"


def netns_id(host: str, netns: str) -> str:
    return f"netns:{host}/{netns}"


def bridge_id(host: str, netns: str, bridge: str) -> str:
    return f"bridge:{host}/{netns}/{bridge}"


def switch_id(segment: str) -> str:
    return f"switch:{segment}"


def _addresses(values: list) -> str:
    return " ".join(str(v) for v in values)


def from_topology(topology: Topology) -> Picture:
    """The declared lab: hosts, point-to-point links, and a switch per segment of three or more."""
    picture = Picture(topology.name)
    for host in topology.hosts.values():
        picture.add(Node(host_id(host.name), host.name, "host", detail=_host_detail(host.sysctls)))
    for link in topology.links:
        picture.edges.append(_declared_edge(topology, link.a, link.b))
    for segment in topology.segments:
        if len(segment.members) == 2:
            picture.edges.append(_declared_edge(topology, *segment.members))
            continue
        picture.add(Node(switch_id(segment.name), segment.name, "switch"))
        for end in segment.members:
            picture.edges.append(Edge(host_id(end.host), switch_id(segment.name), end.interface, "",
                                      _addresses(topology.hosts[end.host].addresses.get(end.interface, []))))
    return picture


def _host_detail(sysctls: dict[str, str]) -> list[str]:
    return ["forwarding on"] if str(sysctls.get("net.ipv4.ip_forward", "0")) == "1" else []


def _declared_edge(topology: Topology, a: Endpoint, b: Endpoint) -> Edge:
    return Edge(host_id(a.host), host_id(b.host), a.interface, b.interface,
                _addresses(topology.hosts[a.host].addresses.get(a.interface, [])),
                _addresses(topology.hosts[b.host].addresses.get(b.interface, [])))


def from_state(state: LabState, topology: Topology | None = None, changes: list[Change] | None = None) -> Picture:
    """The lab as it is: namespaces, bridges and veths found in each host, wired as the kernel says."""
    picture = Picture(state.lab)
    if topology is not None:
        for segment in topology.segments:
            if len(segment.members) > 2:
                picture.add(Node(switch_id(segment.name), segment.name, "switch"))
    for host in _declared_order(state, topology):
        _add_host(picture, host)
    seen: set[tuple[str, str, str]] = set()
    for host in state.hosts.values():
        for ns in host.namespaces():
            for interface in ns.interfaces.values():
                if interface.peer is not None:
                    _add_wire(picture, state, host.name, ns.name, interface, seen)
    if changes:
        mark_changes(picture, changes)
    return picture


def _declared_order(state: LabState, topology: Topology | None) -> list[HostState]:
    """The hosts in the file's order (so that a chain is drawn as one), any others after them."""
    declared = list(topology.hosts) if topology is not None else []
    rank = {name: i for i, name in enumerate(declared)}
    return sorted(state.hosts.values(), key=lambda host: rank.get(host.name, len(declared)))


def _add_host(picture: Picture, host: HostState) -> None:
    node = picture.add(Node(host_id(host.name), host.name, "host", missing=host.status != "running"))
    if node.missing:
        node.detail = [host.status]
        return
    node.detail = ["forwarding on"] if host.root and host.root.forwarding else []
    for ns in host.namespaces():
        if ns.name:
            addresses = [a for i in ns.interfaces.values() if i.kind != "loopback" for a in i.addresses]
            picture.add(Node(netns_id(host.name, ns.name), ns.name, "netns", node.id, addresses))
        for bridge in ns.bridges():
            picture.add(Node(bridge_id(host.name, ns.name, bridge), bridge, "bridge", node.id,
                             ns.interfaces[bridge].addresses))


def _end_node(picture: Picture, host: str, netns: str, master: str) -> str:
    """The box a wire ends at: its bridge, its namespace, or the host's own namespace."""
    if master:
        return bridge_id(host, netns, master)
    if netns:
        return netns_id(host, netns)
    return host_id(host)


def _add_wire(picture: Picture, state: LabState, host: str, netns: str, interface: Interface,
              seen: set[tuple[str, str, str]]) -> None:
    peer = interface.peer
    if peer is None or (host, netns, interface.name) in seen:
        return
    a = _end_node(picture, host, netns, interface.master)
    if peer.segment:
        picture.edges.append(Edge(a, switch_id(peer.segment), interface.name, "", _addresses(interface.addresses)))
        return
    seen.add((peer.host, peer.netns, peer.interface))
    other = state.hosts.get(peer.host)
    ns = other.namespace(peer.netns) if other else None
    far = ns.interfaces.get(peer.interface) if ns else None
    b = _end_node(picture, peer.host, peer.netns, peer.master)
    if peer.host == host:  # a veth inside one host: its root end is a box of its own
        root = f"root:{host}"
        if host_id(host) in (a, b):
            picture.add(Node(root, "root namespace", "root", host_id(host)))
            a, b = (root if a == host_id(host) else a), (root if b == host_id(host) else b)
    picture.edges.append(Edge(a, b, interface.name if interface else "?", far.name if far else peer.interface,
                              _addresses(interface.addresses) if interface else "",
                              _addresses(far.addresses) if far else ""))


def mark_changes(picture: Picture, changes: list[Change]) -> None:
    """Highlight the boxes and wires that ``changes`` touched."""
    touched_ifaces = set()
    for change in changes:
        if change.what == "host":
            continue
        if change.what == "namespace":
            _mark(picture, netns_id(change.host, change.item))
            continue
        name = ""
        if change.what in ("interface", "up", "master", "address"):
            name = change.interface or change.item.split(" ")[0]
        if name:
            touched_ifaces.add((change.host, name))
            _mark(picture, bridge_id(change.host, change.netns, name))
        if change.what in ("route", "rule", "forwarding"):
            _mark(picture, netns_id(change.host, change.netns) if change.netns else host_id(change.host))
    hosts = {node.id: node.label for node in picture.nodes.values()}
    for edge in picture.edges:
        for end, label in ((edge.a, edge.a_label), (edge.b, edge.b_label)):
            owner = picture.nodes.get(end)
            host = hosts.get(owner.parent, owner.label) if owner else ""
            if (host, label) in touched_ifaces:
                edge.changed = True


def _mark(picture: Picture, node_id: str) -> None:
    if node_id in picture.nodes:
        picture.nodes[node_id].changed = True
