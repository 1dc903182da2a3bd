"""Where a packet would go in a recorded lab state: route lookups hop by hop.

A walk starts in a namespace of a host and follows the main routing table of each
namespace (longest prefix), the wires of the state (veth peers, bridge ports, the
switch of a segment, each only while its interface is up) to the namespace that owns
the next hop, until the destination is one of a namespace's own addresses or the
packet is lost: no route, an interface down, nobody at the next hop, a router that
does not forward. Source NAT (a MASQUERADE rule in POSTROUTING) changes the source
the reply walk goes back to. This is a model of the kernel good enough to say where
a learner's packet goes astray, not a replacement for the probe itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from simlab.state.model import ROOT, LabState, Namespace

MAX_HOPS = 16
Place = tuple[str, str]  # (host, namespace), ROOT for the host's own
Node = tuple[str, str, str]  # (host, namespace, interface); ("segment", NAME, "") for a switch


@dataclass
class Route:
    dst: str  # "default" or a prefix
    via: str = ""
    dev: str = ""
    src: str = ""
    text: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network("0.0.0.0/0" if self.dst == "default" else self.dst, strict=False)


@dataclass
class Hop:
    """A namespace the packet passed, the route it took there and the interface it left by."""

    place: Place
    route: Route | None = None
    masqueraded: bool = False  # the source was rewritten here (MASQUERADE)

    @property
    def where(self) -> str:
        return where(self.place)


@dataclass
class Walk:
    """The namespaces a packet passes from its start; ``stop`` says why it got no further."""

    hops: list[Hop] = field(default_factory=list)
    arrived: bool = False
    stop: str = ""
    source: str = ""  # the source address the last hop saw (after any MASQUERADE)

    @property
    def places(self) -> list[Place]:
        return [hop.place for hop in self.hops]


def where(place: Place) -> str:
    """How a learner names a namespace: 'red on container-a', or the host itself."""
    host, netns = place
    return f"{netns} on {host}" if netns else host


def parse_route(text: str) -> Route | None:
    """A route as state.collect writes it ('DST [via GW] [dev DEV] [scope S] [src A]'); None
    for typed routes (blackhole, unreachable, ...) and what is not IPv4/IPv6."""
    words = text.split()
    if not words:
        return None
    route = Route(words[0], text=text)
    for key, value in zip(words[1::2], words[2::2]):
        if key in ("via", "dev", "src"):
            setattr(route, key, value)
    try:
        route.network  # noqa: B018 - a destination that is not a prefix (a route type) is left out
    except ValueError:
        return None
    return route


def lookup(ns: Namespace, address: str) -> Route | None:
    """The route of the main table that ``address`` takes in ``ns`` (longest prefix)."""
    ip = ipaddress.ip_address(address)
    routes = [r for r in map(parse_route, ns.routes) if r is not None and r.network.version == ip.version
              and ip in r.network]
    return max(routes, key=lambda r: r.network.prefixlen, default=None)


def owns(ns: Namespace, address: str) -> bool:
    return any(a.split("/")[0] == address for i in ns.interfaces.values() for a in i.addresses)


def walk(state: LabState, start: Place, dst: str, source: str = "") -> Walk:
    """Follow a packet from namespace ``start`` to address ``dst`` (see the module's docstring)."""
    result = Walk(source=source)
    place = start
    for _ in range(MAX_HOPS):
        ns = _namespace(state, place)
        hop = Hop(place)
        result.hops.append(hop)
        if ns is None:
            result.stop = f"{where(place)} does not exist"
            return result
        if owns(ns, dst):
            result.arrived = True
            return result
        if len(result.hops) > 1 and ns.forwarding is False:
            result.stop = f"{where(place)} does not forward (net.ipv4.ip_forward = 0)"
            return result
        route = hop.route = lookup(ns, dst)
        if route is None:
            result.stop = f"{where(place)} has no route to {dst}"
            return result
        out = ns.interfaces.get(route.dev)
        if out is None or not out.up:
            result.stop = f"{route.dev} is down ({where(place)})" if out else f"{where(place)} has no {route.dev}"
            return result
        if not result.source:
            result.source = route.src or _first_address(out.addresses)
        elif _masquerades(ns, result.source, route.dev):
            result.source = _first_address(out.addresses) or result.source
            hop.masqueraded = True
        next_hop = route.via or dst
        found = neighbour(state, (place[0], place[1], route.dev), next_hop)
        if found is None:
            result.stop = (f"nothing answers for {next_hop} on the wire of {route.dev} ({where(place)}): "
                           f"a link, bridge port or address is missing or down")
            return result
        place = found
    result.stop = f"more than {MAX_HOPS} hops (a routing loop?)"
    return result


def neighbour(state: LabState, start: Node, address: str) -> Place | None:
    """The namespace that owns ``address`` on the layer-2 wire of interface ``start``."""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for other in _wired(state, node):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    for host, netns, name in seen:
        ns = _namespace(state, (host, netns)) if host != "segment" else None
        if ns is not None and (host, netns, name) != start and name in ns.interfaces and \
                any(a.split("/")[0] == address for a in ns.interfaces[name].addresses):
            return host, netns
    return None


def _wired(state: LabState, node: Node) -> list[Node]:
    """What ``node`` passes frames to: its veth peer, its bridge, the ports of its bridge."""
    host, netns, name = node
    if host == "segment":
        return [(h.name, ns.name, i.name) for h in state.hosts.values() for ns in h.namespaces()
                for i in ns.interfaces.values() if i.peer and i.peer.segment == netns and i.up]
    ns = _namespace(state, (host, netns))
    interface = ns.interfaces.get(name) if ns else None
    if ns is None or interface is None or not interface.up:
        return []
    found: list[Node] = []
    peer = interface.peer
    if peer is not None:
        found.append(("segment", peer.segment, "") if peer.segment else (peer.host, peer.netns or ROOT,
                                                                           peer.interface))
    if interface.master:
        found.append((host, netns, interface.master))
    if interface.kind == "bridge":
        found += [(host, netns, i.name) for i in ns.interfaces.values() if i.master == name and i.up]
    return [n for n in found if n[0] == "segment" or _is_up(state, n)]


def _is_up(state: LabState, node: Node) -> bool:
    ns = _namespace(state, (node[0], node[1]))
    interface = ns.interfaces.get(node[2]) if ns else None
    return interface is not None and interface.up


def _masquerades(ns: Namespace, source: str, dev: str) -> bool:
    """Whether a MASQUERADE rule in POSTROUTING of ``ns`` matches a packet from ``source`` leaving ``dev``."""
    for rule in ns.rules.get("nat", []):
        words = rule.split()
        if words[:2] != ["-A", "POSTROUTING"] or "MASQUERADE" not in words:
            continue
        options = dict(zip(words[2::2], words[3::2]))
        if "!" in words:
            continue  # negated matches: beyond this model
        if "-s" in options and not _within(source, options["-s"]):
            continue
        if "-o" in options and options["-o"] != dev:
            continue
        return True
    return False


def _within(address: str, prefix: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def _first_address(addresses: list[str]) -> str:
    return addresses[0].split("/")[0] if addresses else ""


def _namespace(state: LabState, place: Place) -> Namespace | None:
    host = state.hosts.get(place[0])
    return host.namespace(place[1]) if host else None


def reply_walk(state: LabState, forward: Walk, original: str) -> Walk | None:
    """The walk of the reply of a ``forward`` walk that arrived: from the destination back to
    the source it saw. None when the forward walk did not arrive or had no source."""
    if not forward.arrived or not forward.source:
        return None
    back = walk(state, forward.hops[-1].place, forward.source, source="")
    back.source = original
    return back
