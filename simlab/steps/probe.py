"""What the probe kinds (ping, connect) share: how long they wait, and their keys."""

from __future__ import annotations

from simlab.checks.outcome import REASONS

# How long a probe waits when the step gives no deadline. A reply (or an
# ICMP error) ends the wait at once, so only "no-reply" pays its full window:
# three probes in 0.5 s, where a reply in a sealed lab takes under a millisecond.
# "unreachable" outlasts the kernel's ARP (and NDP) resolution, which gives up on
# an address nobody holds after mcast_solicit (3) probes retrans_time (1 s) apart;
# only then does "Destination Host Unreachable" (EHOSTUNREACH) come back.
DEFAULT_DEADLINE = {"reply": 3.0, "no-reply": 0.5, "unreachable": 4.0, "open": 3.0, "refused": 3.0}
DEADLINE_RANGE = (0.1, 60)
DEADLINE_USAGE = "deadline is seconds to wait, from 0.1 to 60"
SLACK = 5.0  # seconds a probe's command may take beyond its own deadline

OPTIONS: dict[str, dict] = {
    "deadline": {"type": "number", "minimum": DEADLINE_RANGE[0], "maximum": DEADLINE_RANGE[1],
                 "description": "Seconds to wait for an answer."},
    "reason": {"enum": list(REASONS), "description": "Narrows 'unreachable': "
               + "; ".join(f"{k}: {v}" for k, v in REASONS.items())},
    "from": {"type": "string", "description": "The address that must answer (or send the ICMP error)."},
}
