"""Ping probes: the command a ping step runs and how its output is classified."""

from __future__ import annotations

import math
import re
import shlex

from simlab.checks.outcome import Outcome, icmp_error, local_refusal

PING_ENV = {"LC_ALL": "C"}  # classification reads ping's English messages
REPLY = re.compile(r"^\d+ bytes from (\S+?):? .*icmp_seq=(\d+)", re.MULTILINE)
STATISTICS = re.compile(r"^(\d+) packets transmitted, (\d+) received", re.MULTILINE)
NO_REPLY = re.compile(r"\b0 received\b|packet loss")
RESOLVED = re.compile(r"^PING ([^\s(]+) ?\(([^)]+)\)", re.MULTILINE)  # IPv6: "PING b(fd01::2) 56 data bytes"


def ping_command(target: str, deadline: float, count: int = 1, ttl: int | None = None,
                 source: str | None = None, size: int | None = None) -> str:
    """One probe answered, or ``count`` probes 0.2 s apart, ending at the last answer or at ``deadline``.

    With one probe (the default) ping's -w keeps it probing until the first reply or ICMP
    error, so a probe lost while ARP resolves does not decide the step. With several,
    exactly ``count`` probes leave (-W waits for the last answers without sending more),
    so that each answer counts: 2 of 4 answered is partial loss, never a reply.
    -w and -W take whole seconds; ``timeout -s INT`` cuts ping at the exact deadline, and
    on SIGINT ping prints its statistics and exits 1, which --preserve-status passes on.
    ``size`` sets the payload and forbids fragmentation (-M do), for MTU lessons."""
    options = ""
    if ttl is not None:
        options += f" -t {ttl}"
    if source is not None:
        options += f" -I {shlex.quote(source)}"
    if size is not None:
        options += f" -s {size} -M do"
    wait = "-w" if count == 1 else "-W"
    return (f"timeout --preserve-status -s INT {deadline:g} "
            f"ping -n -c {count} -i 0.2 {wait} {math.ceil(deadline)}{options} {shlex.quote(target)}")


def classify_ping(exit_code: int, output: str, count: int = 1) -> Outcome:
    """reply when ``count`` probes were answered; partial when some were (a lossy path);
    else the ICMP error, the local refusal, no-reply, or error."""
    replies = REPLY.findall(output)
    answered = len({seq for _, seq in replies})
    statistics = STATISTICS.search(output)
    if statistics:
        answered = min(answered, int(statistics.group(2))) if replies else 0
    peer = replies[0][0] if replies else ""
    if answered >= count:
        return Outcome("reply", peer=peer, answered=answered, count=count)
    if answered:
        return Outcome("partial", peer=peer, answered=answered, count=count)
    refused = icmp_error(output) or local_refusal(output)
    if refused:
        return refused
    if exit_code == 1 and NO_REPLY.search(output):
        return Outcome("no-reply", count=count)
    return Outcome("error")


def resolved_target(output: str) -> str:
    """``name (address)`` when ping resolved a name, so a result says which address it chose."""
    found = RESOLVED.search(output)
    if found and found.group(1) != found.group(2):
        return f"{found.group(1)} ({found.group(2)})"
    return ""
