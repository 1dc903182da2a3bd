"""Ping checks: the command a check runs and how its output is classified.

``reply``: an echo reply came back. ``unreachable``: the kernel or a router
said so (Network is unreachable, Destination Host/Net Unreachable, No route
to host). ``no-reply``: packets left and nothing came back within the
deadline. Anything else (an unknown host, a missing namespace) is ``error``.
"""

from __future__ import annotations

import re

PING_ENV = {"LC_ALL": "C"}  # classification reads ping's English messages
UNREACHABLE = re.compile(r"Network is unreachable|Destination (Host|Net|Network|Port|Protocol) Unreachable"
                         r"|No route to host|Destination unreachable", re.IGNORECASE)
REPLY = re.compile(r"^\d+ bytes from .*icmp_seq=", re.MULTILINE)
NO_REPLY = re.compile(r"\b0 received\b|100% packet loss")


def ping_command(target: str, deadline: int) -> str:
    """One reply ends it; otherwise a probe every 0.2 s until ``deadline`` seconds pass."""
    return f"ping -n -c 1 -i 0.2 -w {deadline} {target}"


def classify_ping(exit_code: int, output: str) -> str:
    if exit_code == 0 and REPLY.search(output):
        return "reply"
    if UNREACHABLE.search(output):
        return "unreachable"
    if exit_code == 1 and NO_REPLY.search(output):
        return "no-reply"
    return "error"
