"""Trace probes: the hops toward a destination, one ping per TTL (the image has no traceroute).

Each hop is the router that answered "Time to live exceeded" (ICMPv6: "Time exceeded:
Hop limit") to a probe with that TTL ("*" when none did within a second); the trace ends at the destination's reply,
at another ICMP error (that router is the last hop), or at ``max_hops``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from simlab.checks.outcome import icmp_error, local_refusal

HOP = re.compile(r"^@@hop (\d+) ?(.*)$", re.MULTILINE)
REPLY = re.compile(r"bytes from (\S+?):? ")


@dataclass(frozen=True)
class TracePath:
    hops: list[str] = field(default_factory=list)
    end: str = ""  # "reached", "unreachable: REASON", or "" (ran out of hops)

    def __str__(self) -> str:
        return f"path {' > '.join(self.hops) or '(none)'}" + (f" ({self.end})" if self.end else "")

    def meets(self, path: list[str], whole: bool) -> bool:
        """The path starts with ``path`` ('*' any hop); ``whole``: it is exactly ``path`` and its
        last hop is the destination's reply (not a silent hop, not a router's ICMP error)."""
        if whole and (len(path) != len(self.hops) or self.end != "reached"):
            return False
        return len(self.hops) >= len(path) and all(want in ("*", got) for want, got in zip(path, self.hops))


def trace_command(target: str, max_hops: int) -> str:
    dest = shlex.quote(target)
    return (f"t=1; while [ $t -le {max_hops} ]; do "
            f"out=$(ping -n -c 1 -W 1 -t $t {dest} 2>&1); rc=$?; "
            f"line=$(printf '%s\\n' \"$out\" | grep -E '^From |bytes from' | head -n 1); "
            f"echo \"@@hop $t $line\"; "
            f"case \"$line\" in *'bytes from'*) break ;; "
            f"*'Time to live exceeded'*|*'Time exceeded: Hop limit'*) ;; 'From '*) break ;; esac; "
            f"[ $rc -eq 2 ] && {{ printf '%s\\n' \"$out\"; exit 2; }}; t=$((t+1)); done")


def classify_trace(exit_code: int, output: str) -> TracePath | None:
    """The path, or None when the probe could not run (an unknown name, the kernel refusing)."""
    if exit_code != 0:
        refused = local_refusal(output)
        return TracePath([], str(refused)) if refused else None
    hops, end = [], ""
    for _, line in HOP.findall(output):
        reply = REPLY.search(line)
        error = icmp_error(line)
        if reply:
            hops.append(reply.group(1))
            end = "reached"
        elif error:
            hops.append(error.peer)
            if error.reason != "ttl":
                end = f"unreachable: {error.reason}" if error.reason else "unreachable"
        else:
            hops.append("*")
    return TracePath(hops, end)
