"""Packet evidence: tcpdump on lab interfaces around a probe, and ``seen``/``unseen`` judged on it.

A capture starts detached on its host (or namespace) and the start returns only
once tcpdump says "listening on", so the probe cannot run before it; it is
stopped with SIGINT after the probe, once it has read every packet in its
ring (under load it lags), and the stop returns once tcpdump has printed its
closing statistics, so every packet it read has been written.
``--immediate-mode`` hands each packet to tcpdump as it arrives. Packets carry
the kernel's timestamp (``-tt``): what counts is what crossed a spot from the
probe's start on, so a capture may start early (while the step before runs).
tcpdump also writes the packets to a pcap file (``-w`` with ``--print``, tcpdump
4.99 or later), which the stop sends back (base64) when it is small enough, for
the reports to offer as a download.
"""

from __future__ import annotations

import base64
import re
import shlex
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

PROTOS = ("icmp", "icmp6", "tcp", "udp")  # icmp6: ICMPv6, neighbour discovery included
LINE = re.compile(r"^(\d+\.\d+) .*?\bIP6? (\S+) > (\S+): (.*)$")
WORDS = (("ICMP6", "icmp6"), ("ICMP", "icmp"), ("UDP", "udp"), ("tcp", "tcp"))  # how tcpdump -q begins each
POLLS = 1000  # 0.005 s apart: tcpdump has 5 s to start or to stop
CAPTURE_TIMEOUT = 15  # seconds for a capture's start or stop command
# bytes of pcap sent back: its base64 beside the text of as many packets stays well under the
# shell's MAX_OUTPUT, whose cut would leave the packets unjudged
MAX_PCAP = 192 << 10


@dataclass(frozen=True)
class Spot:
    """Where to capture: an interface of a host, or of a namespace in it."""

    host: str
    iface: str
    netns: str | None = None

    def __str__(self) -> str:
        return f"{self.host}{'/' + self.netns if self.netns else ''}:{self.iface}"


@dataclass(frozen=True)
class Evidence:
    """Packets that must (``seen``) or must not (``unseen``) cross ``spot`` during the probe."""

    spot: Spot
    seen: bool = True
    src: str | None = None
    dst: str | None = None
    proto: str | None = None
    count: int | None = None  # exactly this many (seen); default: at least one

    def describe(self) -> str:
        what = [f"{key} {value}" for key, value in (("proto", self.proto), ("src", self.src), ("dst", self.dst))
                if value]
        times = f", exactly {self.count}" if self.count is not None else ""
        return f"{'seen' if self.seen else 'unseen'} at {self.spot}: {', '.join(what) or 'any packet'}{times}"

    def matches(self, packet: Packet) -> bool:
        return (packet.spot == self.spot and self.src in (None, packet.src) and self.dst in (None, packet.dst)
                and self.proto in (None, packet.proto))

    def holds(self, packets: list[Packet]) -> bool:
        found = sum(self.matches(p) for p in packets)
        if not self.seen:
            return found == 0
        return found == self.count if self.count is not None else found > 0


@dataclass(frozen=True)
class Packet:
    spot: Spot
    src: str
    dst: str
    proto: str
    line: str  # as tcpdump printed it, without the timestamp
    time: float = 0.0  # seconds since the epoch, by the engine's kernel

    def __str__(self) -> str:
        return f"{self.spot}  {self.line}"


class Shell(Protocol):
    def run(self, command: str, netns: str | None = None, timeout: float = 60.0): ...


class Runs(Protocol):
    """What captures need of a lab: the shell of a host (labs.lab.Lab.shell)."""

    def shell(self, host: str) -> Shell: ...


@dataclass
class Capture:
    spot: Spot
    path: str
    pid: str = ""
    packets: list[Packet] = field(default_factory=list)
    error: str = ""
    pcap: bytes = b""  # the packets as tcpdump wrote them; empty when too big to send back

    def since(self, started: float | None) -> list[Packet]:
        """The packets from ``started`` on (all of them when None)."""
        return [p for p in self.packets if started is None or p.time >= started]


def start_captures(lab: Runs, spots: list[Spot]) -> list[Capture]:
    """Start a capture on every spot; return once each listens (or has failed, ``error``)."""
    captures = [Capture(spot, f"/tmp/simlab-capture-{uuid.uuid4().hex[:8]}") for spot in spots]
    _each(lambda c: _start(lab, c), captures)
    return captures


def stop_captures(lab: Runs, captures: list[Capture]) -> None:
    """Stop every capture that started and read its packets into it."""
    _each(lambda c: _stop(lab, c), [c for c in captures if c.pid])


def _each(fn, captures: list[Capture]) -> None:
    if len(captures) <= 1:
        for capture in captures:
            fn(capture)
        return
    with ThreadPoolExecutor(max_workers=len(captures)) as pool:
        list(pool.map(fn, captures))


def _start(lab: Runs, capture: Capture) -> None:
    out, err = f"{capture.path}.out", f"{capture.path}.err"
    command = (f": >{out}; : >{err}; "
               f"setsid tcpdump -i {shlex.quote(capture.spot.iface)} -nn -q -tt -l -U --immediate-mode "
               f"-w {capture.path}.pcap --print >{out} 2>{err} </dev/null & pid=$!; i=0; "
               f"until grep -qs 'listening on' {err}; do "
               f"kill -0 $pid 2>/dev/null && [ $i -lt {POLLS} ] || {{ cat {err}; exit 1; }}; "
               f"i=$((i+1)); sleep 0.005; done; echo $pid")
    done = lab.shell(capture.spot.host).run(command, capture.spot.netns, timeout=CAPTURE_TIMEOUT)
    if done.exit_code == 0 and done.output.strip().isdigit():
        capture.pid = done.output.strip()
    else:
        capture.error = f"capture at {capture.spot} did not start: {done.output.strip() or 'no output'}"


