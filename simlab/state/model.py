"""What `simlab inspect` reports: hosts, their namespaces, interfaces, routes and rules.

``LabState.to_dict`` is the stable JSON of `simlab inspect --json` (documented in
the README); ``LabState.from_dict`` reads it back, so recorded states travel in results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROOT = ""  # the host's own network namespace


@dataclass
class Peer:
    """The other end of a veth: an interface of a host (in a namespace), or a port of a segment's switch."""

    host: str = ""
    netns: str = ROOT
    interface: str = ""
    master: str = ""  # the bridge the peer is plugged into
    segment: str = ""  # set when the peer is a port of the switch of this segment

    def to_dict(self) -> dict:
        if self.segment:
            return {"segment": self.segment, "interface": self.interface}
        return {"host": self.host, "netns": self.netns or None, "interface": self.interface,
                "master": self.master or None}

    @classmethod
    def from_dict(cls, data: dict) -> Peer:
        return cls(data.get("host", ""), data.get("netns") or ROOT, data["interface"], data.get("master") or "",
                   data.get("segment", ""))

    def describe(self) -> str:
        if self.segment:
            return f"{self.interface} on the switch of segment {self.segment}"
        where = f"namespace {self.netns}" if self.netns else "root namespace"
        return f"{self.interface} on {self.host} ({where})" + (f", master {self.master}" if self.master else "")


@dataclass
class Interface:
    name: str
    kind: str  # veth, bridge, loopback, ether, ...
    state: str  # UP, DOWN, UNKNOWN (the kernel's operstate)
    mtu: int = 0
    mac: str = ""
    addresses: list[str] = field(default_factory=list)  # address/prefix, link-local IPv6 left out
    master: str = ""  # the bridge this interface is plugged into
    peer: Peer | None = None
    up: bool = False  # administratively up (ip link set ... up)
    # Kernel indexes used to match veth peers; not part of the JSON.
    ifindex: int = 0
    link_index: int = 0
    link_netnsid: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "state": self.state, "up": self.up, "mtu": self.mtu, "mac": self.mac,
                "addresses": self.addresses, "master": self.master or None,
                "peer": self.peer.to_dict() if self.peer else None}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Interface:
        peer = Peer.from_dict(data["peer"]) if data.get("peer") else None
        return cls(name, data["kind"], data["state"], data.get("mtu", 0), data.get("mac", ""),
                   list(data.get("addresses", [])), data.get("master") or "", peer, data.get("up", False))


@dataclass
class Namespace:
    name: str  # ROOT for the host's own
    interfaces: dict[str, Interface] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)  # as `ip route` prints them
    forwarding: bool | None = None  # None: could not be read
    rules: dict[str, list[str]] = field(default_factory=dict)  # table -> `iptables -S` lines, default policies left out
    netnsids: dict[int, str] = field(default_factory=dict)  # nsid -> namespace name, as seen from here

    def bridges(self) -> dict[str, list[str]]:
        """Each bridge and the interfaces plugged into it."""
        found: dict[str, list[str]] = {name: [] for name, i in self.interfaces.items() if i.kind == "bridge"}
        for name, interface in self.interfaces.items():
            if interface.master in found:
                found[interface.master].append(name)
        return found

    def to_dict(self) -> dict:
        return {"forwarding": self.forwarding,
                "interfaces": {name: i.to_dict() for name, i in self.interfaces.items()},
                "bridges": self.bridges(), "routes": self.routes, "rules": self.rules}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Namespace:
        interfaces = {n: Interface.from_dict(n, d) for n, d in data.get("interfaces", {}).items()}
        return cls(name, interfaces, list(data.get("routes", [])), data.get("forwarding"),
                   {t: list(r) for t, r in data.get("rules", {}).items()})


@dataclass
class HostState:
    name: str
    status: str  # "running", "missing" (its container is gone), or the container's state
    root: Namespace | None = None
    netns: dict[str, Namespace] = field(default_factory=dict)  # named namespaces (ip netns)
    error: str = ""

    def namespaces(self) -> list[Namespace]:
        return ([self.root] if self.root else []) + list(self.netns.values())

    def namespace(self, name: str) -> Namespace | None:
        return self.root if name == ROOT else self.netns.get(name)

    def to_dict(self) -> dict:
        return {"status": self.status, "error": self.error or None,
                "root": self.root.to_dict() if self.root else None,
                "netns": {name: ns.to_dict() for name, ns in self.netns.items()}}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> HostState:
        root = Namespace.from_dict(ROOT, data["root"]) if data.get("root") else None
        netns = {n: Namespace.from_dict(n, d) for n, d in data.get("netns", {}).items()}
        return cls(name, data["status"], root, netns, data.get("error") or "")


@dataclass
class LabState:
    lab: str
    hosts: dict[str, HostState] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The stable JSON form: {"lab", "hosts": {host: {"status", "error", "root", "netns": {name: ...}}}}."""
        return {"lab": self.lab, "hosts": {name: h.to_dict() for name, h in self.hosts.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> LabState:
        return cls(data["lab"], {n: HostState.from_dict(n, d) for n, d in data.get("hosts", {}).items()})
