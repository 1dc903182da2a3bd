"""What one shell command does to a lab, and the same command with its key argument altered.

Only simple commands are read (one program and its words, as ``shlex`` splits them, after
any ``ip netns exec NS`` prefix). A command this module cannot read counts as one that
changes the lab, so it is still left out by a mutant: a mutant that survives is shown,
never hidden.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field

from simlab.model.topology import IPAddress, IPNetwork

SHELL_SYNTAX = re.compile(r"[;&|<>`$()]")
READ_ONLY_PROGRAMS = {"cat", "ls", "grep", "echo", "printf", "ping", "ss", "dig", "sleep", "true", "head", "tail",
                      "wc", "tracepath", "traceroute", "hostname", "ps", "pgrep", "test", "["}
SHOW_VERBS = {"", "show", "list", "ls", "lst", "sh", "l", "get", "help", "identify"}
IP_OPTIONS_WITH_VALUE = {"-n", "-netns", "-f", "-family", "-rc", "-rcvbuf", "-l", "-loops"}
IPTABLES = {"iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"}
IPTABLES_LIST = {"-L", "--list", "-S", "--list-rules"}
IPTABLES_CHANGE = {"-A", "--append", "-I", "--insert", "-D", "--delete", "-R", "--replace", "-F", "--flush",
                   "-Z", "--zero", "-N", "--new-chain", "-X", "--delete-chain", "-P", "--policy", "-E",
                   "--rename-chain"}
IPTABLES_ADD = {"-A", "--append", "-I", "--insert"}
IPTABLES_ADDRESS = {"-s": "source", "--source": "source", "--src": "source",
                    "-d": "destination", "--destination": "destination", "--dst": "destination"}
ROUTE_ADD = {"add", "append", "replace", "change", "prepend"}
ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit", "blackhole", "nat"}
# Where "default" goes in a mutant: a network of the documentation ranges (RFC 5737, 3849),
# which no lab should route to.
ELSEWHERE = {4: ipaddress.ip_network("198.51.100.0/24"), 6: ipaddress.ip_network("2001:db8:ffff::/64")}
MAX_SEARCH = 4096  # candidates tried for a free address or network


@dataclass
class Used:
    """Every address and network a scenario mentions: an altered argument avoids them all,
    so that a mutant breaks the lab in one way (not by also colliding with another host)."""

    addresses: set[IPAddress] = field(default_factory=set)
    networks: set[IPNetwork] = field(default_factory=set)

    def add_text(self, text: str) -> None:
        for word in re.split(r"[\s,;=\"'()\[\]{}]+", text):
            self._add_word(word)

    def _add_word(self, word: str) -> None:
        for candidate in (word, word.rpartition(":")[0]):  # ADDRESS:PORT too
            try:
                interface = ipaddress.ip_interface(candidate)
            except ValueError:
                continue
            self.addresses.add(interface.ip)
            if "/" in candidate:
                self.networks.add(interface.network)
            return

    def network_taken(self, network: IPNetwork) -> bool:
        if network.prefixlen == network.max_prefixlen:  # one address: any the scenario does not name
            return network.network_address in self.addresses
        return (any(address in network for address in self.addresses)
                or any(network.overlaps(other) for other in self.networks if other.version == network.version
                       and other.prefixlen > 0))


@dataclass(frozen=True)
class Alteration:
    """A command with one key argument changed: ``command`` is the new command."""

    command: str
    old: str
    new: str
    what: str  # "another address in the same subnet", ...

    def describe(self) -> str:
        return f"{self.what}: {self.old} -> {self.new}"


def words_of(command: str) -> list[str] | None:
    """The words of a simple command; None for shell syntax (pipes, redirections, ...) or bad quoting."""
    if SHELL_SYNTAX.search(command):
        return None
    try:
        return shlex.split(command)
    except ValueError:
        return None


def _without_netns_exec(words: list[str]) -> int:
    """Where the command proper starts, after any ``ip netns exec NS`` (or ``ip -n NS``-free) prefix."""
    start = 0
    while words[start:start + 3] == ["ip", "netns", "exec"] and len(words) > start + 4:
        start += 4
    return start


def _ip_parts(words: list[str], start: int) -> tuple[str, str, int] | None:
    """(object, verb, index of the first word after the verb) of an ``ip`` command."""
    if words[start:start + 1] != ["ip"]:
        return None
    i = start + 1
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in IP_OPTIONS_WITH_VALUE else 1
    obj = words[i] if i < len(words) else ""
    verb = words[i + 1] if i + 1 < len(words) else ""
    return obj, verb, i + 2


def changes_lab(command: str) -> bool:
    """Whether a command may change the lab; only commands known to just look say no."""
    words = words_of(command)
    if not words:
        return True
    start = _without_netns_exec(words)
    program, args = words[start], words[start + 1:]
    if program in READ_ONLY_PROGRAMS:
        return False
    if program == "ip":
        obj, verb, _ = _ip_parts(words, start) or ("", "", 0)
        return not (verb in SHOW_VERBS or (obj == "netns" and verb in ("", "list", "identify", "pids")))
    if program == "bridge":
        return len(args) > 1 and args[1] not in SHOW_VERBS
    if program in IPTABLES:
        return not (set(args) & IPTABLES_LIST) or bool(set(args) & IPTABLES_CHANGE)
    if program == "sysctl":
        return any(a in ("-w", "--write", "-p", "--load") or "=" in a for a in args)
    return True


def alterations(command: str, used: Used) -> list[Alteration]:
    """The command with its key argument altered, one way per mutant: an address (another one
    in the same subnet; a different prefix length), a route's destination, an iptables
    rule's source or destination. Nothing for a command without an obvious key argument."""
    words = words_of(command)
    if not words:
        return []
    start = _without_netns_exec(words)
    if words[start] in IPTABLES:
        return _iptables(command, words, used)
    parts = _ip_parts(words, start)
    if parts is None:
        return []
    obj, verb, after = parts
    if obj and "address".startswith(obj) and verb in ("add", "replace", "change"):
        return _address(command, words, after, used)
    if obj and "route".startswith(obj) and verb in ROUTE_ADD:
        return _route(command, words, after, used)
    return []


