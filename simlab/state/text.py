"""Terminal text of a lab's state (`simlab inspect`) and of changes (`simlab run --explain`)."""

from __future__ import annotations

from simlab.state.diff import Change
from simlab.state.model import HostState, LabState, Namespace


def state_lines(state: LabState) -> list[str]:
    lines = [f"lab {state.lab}"]
    for host in state.hosts.values():
        lines += _host_lines(host)
    return lines


def _host_lines(host: HostState) -> list[str]:
    if host.status != "running":
        return ["", f"{host.name}: {host.status.upper()}" + (f" ({host.error})" if host.error else "")]
    lines = []
    for ns in host.namespaces():
        lines += ["", f"{host.name}" + (f" / netns {ns.name}" if ns.name else "")] + _namespace_lines(ns)
    return lines


def _namespace_lines(ns: Namespace) -> list[str]:
    forwarding = {True: "on", False: "off", None: "?"}[ns.forwarding]
    lines = [f"  forwarding {forwarding}"]
    width = max((len(n) for n in ns.interfaces), default=0)
    for name, i in ns.interfaces.items():
        extra = [f"master {i.master}"] if i.master else []
        if i.peer:
            extra.append(f"peer {i.peer.describe()}")
        members = ns.bridges().get(name)
        if members:
            extra.append(f"members {', '.join(members)}")
        state = "UP" if i.up and i.state in ("UP", "UNKNOWN") else i.state if i.up else "DOWN"
        lines.append(f"  {name:<{width}}  {i.kind:<8} {state:<7} {' '.join(i.addresses) or '-':<20} "
                     f"{'; '.join(extra)}".rstrip())
    lines += [f"  route {r}" for r in ns.routes]
    lines += [f"  iptables -t {t} {r}" for t, rules in ns.rules.items() for r in rules]
    return lines


def change_lines(changes: list[Change]) -> list[str]:
    return [c.text() for c in changes if c.what != "host"]
