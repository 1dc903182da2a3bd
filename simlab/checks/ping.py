"""Ping probes: the command a ping step runs and how its output is classified."""

from __future__ import annotations

import math
import re
import shlex

from simlab.checks.outcome import Outcome, icmp_error, local_refusal

PING_ENV = {"LC_ALL": "C"}  # classification reads ping's English messages
REPLY = re.compile(r"^\d+ bytes from (\S+?):? .*icmp_seq=", re.MULTILINE)
NO_REPLY = re.compile(r"\b0 received\b|packet loss")
RESOLVED = re.compile(r"^PING ([^\s(]+) ?\(([^)]+)\)", re.MULTILINE)  # IPv6: "PING b(fd01::2) 56 data bytes"


def ping_command(target: str, deadline: float, count: int = 1, ttl: int | None = None,
                 source: str | None = None, size: int | None = None) -> str:
    """``count`` probes 0.2 s apart, ending at the last reply or ICMP error, or at ``deadline``.

    ping's -w keeps it probing (without it, -c 1 sends one probe only) but takes whole
    seconds; ``timeout -s INT`` cuts it at the exact deadline, and on SIGINT ping prints
    its statistics and exits 1, which --preserve-status passes on. ``size`` sets the
    payload and forbids fragmentation (-M do), for MTU lessons."""
    options = ""
    if ttl is not None:
        options += f" -t {ttl}"
    if source is not None:
        options += f" -I {shlex.quote(source)}"
    if size is not None:
        options += f" -s {size} -M do"
    return (f"timeout --preserve-status -s INT {deadline:g} "
            f"ping -n -c {count} -i 0.2 -w {math.ceil(deadline)}{options} {shlex.quote(target)}")


def classify_ping(exit_code: int, output: str) -> Outcome:
    """reply only when every probe was answered (ping exits 0 with -w only then)."""
    reply = REPLY.search(output)
    if exit_code == 0 and reply:
        return Outcome("reply", peer=reply.group(1))
    refused = icmp_error(output) or local_refusal(output)
    if refused:
        return refused
    if exit_code == 1 and NO_REPLY.search(output):
        return Outcome("no-reply")
    return Outcome("error")


def resolved_target(output: str) -> str:
    """``name (address)`` when ping resolved a name, so a result says which address it chose."""
    found = RESOLVED.search(output)
    if found and found.group(1) != found.group(2):
        return f"{found.group(1)} ({found.group(2)})"
    return ""
