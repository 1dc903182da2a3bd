"""Neighbour probes: the kernel's neighbour (ARP / NDP) entry for an address.

``resolved``: the kernel has a link-layer address for it (REACHABLE, STALE, DELAY,
PROBE, PERMANENT). ``failed``: it asked and nobody answered (FAILED). ``incomplete``:
it is still asking. ``absent``: there is no entry (never asked, or flushed).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass

RESOLVED = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"}


@dataclass(frozen=True)
class Neighbour:
    kind: str  # "resolved", "failed", "incomplete", "absent" or "error"
    lladdr: str = ""
    dev: str = ""

    def __str__(self) -> str:
        detail = " ".join(f"{k} {v}" for k, v in (("lladdr", self.lladdr), ("dev", self.dev)) if v)
        return f"{self.kind} ({detail})" if detail else self.kind

    def meets(self, kind: str, lladdr: str | None, dev: str | None) -> bool:
        return (self.kind == kind and (lladdr is None or lladdr.lower() == self.lladdr.lower())
                and (dev is None or dev == self.dev))


def neigh_command(address: str, dev: str | None) -> str:
    where = f" dev {shlex.quote(dev)}" if dev else ""
    return f"ip -j neigh show to {shlex.quote(address)}{where} nud all"


def classify_neigh(exit_code: int, output: str, address: str, dev: str | None = None) -> Neighbour:
    """The entry of ``address`` in ``ip -j neigh`` output (shown for one ``dev``, it names none)."""
    if exit_code != 0:
        return Neighbour("error")
    try:
        entries = json.loads(output.strip() or "[]")
    except ValueError:
        return Neighbour("error")
    wanted = ipaddress.ip_address(address)
    entry = next((e for e in entries if _address(e.get("dst")) == wanted), None)
    if entry is None:
        return Neighbour("absent")
    states = set(entry.get("state", []))
    lladdr, dev = entry.get("lladdr", ""), entry.get("dev", dev or "")
    if "FAILED" in states:
        return Neighbour("failed", dev=dev)
    if "INCOMPLETE" in states:
        return Neighbour("incomplete", dev=dev)
    if states & RESOLVED and lladdr:
        return Neighbour("resolved", lladdr, dev)
    return Neighbour("absent" if not states else "incomplete", lladdr, dev)


def _address(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        return None
