"""Route probes: what the kernel would do with a packet (``ip -j route get DEST``)."""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass

# ip route get's error for each kind of route that refuses (RTNETLINK answers: ...)
REFUSALS = {"Permission denied": "prohibit", "Invalid argument": "blackhole",
            "No route to host": "unreachable", "Network is unreachable": "unreachable"}


@dataclass(frozen=True)
class RouteOutcome:
    kind: str  # "route", "unreachable", "blackhole", "prohibit" or "error"
    via: str = ""
    dev: str = ""
    src: str = ""

    def __str__(self) -> str:
        return describe(self.kind, self.via, self.dev, self.src)

    def meets(self, kind: str, via: str | None, dev: str | None, src: str | None) -> bool:
        return (self.kind == kind and via in (None, self.via) and dev in (None, self.dev)
                and src in (None, self.src))


def describe(kind: str, via: str | None = None, dev: str | None = None, src: str | None = None) -> str:
    parts = [kind] + [f"{key} {value}" for key, value in (("via", via), ("dev", dev), ("src", src)) if value]
    return " ".join(parts)


def route_command(target: str) -> str:
    """ip route get takes addresses only: a lab host's name is looked up in /etc/hosts first."""
    try:
        ipaddress.ip_address(target)
        return f"ip -j route get {target}"
    except ValueError:
        name = shlex.quote(target)
        return (f"addr=$(getent ahosts {name} | awk 'NR==1 {{print $1}}'); "
                f"[ -n \"$addr\" ] || {{ echo \"route: {target}: unknown name\"; exit 2; }}; ip -j route get \"$addr\"")


def classify_route(exit_code: int, output: str) -> RouteOutcome:
    if exit_code != 0:
        return next((RouteOutcome(kind) for text, kind in REFUSALS.items() if text in output), RouteOutcome("error"))
    try:
        route = json.loads(output.strip().splitlines()[0])[0]
    except (ValueError, IndexError, KeyError):
        return RouteOutcome("error")
    return RouteOutcome("route", route.get("gateway", ""), route.get("dev", ""), route.get("prefsrc", ""))
