"""The outcome of a probe: what came back, why, and from whom.

``reply``: the target answered. ``no-reply``: probes left and nothing came back.
``unreachable``: an ICMP error came back, or the sender's own kernel refused to
send; ``reason`` narrows it down (REASONS) and ``peer`` is the address that
said so (empty when the sender's kernel refused). ``error``: the probe itself
could not run (an unknown name, a missing namespace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("reply", "no-reply", "unreachable")  # and "partial": some of several probes answered
REASONS = {
    "net": "network unreachable (a router has no route)",
    "host": "host unreachable (no answer to ARP on the last hop, or an unreachable route)",
    "port": "port or protocol unreachable (the destination host itself refused)",
    "filtered": "administratively prohibited (REJECT, a prohibit route)",
    "ttl": "time to live exceeded (a routing loop, or a low ttl)",
    "local": "the sender's own kernel refused to send (no route, blackhole, prohibit, firewall)",
    "frag": "fragmentation needed but don't-fragment set (an MTU too small on the path)",
}

# What iputils ping prints after "From ADDR icmp_seq=N" for each ICMP error (LC_ALL=C).
ICMP_MESSAGES = (
    ("Destination Net Unreachable", "net"), ("Destination Net Unknown", "net"), ("Source Route Failed", "net"),
    ("Destination Host Unreachable", "host"), ("Destination Host Unknown", "host"),
    ("Source Host Isolated", "host"),
    ("Destination Protocol Unreachable", "port"), ("Destination Port Unreachable", "port"),
    ("Destination Net Prohibited", "filtered"), ("Destination Host Prohibited", "filtered"),
    ("Packet filtered", "filtered"), ("Precedence Violation", "filtered"), ("Precedence Cutoff", "filtered"),
    ("Time to live exceeded", "ttl"), ("Frag reassembly time exceeded", "ttl"),
    ("Frag needed and DF set", "frag"),
    # ICMPv6 (RFC 4443), as iputils words it: "Destination unreachable: CODE", ...
    ("Destination unreachable: No route", "net"), ("Destination unreachable: Beyond scope", "net"),
    ("Destination unreachable: Address unreachable", "host"), ("Destination unreachable: Port unreachable", "port"),
    ("Destination unreachable: Administratively prohibited", "filtered"),
    ("Destination unreachable: Unknown code 5", "filtered"),  # source address failed ingress/egress policy
    ("Destination unreachable: Unknown code 6", "filtered"),  # reject route to destination
    ("Time exceeded: Hop limit", "ttl"), ("Time exceeded: Defragmentation failure", "ttl"),
    ("Packet too big", "frag"),
)
# ICMP (type, code) -> reason, for probes that read ICMP errors themselves (connect, trace).
ICMP_CODES = {(3, 0): "net", (3, 1): "host", (3, 2): "port", (3, 3): "port", (3, 4): "frag", (3, 5): "net",
              (3, 6): "net", (3, 7): "host", (3, 8): "host", (3, 9): "filtered", (3, 10): "filtered",
              (3, 11): "net", (3, 12): "host", (3, 13): "filtered", (3, 14): "filtered", (3, 15): "filtered",
              (11, 0): "ttl", (11, 1): "ttl"}
# ICMPv6 (type, code) -> reason: destination unreachable, packet too big, time exceeded.
ICMP6_CODES = {(1, 0): "net", (1, 1): "filtered", (1, 2): "net", (1, 3): "host", (1, 4): "port", (1, 5): "filtered",
               (1, 6): "filtered", (2, 0): "frag", (3, 0): "ttl", (3, 1): "ttl"}
# What a tool prints when the sender's kernel refuses to send, and the reason it means.
LOCAL_REFUSALS = (
    (re.compile(r"local error: message too long|Message too long", re.IGNORECASE), "frag"),
    (re.compile(r"(connect|sendmsg|sendto): (Network is unreachable|No route to host|Invalid argument"
                r"|Operation not permitted|Permission denied)"), "local"),
    # ping's words for EACCES from sendmsg: a prohibit route or an OUTPUT rule that rejects
    (re.compile(r"check your local firewall rules"), "local"),
)


@dataclass(frozen=True)
class Outcome:
    kind: str  # one of KINDS, or "error"
    reason: str = ""  # for unreachable: one of REASONS, or "" when the ICMP error is not one of them
    peer: str = ""  # who answered: the replying host, or the router that sent the ICMP error
    answered: int = field(default=0, compare=False)  # probes answered (ping), of ``count`` sent
    count: int = field(default=0, compare=False)

    def __str__(self) -> str:
        if self.kind == "partial":
            return f"{self.answered}/{self.count} replies" + (f" from {self.peer}" if self.peer else "")
        text = self.kind
        if self.reason:
            text += f": {self.reason}"
        if self.peer:
            text += f"{',' if self.reason else ''} from {self.peer}"
        return text

    def meets(self, kind: str, reason: str | None = None, peer: str | None = None) -> bool:
        """Whether this outcome is what a step expects (a reason or peer only when it names one)."""
        return (self.kind == kind and (reason is None or reason == self.reason)
                and (peer is None or peer == self.peer))


def expectation(kind: str, reason: str | None = None, peer: str | None = None) -> str:
    """The text of an expectation, worded like an Outcome."""
    return str(Outcome(kind, reason or "", peer or ""))


ICMP_ERROR = re.compile(r"^From (\S+?)(?: \(([^)]*)\))?:? icmp_seq=\d+ (.+)$", re.MULTILINE)


def icmp_error(output: str) -> Outcome | None:
    """The first ICMP error a tool printed as "From ADDR icmp_seq=N MESSAGE", if any."""
    for found in ICMP_ERROR.finditer(output):
        message = found.group(3)
        if message.startswith("Redirect"):
            continue  # a redirect is advice, not an error: the packet went on
        peer = found.group(2) or found.group(1)
        reason = next((r for text, r in ICMP_MESSAGES if message.lower().startswith(text.lower())), "")
        return Outcome("unreachable", reason, peer)
    return None


def local_refusal(output: str) -> Outcome | None:
    """The sender's kernel refused to send (ENETUNREACH, EINVAL for a blackhole, EACCES, EMSGSIZE)."""
    for pattern, reason in LOCAL_REFUSALS:
        if pattern.search(output):
            return Outcome("unreachable", reason)
    return None
