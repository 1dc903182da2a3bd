"""``neigh``: the kernel's neighbour (ARP / NDP) entry for an address: resolved, failed or absent."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from simlab.checks.neigh import classify_neigh, neigh_command
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields

EXPECT = ("resolved", "failed", "absent")


@dataclass
class NeighStep(Step):
    """The neighbour entry of ``target`` (on ``dev``): resolved (to ``lladdr``), failed or absent."""

    KIND = "neigh"
    target: str = ""
    expect: str = "resolved"
    dev: str | None = None
    lladdr: str | None = None


class Neigh(Kind):
    key = "neigh"
    step = NeighStep
    summary = "the neighbour (ARP/NDP) entry of an address; expect resolved, failed or absent"
    schema = {"type": "string", "description": "The address whose neighbour entry to read (ip neigh)."}
    options = {
        "expect": {"enum": list(EXPECT)},
        "dev": {"type": "string"},
        "lladdr": {"type": "string", "pattern": r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$",
                   "description": "The link-layer (MAC) address it must resolve to."},
    }

    def parse(self, fields: Fields, common: dict[str, Any]) -> NeighStep | None:
        target = fields.get("neigh")
        try:
            address = str(ipaddress.ip_address(str(target).strip()))
        except ValueError:
            fields.problem("neigh", "neigh takes one IPv4 or IPv6 address")
            return None
        expect = fields.expect("neigh", EXPECT)
        lladdr = fields.get("lladdr")
        if lladdr is not None and (expect != "resolved" or not isinstance(lladdr, str)
                                   or not _is_mac(lladdr)):
            fields.problem("lladdr", "lladdr is the MAC address (like 02:42:0a:00:00:02) a resolved entry has")
            lladdr = None
        return NeighStep(**common, target=address, expect=expect, dev=fields.word("dev"), lladdr=lladdr)

    def commands(self, step: NeighStep) -> list[str]:
        return [neigh_command(step.target, step.dev)]

    def shown(self, step: NeighStep) -> list[str]:
        return [f"ip neigh show to {step.target}" + (f" dev {step.dev}" if step.dev else "")]

    def time_limit(self, step: NeighStep, default: float = 0) -> float:
        return 10.0

    def expected(self, step: NeighStep) -> str:
        return step.expect + (f" (lladdr {step.lladdr})" if step.lladdr else "")

    def judge(self, step: NeighStep, runs: list[CommandRun]) -> Verdict:
        got = classify_neigh(runs[-1].exit_code, runs[-1].output, step.target, step.dev)
        return Verdict(str(got), got.meets(step.expect, step.lladdr, step.dev), runs[-1].output)


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)