def _address(command: str, words: list[str], after: int, used: Used) -> list[Alteration]:
    index = next((i for i in range(after, len(words)) if _interface(words[i]) and words[i - 1] != "dev"), None)
    if index is None:
        return []
    old = words[index]
    interface = _interface(old)
    assert interface is not None  # the word was chosen for being one
    found = []
    other = _free_address(interface, used)
    if other is not None:
        new = f"{other}/{interface.network.prefixlen}" if "/" in old else str(other)
        found.append(_replace(command, words, index, new, "another address in the same subnet"))
    host = interface.max_prefixlen
    prefix = host if interface.network.prefixlen != host else (24 if interface.version == 4 else 64)
    found.append(_replace(command, words, index, f"{interface.ip}/{prefix}", "a different prefix length"))
    return found


def _route(command: str, words: list[str], after: int, used: Used) -> list[Alteration]:
    index = after
    while index < len(words) and (words[index] == "to" or words[index] in ROUTE_TYPES):
        index += 1
    if index >= len(words):
        return []
    old = words[index]
    if old == "default" or (network := _network(old)) is not None and network.prefixlen == 0:
        version = 6 if "-6" in words or any(":" in w and _network(w) for w in words) else 4
        new = str(ELSEWHERE[version])
    else:
        network = _network(old)
        shifted = _free_network(network, used) if network is not None else None
        if shifted is None:
            return []
        new = _shown_like(old, shifted)
    return [_replace(command, words, index, new, "a route to another destination")]


def _iptables(command: str, words: list[str], used: Used) -> list[Alteration]:
    if not set(words) & IPTABLES_ADD:
        return []
    found = []
    for index, word in enumerate(words[:-1]):
        if word not in IPTABLES_ADDRESS:
            continue
        old = words[index + 1]
        network = _network(old)
        shifted = _free_network(network, used) if network is not None and network.prefixlen > 0 else None
        if shifted is not None:
            found.append(_replace(command, words, index + 1, _shown_like(old, shifted),
                                  f"the rule's {IPTABLES_ADDRESS[word]} ({word}) is another network"))
    return found


def _interface(word: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        return None


def _network(word: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError:
        return None


def _free_address(interface, used: Used) -> IPAddress | None:
    """The next address of ``interface``'s subnet that the scenario does not mention."""
    network = interface.network
    hosts = network.num_addresses - (2 if interface.version == 4 and network.prefixlen < 31 else 0)
    first = int(network.network_address) + (1 if interface.version == 4 and network.prefixlen < 31 else 0)
    if hosts < 2:
        return None
    offset = int(interface.ip) - first
    for step in range(1, min(hosts, MAX_SEARCH)):
        candidate = ipaddress.ip_address(first + (offset + step) % hosts)
        if candidate not in used.addresses:
            return candidate
    return None


def _free_network(network: IPNetwork, used: Used) -> IPNetwork | None:
    """A network of the same size after (or else before) ``network`` that the scenario does not use."""
    size, top = network.num_addresses, 2 ** network.max_prefixlen
    for direction in (1, -1):
        for step in range(1, MAX_SEARCH):
            start = int(network.network_address) + direction * step * size
            if not 0 <= start < top:
                break
            candidate = ipaddress.ip_network((start, network.prefixlen))
            if not used.network_taken(candidate):
                return candidate
    return None


def _shown_like(old: str, network: IPNetwork) -> str:
    """``network`` written as ``old`` was: a plain address stays a plain address."""
    return str(network.network_address) if "/" not in old else str(network)


def _replace(command: str, words: list[str], index: int, new: str, what: str) -> Alteration:
    """``command`` with the word at ``index`` replaced, the rest of its text as it was written."""
    old = words[index]
    occurrence = words[:index].count(old)
    matches = list(re.finditer(rf"(?<![^\s'\"]){re.escape(old)}(?![^\s'\"])", command))
    if len(matches) > occurrence:
        match = matches[occurrence]
        text = command[:match.start()] + new + command[match.end():]
    else:
        text = shlex.join(words[:index] + [new] + words[index + 1:])
    return Alteration(text, old, new, what)