def _stop(lab: Runs, capture: Capture) -> None:
    out, err, pid, pcap = f"{capture.path}.out", f"{capture.path}.err", capture.pid, f"{capture.path}.pcap"
    # A capture counts only if the tcpdump simlab started is still running (not gone, not a
    # zombie, not another process under a recycled pid), ends on simlab's SIGINT with its
    # statistics, and dropped nothing: else the step cannot say what crossed the spot.
    # SIGINT ends tcpdump without reading what is still in its ring: first let it catch up. A
    # sent packet is in the ring before it is on the wire, so once tcpdump sleeps (state S, in
    # poll: a new packet would have woken it) it has read every packet of the probe.
    command = (f"read -r comm 2>/dev/null </proc/{pid}/comm; read -r _ _ state _ 2>/dev/null </proc/{pid}/stat; "
               f"if [ \"$comm\" != tcpdump ] || [ \"$state\" = Z ] || [ -z \"$state\" ]; then "
               f"echo '{GONE}'; cat {err}; rm -f {out} {err} {pcap}; exit 0; fi; "
               f"i=0; while read -r _ _ state _ 2>/dev/null </proc/{pid}/stat && [ \"$state\" != S ] "
               f"&& [ $i -lt {POLLS} ]; do i=$((i+1)); sleep 0.005; done 2>/dev/null; "
               f"kill -INT {pid}; i=0; "
               f"until grep -q 'packets captured' {err}; do "
               f"[ $i -lt {POLLS} ] || break; i=$((i+1)); sleep 0.005; done; "
               f"echo \"{STATS} $(grep -E 'packets (captured|dropped)' {err} | tr '\\n' ';')\"; "
               f"cat {out}; size=$(stat -c %s {pcap} 2>/dev/null); "
               f"if [ \"${{size:-0}}\" -gt 0 ] && [ \"$size\" -le {MAX_PCAP} ]; then "
               f"printf '{PCAP} '; base64 -w0 {pcap}; echo; fi; rm -f {out} {err} {pcap}")
    done = lab.shell(capture.spot.host).run(command, capture.spot.netns, timeout=CAPTURE_TIMEOUT)
    capture.error = _not_watching(capture.spot, done.output)
    capture.packets = parse_packets(capture.spot, done.output)
    capture.pcap = _pcap(done.output)
    if getattr(done, "cut", 0):  # the packets past the cut are unknown: no count or absence can be judged
        capture.error = f"capture at {capture.spot} saw more packets than can be judged ({done.cut} bytes of them cut)"


GONE, STATS, PCAP = "@@capture gone", "@@capture stats", "@@capture pcap"
DROPPED = re.compile(r"(\d+) packets? dropped by (kernel|interface)")


def _not_watching(spot: Spot, output: str) -> str:
    """Why the capture at ``spot`` cannot be trusted, from what its stop printed; "" if it can."""
    lines = output.splitlines()
    if GONE in lines:
        said = " ".join(line.strip() for line in lines[lines.index(GONE) + 1:]
                        if line.strip() and "listening on" not in line)
        return (f"capture at {spot} stopped watching before the probe ended (tcpdump was gone when simlab "
                f"came to stop it{': ' + said if said else ''})")
    stats = next((line for line in lines if line.startswith(STATS)), "")
    if "packets captured" not in stats:
        return f"capture at {spot} did not end on simlab's signal (tcpdump printed no statistics)"
    dropped = [f"{n} by the {where}" for n, where in DROPPED.findall(stats) if int(n)]
    if dropped:
        return f"capture at {spot} lost packets ({', '.join(dropped)}): what it saw is not all that crossed"
    return ""


def _pcap(output: str) -> bytes:
    """The pcap file the stop sent back (base64 on a line of its own), or b"" if none came whole."""
    for line in output.splitlines():
        if line.startswith(PCAP + " "):
            try:
                return base64.b64decode(line[len(PCAP) + 1:].strip(), validate=True)
            except ValueError:
                return b""
    return b""


def packet_path(packets: list[Packet]) -> list[str]:
    """The path the packets took: for each flow (source, destination, protocol), in the order
    the flows began, the spots it crossed in the order it first crossed each, by the kernel's
    timestamps: "192.168.15.1 > 172.17.0.3 icmp: container-a:eth0 → outside:eth0"."""
    flows: dict[tuple[str, str, str], dict[Spot, float]] = {}
    for packet in sorted(packets, key=lambda p: p.time):
        if packet.proto in PROTOS:
            flows.setdefault((packet.src, packet.dst, packet.proto), {}).setdefault(packet.spot, packet.time)
    return [f"{src} > {dst} {proto}: {' → '.join(str(spot) for spot in spots)}"
            for (src, dst, proto), spots in flows.items()]


def parse_packets(spot: Spot, output: str) -> list[Packet]:
    """IPv4 and IPv6 packets from tcpdump -nn -q -tt lines (ARP and others are left out)."""
    packets = []
    for line in output.splitlines():
        found = LINE.search(line.strip())
        if not found:
            continue
        stamp, src, dst, rest = found.groups()
        dst = dst.rstrip(":")
        proto = next((name for word, name in WORDS if rest.startswith(word)), "other")
        if proto in ("tcp", "udp"):
            src, dst = src.rpartition(".")[0], dst.rpartition(".")[0]
        packets.append(Packet(spot, src, dst, proto, line.strip()[len(stamp):].strip(), float(stamp)))
    return packets
