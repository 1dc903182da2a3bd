"""Ping checks: the command a check runs and how its output is classified.

``reply``: an echo reply came back. ``unreachable``: the kernel or a router
said so (Network is unreachable, Destination Host/Net Unreachable, No route
to host). ``no-reply``: packets left and nothing came back within the
deadline. Anything else (an unknown host, a missing namespace) is ``error``.
"""

from __future__ import annotations

import math
import re

PING_ENV = {"LC_ALL": "C"}  # classification reads ping's English messages
UNREACHABLE = re.compile(r"Network is unreachable|Destination (Host|Net|Network|Port|Protocol) Unreachable"
                         r"|No route to host|Destination unreachable", re.IGNORECASE)
REPLY = re.compile(r"^\d+ bytes from .*icmp_seq=", re.MULTILINE)
NO_REPLY = re.compile(r"\b0 received\b|100% packet loss")


def ping_command(target: str, deadline: float) -> str:
    """A probe every 0.2 s until the first reply or ICMP error, or until ``deadline``.

    ping's -w keeps it probing (without it, -c 1 sends one probe only) but takes whole
    seconds; ``timeout -s INT`` cuts it at the exact deadline, and on SIGINT ping prints
    its statistics and exits 1, which --preserve-status passes on."""
    return (f"timeout --preserve-status -s INT {deadline:g} "
            f"ping -n -c 1 -i 0.2 -w {math.ceil(deadline)} {target}")


def classify_ping(exit_code: int, output: str) -> str:
    if exit_code == 0 and REPLY.search(output):
        return "reply"
    if UNREACHABLE.search(output):
        return "unreachable"
    if exit_code == 1 and NO_REPLY.search(output):
        return "no-reply"
    return "error"
