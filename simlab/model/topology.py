"""The topology model: hosts, their interfaces, and the wires between them.

``parse_topology`` turns loaded YAML into a ``Topology`` and checks all of it
(names, addresses, routes, references) before anything touches an engine.
Nothing here knows about Docker.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

from simlab.defaults import DEFAULT_IMAGE  # noqa: F401 - re-exported: where the model names it
from simlab.model.problems import Problems
from simlab.model.yamlsource import Path_
from simlab.steps.fields import MAX_COMMAND, check_command  # noqa: F401 - MAX_COMMAND: re-exported

NAME_CHARS = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"  # what a container name allows
IFNAME_CHAR = r"[!-.0-9;-~]"  # printable ASCII but '/' and ':' (what the kernel and ip take)
# The patterns are also JSON Schema patterns (schema.py), so they end in '$', which in
# Python also matches before a trailing newline: always use them with fullmatch.
NAME_RE = re.compile(f"^{NAME_CHARS}$")
IFNAME_RE = re.compile(f"^{IFNAME_CHAR}+$")
SYSCTL_RE = re.compile(r"^net\.[a-zA-Z0-9_.\-]+$")
SYSCTL_VALUE_RE = re.compile(r"[ -~]*")
MAX_IFNAME = 15  # IFNAMSIZ - 1: the kernel refuses longer interface names
MAX_NAME = 40  # keeps simlab-<lab>-<host> a readable container name
MAX_HOSTS = 2000
MAX_IMAGE_REF = 255

# Docker's image reference grammar (github.com/distribution/reference, regexp.go).
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"\w[\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REF_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?",
                          re.ASCII)

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Endpoint:
    """One end of a wire: an interface of a host."""

    host: str
    interface: str

    def __str__(self) -> str:
        return f"{self.host}:{self.interface}"


@dataclass(frozen=True)
class Route:
    """A static route; ``destination`` None means the default route."""

    destination: IPNetwork | None
    via: IPAddress | None
    dev: str | None
    text: str
    index: int = field(default=0, compare=False)  # its place in the host's routes list, for errors


@dataclass
class Host:
    name: str
    image: str = DEFAULT_IMAGE
    addresses: dict[str, list[IPInterface]] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    privileged: bool = False


@dataclass(frozen=True)
class Link:
    """A point-to-point wire (a veth pair)."""

    a: Endpoint
    b: Endpoint


@dataclass(frozen=True)
class Segment:
    """A shared L2 segment: every member is plugged into one switch."""

    name: str
    members: tuple[Endpoint, ...]


@dataclass
class Topology:
    name: str
    hosts: dict[str, Host]
    links: list[Link] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    description: str = ""
    warnings: list[str] = field(default_factory=list)  # file:line:col: warning: ... (check prints them)

    def wired_interfaces(self) -> set[Endpoint]:
        ends = {end for link in self.links for end in (link.a, link.b)}
        return ends | {end for seg in self.segments for end in seg.members}


TOPOLOGY_KEYS = {"name", "description", "image", "hosts", "links", "segments", "duplicate_addresses"}
HOST_KEYS = {"image", "interfaces", "routes", "sysctls", "setup", "privileged"}


def parse_topology(data: dict[str, Any], problems: Problems, default_name: str) -> Topology:
    """Build a Topology from the topology keys of ``data``; record what is wrong."""
    name = data.get("name", default_name)
    if not isinstance(name, str) or not valid_name(name):
        problems.add(("name",), f"name {name!r} must be letters, digits, '_', '.' or '-' "
                     f"(at most {MAX_NAME}), starting with a letter or digit")
        name = "invalid"
    image = data.get("image", DEFAULT_IMAGE)
    if not check_image(image, ("image",), problems):
        image = DEFAULT_IMAGE
    hosts = _parse_hosts(data.get("hosts"), image, problems)
    mentioned: set[Endpoint] = set()  # every valid HOST:IFACE named by a wire, even a broken wire
    links = _parse_links(data.get("links", []), hosts, problems, mentioned)
    segments = _parse_segments(data.get("segments", {}), hosts, problems, mentioned)
    topology = Topology(name, hosts, links, segments, str(data.get("description", "")))
    _check_wiring(topology, problems, mentioned)
    for host in hosts.values():
        _check_addresses(host, problems)
        _check_routes(host, topology, problems)
    check_conflicts(topology, _deliberate(data.get("duplicate_addresses", []), problems), problems)
    topology.warnings = list(problems.warnings)
    return topology


def on_image(topology: Topology, image: str = DEFAULT_IMAGE) -> Topology:
    """``topology`` with every host on ``image`` (`--host-image`: simlab's own, whatever the file names)."""
    return replace(topology, hosts={name: replace(host, image=image) for name, host in topology.hosts.items()})


def valid_name(name: str, max_length: int = MAX_NAME) -> bool:
    return isinstance(name, str) and bool(NAME_RE.fullmatch(name)) and len(name) <= max_length


def check_image(image: object, path: Path_, problems: Problems) -> bool:
    """Whether ``image`` is a Docker image reference, like ubuntu:24.04 or registry:5000/team/img:tag."""
    if isinstance(image, str) and len(image) <= MAX_IMAGE_REF and IMAGE_REF_RE.fullmatch(image):
        return True
    shown = repr(image)[:80] if isinstance(image, str) else f"a {type(image).__name__}"
    problems.add(path, f"image {shown} is not a valid image reference: lowercase name[:tag], "
                       f"like ubuntu_with_basic_net or registry.example.com/team/image:1.0 (at most {MAX_IMAGE_REF})")
    return False


def _parse_hosts(raw: Any, image: str, problems: Problems) -> dict[str, Host]:
    if not isinstance(raw, dict) or not raw:
        problems.add(("hosts",), "hosts must be a mapping of host names to host settings, with at least one host")
        return {}
    if len(raw) > MAX_HOSTS:
        problems.add(("hosts",), f"{len(raw)} hosts; simlab runs labs of at most {MAX_HOSTS} hosts")
        return {}
    hosts = {}
    for name, spec in raw.items():
        path: Path_ = ("hosts", name)
        if not valid_name(name):
            problems.add(path, f"host name {name!r} is not a valid container name: use letters, digits, "
                         f"'_', '.' or '-' (at most {MAX_NAME}), starting with a letter or digit", at_key=True)
        hosts[name] = _parse_host(name, spec if spec is not None else {}, image, path, problems)
    return hosts


def _parse_host(name: str, spec: Any, image: str, path: Path_, problems: Problems) -> Host:
    host = Host(name, image=image)
    if not isinstance(spec, dict):
        problems.add(path, f"host {name!r} must be a mapping (interfaces, routes, sysctls, setup, ...)")
        return host
    for key in spec.keys() - HOST_KEYS:
        problems.add(path + (key,), f"unknown key {key!r} in host {name!r}; known keys: {', '.join(sorted(HOST_KEYS))}",
                     at_key=True)
    host.image = spec.get("image", image)
    if not check_image(host.image, path + ("image",), problems):
        host.image = image
    host.privileged = spec.get("privileged", False)
    if not isinstance(host.privileged, bool):
        problems.add(path + ("privileged",), "privileged must be true or false (yes and no are text in YAML 1.2)")
    host.addresses = _parse_interfaces(spec.get("interfaces", {}), path + ("interfaces",), problems)
    host.routes = [r for i, text in enumerate(_string_list(spec.get("routes", []), path + ("routes",), problems))
                   if (r := parse_route(text, path + ("routes", i), problems))]
    host.sysctls = _parse_sysctls(spec.get("sysctls", {}), path + ("sysctls",), problems)
    host.setup = _string_list(spec.get("setup", []), path + ("setup",), problems)
    if not all([check_command(c, path + ("setup", i), problems) for i, c in enumerate(host.setup)]):
        host.setup = []
    return host


def _parse_interfaces(raw: Any, path: Path_, problems: Problems) -> dict[str, list[IPInterface]]:
    if not isinstance(raw, dict):
        problems.add(path, "interfaces must map interface names to addresses, like eth0: 10.0.0.1/24")
        return {}
    result = {}
    for ifname, value in raw.items():
        check_ifname(ifname, path + (ifname,), problems, at_key=True)
        values = value if isinstance(value, list) else ([] if value is None else [value])
        keys = [path + (ifname, i) if isinstance(value, list) else path + (ifname,) for i in range(len(values))]
        result[ifname] = [a for v, key in zip(values, keys) if (a := parse_address(v, key, problems))]
    return result


def check_ifname(ifname: str, path: Path_, problems: Problems, at_key: bool = False) -> None:
    if len(ifname) > MAX_IFNAME:
        problems.add(path, f"interface name {ifname!r} is {len(ifname)} characters; Linux allows at most {MAX_IFNAME}",
                     at_key)
    elif not IFNAME_RE.fullmatch(ifname) or ifname in (".", ".."):
        problems.add(path, f"interface name {ifname!r} must be printable ASCII without spaces, '/' or ':'", at_key)


def parse_address(value: Any, path: Path_, problems: Problems) -> IPInterface | None:
    text = str(value)
    if "/" not in text:
        problems.add(path, f"address {text!r} needs a prefix length, like {text}/24")
        return None
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        problems.add(path, f"{text!r} is not an address with prefix (CIDR), like 192.168.15.1/24")
        return None


def parse_route(text: str, path: Path_, problems: Problems) -> Route | None:
    """Parse ``DEST via GATEWAY``, ``DEST dev IFACE`` or both; DEST may be ``default``."""
    words = text.split()
    usage = f"route {text!r} must read 'DEST via GATEWAY' or 'DEST dev IFACE' (DEST a network or 'default')"
    if len(words) not in (3, 5) or any(w not in ("via", "dev") for w in words[1::2]):
        problems.add(path, usage)
        return None
    options = dict(zip(words[1::2], words[2::2]))
    destination = None
    if words[0] != "default":
        try:
            destination = ipaddress.ip_network(words[0])
        except ValueError:
            problems.add(path, f"route destination {words[0]!r} is not a network; "
                         f"{_network_hint(words[0])}")
            return None
    via = None
    if "via" in options:
        try:
            via = ipaddress.ip_address(options["via"])
        except ValueError:
            problems.add(path, f"gateway {options['via']!r} must be a plain address, without a prefix length")
            return None
    return Route(destination, via, options.get("dev"), text, index=path[-1] if isinstance(path[-1], int) else 0)


def _network_hint(text: str) -> str:
    try:
        network = ipaddress.ip_interface(text).network
        return f"its host bits are set: did you mean {network}?"
    except ValueError:
        return "write it like 172.17.0.0/16"


def _parse_sysctls(raw: Any, path: Path_, problems: Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(path, "sysctls must map names to values, like net.ipv4.ip_forward: 1")
        return {}
    for name, value in raw.items():
        if not SYSCTL_RE.fullmatch(name):
            problems.add(path + (name,), f"sysctl {name!r}: only network sysctls (net.*) can be set per host",
                         at_key=True)
        elif not isinstance(value, (str, int)) or not SYSCTL_VALUE_RE.fullmatch(str(value)):
            problems.add(path + (name,), f"sysctl {name}: the value must be a number or one line of "
                                         f"printable ASCII text, not {str(value)[:40]!r}")
    return {name: str(int(v) if isinstance(v, bool) else v) for name, v in raw.items()}


def _string_list(raw: Any, path: Path_, problems: Problems) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(item, str) for item in items):
        problems.add(path, "expected a string or a list of strings")
        return []
    return items


def _parse_endpoint(raw: Any, path: Path_, hosts: dict[str, Host], problems: Problems,
                    mentioned: set[Endpoint]) -> Endpoint | None:
    if not isinstance(raw, str) or raw.count(":") != 1:
        problems.add(path, f"{raw!r} must name an interface as HOST:IFACE, like red:eth0")
        return None
    host, ifname = raw.split(":")
    if ifname == "lo":
        problems.add(path, f"{raw!r}: lo is the host's loopback; it cannot be wired (give it addresses under "
                           f"interfaces instead)")
        return None
    if host not in hosts:
        known = ", ".join(sorted(hosts)) or "none"
        problems.add(path, f"unknown host {host!r} in {raw!r} (hosts: {known})")
        return None
    check_ifname(ifname, path, problems)
    mentioned.add(Endpoint(host, ifname))
    return Endpoint(host, ifname)


def _parse_links(raw: Any, hosts: dict[str, Host], problems: Problems, mentioned: set[Endpoint]) -> list[Link]:
    if not isinstance(raw, list):
        problems.add(("links",), "links must be a list of pairs, like - [a:eth0, b:eth0]")
        return []
    links = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            problems.add(("links", i), "a link joins exactly two interfaces, like [a:eth0, b:eth0]")
            continue
        a, b = (_parse_endpoint(end, ("links", i, j), hosts, problems, mentioned) for j, end in enumerate(pair))
        if a and b:
            links.append(Link(a, b))
    return links


def _parse_segments(raw: Any, hosts: dict[str, Host], problems: Problems,
                    mentioned: set[Endpoint]) -> list[Segment]:
    if not isinstance(raw, dict):
        problems.add(("segments",), "segments must map segment names to member lists, like lan: [a:eth0, b:eth0]")
        return []
    segments = []
    for name, members in raw.items():
        path: Path_ = ("segments", name)
        if not valid_name(name):
            problems.add(path, f"segment name {name!r} must be letters, digits, '_', '.' or '-'", at_key=True)
        if not isinstance(members, list) or len(members) < 2:
            problems.add(path, f"segment {name!r} needs a list of at least two HOST:IFACE members")
            continue
        parsed = [_parse_endpoint(m, path + (i,), hosts, problems, mentioned) for i, m in enumerate(members)]
        ends = tuple(end for end in parsed if end is not None)
        if len(ends) == len(parsed):
            segments.append(Segment(name, ends))
    return segments


def _check_wiring(topology: Topology, problems: Problems, mentioned: set[Endpoint]) -> None:
    seen: dict[Endpoint, str] = {}
    wires: list[tuple[Path_, tuple[Endpoint, ...]]] = [(("links", i), (link.a, link.b))
                                                       for i, link in enumerate(topology.links)]
    wires += [(("segments", s.name), s.members) for s in topology.segments]
    for path, ends in wires:
        for end in ends:
            if end in seen:
                problems.add(path, f"interface {end} is already wired ({seen[end]}); each interface takes one wire")
            seen[end] = "link" if path[0] == "links" else f"segment {path[1]}"
    for host in topology.hosts.values():
        for ifname in host.addresses:
            if ifname != "lo" and Endpoint(host.name, ifname) not in mentioned:
                problems.add(("hosts", host.name, "interfaces", ifname),
                             f"interface {host.name}:{ifname} is on no link or segment; wire it or remove it",
                             at_key=True)


LOOPBACK_ADDRESSES = {ipaddress.ip_interface("127.0.0.1/8"), ipaddress.ip_interface("::1/128")}


def _check_addresses(host: Host, problems: Problems) -> None:
    """One address once per host: the kernel refuses it twice on an interface, and twice on
    a host it is a typo that makes replies leave by the wrong interface."""
    where: dict[IPAddress, str] = {}
    for ifname, addresses in host.addresses.items():
        path: Path_ = ("hosts", host.name, "interfaces", ifname)
        for address in addresses:
            if ifname == "lo" and address in LOOPBACK_ADDRESSES:
                problems.add(path, f"lo already has {address}; give it other addresses only")
            elif address.ip in where:
                problems.add(path, f"address {address.ip} is already on {host.name}:{where[address.ip]}; "
                                   f"an address can be on one interface of a host only once")
            where.setdefault(address.ip, ifname)


def _deliberate(raw: Any, problems: Problems) -> set[IPAddress]:
    """The addresses ``duplicate_addresses`` says two hosts share on purpose."""
    if not isinstance(raw, list):
        problems.add(("duplicate_addresses",), "duplicate_addresses must be a list of addresses, like [10.0.0.5]")
        return set()
    addresses = set()
    for i, text in enumerate(raw):
        try:
            addresses.add(ipaddress.ip_address(str(text)))
        except ValueError:
            problems.add(("duplicate_addresses", i), f"{text!r} is not an address (without prefix), like 10.0.0.5")
    return addresses


def check_conflicts(topology: Topology, deliberate: set[IPAddress], problems: Problems) -> None:
    """Two hosts holding one address on one link or segment: the lab is broken before its first
    step (ARP answers from both). A warning for an address ``duplicate_addresses`` lists."""
    wires: list[tuple[Path_, tuple[Endpoint, ...]]] = [(("links", i), (link.a, link.b))
                                                       for i, link in enumerate(topology.links)]
    wires += [(("segments", s.name), s.members) for s in topology.segments]
    used: set[IPAddress] = set()
    for wire, ends in wires:
        holder: dict[IPAddress, Endpoint] = {}
        for end in ends:
            host = topology.hosts.get(end.host)
            for address in host.addresses.get(end.interface, []) if host else []:
                first = holder.setdefault(address.ip, end)
                if first.host == end.host:
                    continue  # one host's own interfaces: _check_addresses says it
                first_at = problems.at(("hosts", first.host, "interfaces", first.interface))
                here: Path_ = ("hosts", end.host, "interfaces", end.interface)
                message = (f"address {address.ip} is also on {first} ({first_at}), on the same "
                           f"{'link' if wire[0] == 'links' else 'segment ' + str(wire[1])}")
                if address.ip in deliberate:
                    used.add(address.ip)
                    problems.warn(here, message + " (listed in duplicate_addresses: deliberate)")
                else:
                    problems.add(here, message + "; two hosts answering for one address break it "
                                                 "(list it under duplicate_addresses if the lesson means it)")
    for unused in sorted(deliberate - used, key=str):
        problems.warn(("duplicate_addresses",), f"{unused} is listed, but no two hosts hold it on one link "
                                                f"or segment")


def _check_routes(host: Host, topology: Topology, problems: Problems) -> None:
    """What the kernel would refuse when the fabric adds the routes (in order, before setup):
    a device the host does not have, a gateway that is not on-link or is the host itself,
    the same destination twice."""
    devices = {"lo"} | set(host.addresses) | {e.interface for e in topology.wired_interfaces() if e.host == host.name}
    on_link: list[IPNetwork] = [a.network for ifname, addrs in host.addresses.items() if ifname != "lo" for a in addrs]
    own = {a.ip for addrs in host.addresses.values() for a in addrs}
    destinations: dict[str, int] = {}
    for route in host.routes:
        path: Path_ = ("hosts", host.name, "routes", route.index)
        if route.dev is not None and route.dev not in devices:
            problems.add(path, f"route {route.text!r}: host {host.name} has no interface {route.dev!r} "
                               f"(it has: {', '.join(sorted(devices))})")
        if route.via is not None and route.via in own:
            problems.add(path, f"route {route.text!r}: the gateway {route.via} is an address of {host.name} itself")
        elif route.via is not None and route.dev is None and not any(route.via in net for net in on_link):
            networks = ", ".join(str(n) for n in on_link) or "none"
            problems.add(path, f"route {route.text!r}: the gateway {route.via} is in none of {host.name}'s "
                               f"connected networks ({networks}); use a gateway on one of them, "
                               f"or name the interface: DEST via GW dev IFACE")
        destination = str(route.destination or ("::/0" if route.via and route.via.version == 6 else "0.0.0.0/0"))
        if destination in destinations:
            problems.add(path, f"route {route.text!r}: a second route to {destination} "
                               f"(routes[{destinations[destination]}] already sets one)")
        destinations.setdefault(destination, route.index)
        if route.via is None and route.destination is not None:
            on_link.append(route.destination)  # 'DEST dev IFACE' makes DEST on-link for later gateways
