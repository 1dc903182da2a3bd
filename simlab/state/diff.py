"""What changed between two states of a lab: namespaces, interfaces, addresses, routes, rules.

A state is flattened into facts (a namespace exists, an interface is up, an
address is on an interface, ...); a change is a fact added or removed.
Loopback interfaces themselves are left out (every new namespace has one),
their addresses are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from simlab.state.model import LabState, Namespace

# Fact kinds in the order changes are listed.
KINDS = ("host", "namespace", "interface", "up", "master", "address", "route", "forwarding", "rule")


@dataclass(frozen=True)
class Change:
    """``what`` (one of KINDS) ``item`` was ``added`` or removed on ``host`` in ``netns``."""

    added: bool
    what: str
    host: str
    netns: str  # "" for the host's own namespace
    item: str
    interface: str = ""  # the interface an address, up state or master belongs to

    def to_dict(self) -> dict:
        return {"change": "added" if self.added else "removed", "what": self.what, "host": self.host,
                "netns": self.netns or None, "interface": self.interface or None, "item": self.item}

    @classmethod
    def from_dict(cls, data: dict) -> Change:
        return cls(data["change"] == "added", data["what"], data["host"], data.get("netns") or "",
                   data["item"], data.get("interface") or "")

    def text(self) -> str:
        """One line for a terminal, e.g. '+ container-a/red: address 192.168.15.1/24 on veth-red'."""
        where = self.host + (f"/{self.netns}" if self.netns else "")
        what = {"up": "up:", "master": "plugged into", "forwarding": "forwarding"}.get(self.what, self.what)
        item = f"{self.interface} {what} {self.item}" if self.what in ("up", "master") else f"{what} {self.item}"
        if self.what == "up":
            item = f"{self.interface} is up" if self.added else f"{self.interface} is down"
        elif self.what == "address":
            item += f" on {self.interface}"
        elif self.what == "forwarding":
            item = "forwarding on" if self.added else "forwarding off"
        return f"{'+' if self.added else '-'} {where}: {item}"


def diff_states(before: LabState | None, after: LabState) -> list[Change]:
    """The changes from ``before`` to ``after`` (everything is added when ``before`` is None)."""
    old = facts(before) if before else set()
    new = facts(after)
    # Forwarding is a property of a namespace: it is a change only where the namespace was already there.
    had, has = _namespaces(old), _namespaces(new)
    changes = [_change(True, f) for f in new - old if f[0] != "forwarding" or (f[1], f[2]) in had]
    changes += [_change(False, f) for f in old - new if f[0] != "forwarding" or (f[1], f[2]) in has]
    return sorted(changes, key=lambda c: (KINDS.index(c.what), not c.added, c.host, c.netns, c.interface, c.item))


def _namespaces(found: set[tuple]) -> set[tuple[str, str]]:
    """(host, namespace) pairs, the host's own namespace as ''."""
    return {(f[1], f[4] if f[0] == "namespace" else "") for f in found if f[0] in ("namespace", "host")}


def _change(added: bool, fact: tuple) -> Change:
    what, host, netns, interface, item = fact
    return Change(added, what, host, netns, item, interface)


def facts(state: LabState) -> set[tuple[str, str, str, str, str]]:
    """(kind, host, netns, interface, item) for everything a diff looks at."""
    found = set()
    for host in state.hosts.values():
        found.add(("host", host.name, "", "", host.status))
        for ns in host.netns.values():
            found.add(("namespace", host.name, "", "", ns.name))
        for ns in host.namespaces():
            found |= _namespace_facts(host.name, ns)
    return found


def _namespace_facts(host: str, ns: Namespace) -> set[tuple[str, str, str, str, str]]:
    found = set()
    if ns.forwarding:
        found.add(("forwarding", host, ns.name, "", "on"))
    for name, interface in ns.interfaces.items():
        if interface.kind != "loopback":
            found.add(("interface", host, ns.name, "", f"{name} ({interface.kind})"))
            if interface.up:
                found.add(("up", host, ns.name, name, "up"))
        if interface.master:
            found.add(("master", host, ns.name, name, interface.master))
        found |= {("address", host, ns.name, name, a) for a in interface.addresses}
    found |= {("route", host, ns.name, "", r) for r in ns.routes}
    found |= {("rule", host, ns.name, "", f"-t {table} {r}") for table, rules in ns.rules.items() for r in rules}
    return found
