"""Connect probes: a TCP connection or a UDP datagram, with the host image's python3.

The probe also reads ICMP (ICMPv6 for an IPv6 target) on a raw socket (the
hosts have NET_RAW) and matches errors quoting its own flow, so it knows which
ICMP error came back and from whom, which the socket's errno alone cannot tell (a port unreachable and a RST
both give ECONNREFUSED to TCP). It prints one line:
    @@connect KIND REASON PEER SAID      ("-" for an empty field)
TCP ``refused``: the target answered with a reset. UDP ``refused``: the target
itself answered ICMP port unreachable. Any other ICMP error is ``unreachable``.
A TCP reset while no SYN of the probe left any interface (watched on a packet
socket) was forged by the sender's own kernel (an OUTPUT rule's REJECT with
tcp-reset): ``refused`` with reason ``local``.
"""

from __future__ import annotations

import re
import shlex

from simlab.checks.outcome import ICMP6_CODES, ICMP_CODES, Outcome

MARK = "@@connect"
PROBE = r'''
import errno, select, socket, struct, sys, time
host, port, proto, deadline = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
codes, codes6 = eval(sys.argv[5]), eval(sys.argv[6])
tcp = proto == "tcp"
def say(kind, reason="", peer="", said=""):
    said = " ".join(said.split())[:200]
    print("@@connect", kind, reason or "-", peer or "-", said or "-", flush=True)
    sys.exit(0)
try:
    family, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)[0]
except socket.gaierror as exc:
    print(f"connect: {host}: {exc.strerror}")
    sys.exit(2)
v6 = family == socket.AF_INET6
target = addr[0].split("%")[0]
icmp = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s = socket.socket(family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
s.setblocking(False)
wire = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)) if tcp else None  # ETH_P_ALL
if wire:
    wire.setblocking(False)
def syn_left():
    """Whether a SYN of this probe went out of an interface (lo included)."""
    while True:
        try:
            frame, (_, _, kind, hatype, _) = wire.recvfrom(256)
        except BlockingIOError:
            return False
        if kind != 4:  # PACKET_OUTGOING
            continue
        ip = frame[14:] if hatype in (1, 772) else frame  # Ethernet and loopback carry a link header
        if v6 and len(ip) >= 54 and ip[0] >> 4 == 6 and ip[6] == 6:
            dst, tcp_header = socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[40:]
        elif not v6 and len(ip) >= 40 and ip[0] >> 4 == 4 and ip[9] == 6:
            dst, tcp_header = socket.inet_ntoa(ip[16:20]), ip[(ip[0] & 15) * 4:]
        else:
            continue
        if dst == target and struct.unpack("!HH", tcp_header[:4]) == (mine, port) and tcp_header[13] & 2:
            return True
LOCAL = {errno.EMSGSIZE: "frag"}
try:
    s.connect(addr)
    if not tcp:
        s.send(b"simlab\n")
except BlockingIOError:
    pass
except OSError as exc:
    print(f"connect: {exc.strerror}")
    say("unreachable", LOCAL.get(exc.errno, "local"))
mine = s.getsockname()[1]
end = time.monotonic() + deadline
def icmp_error(wait):
    while True:
        ready, _, _ = select.select([icmp], [], [], max(0, wait))
        if not ready:
            return None
        data, sender = icmp.recvfrom(4096)
        if v6:  # a raw ICMPv6 socket gets the message without its IPv6 header
            kind, code, inner = data[0], data[1], data[8:]
            if kind not in (1, 2, 3) or len(inner) < 44:
                continue
            quoted, dst, ports = inner[6], socket.inet_ntop(socket.AF_INET6, inner[24:40]), inner[40:44]
        else:
            ihl = (data[0] & 15) * 4
            kind, code, inner = data[ihl], data[ihl + 1], data[ihl + 8:]
            if kind not in (3, 11, 12) or len(inner) < 28:
                continue
            iihl = (inner[0] & 15) * 4
            quoted, dst, ports = inner[9], socket.inet_ntoa(inner[16:20]), inner[iihl:iihl + 4]
        if quoted == (6 if tcp else 17) and dst == target and struct.unpack("!HH", ports) == (mine, port):
            return sender[0], kind, code
def judge_icmp(found):
    sender, kind, code = found
    if not tcp and (kind, code) == ((1, 4) if v6 else (3, 3)) and sender == target:
        say("refused", "", sender)
    say("unreachable", (codes6 if v6 else codes).get((kind, code), ""), sender)
while True:
    left = end - time.monotonic()
    if left <= 0:
        say("no-reply")
    ready, writable, _ = select.select([icmp] + ([] if tcp else [s]), [s] if tcp else [], [], left)
    if icmp in ready:
        found = icmp_error(0)
        if found:
            judge_icmp(found)
    if tcp and s in writable:
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            said = b""
            if select.select([s], [], [], min(0.5, max(0, end - time.monotonic())))[0]:
                try:
                    said = s.recv(512)
                except OSError:
                    pass
            say("open", "", target, said.decode(errors="replace"))
        found = icmp_error(0.05)  # the ICMP error that set err, if one did
        if found:
            judge_icmp(found)
        if err == errno.ECONNREFUSED:
            say("refused", "" if syn_left() else "local", target)
        print(f"connect: {errno.errorcode.get(err, err)}")
        say("unreachable", LOCAL.get(err, ""))
    if not tcp and s in ready:
        try:
            said = s.recv(512)
        except OSError as exc:
            found = icmp_error(0.05)
            if found:
                judge_icmp(found)
            say("refused" if exc.errno == errno.ECONNREFUSED else "unreachable", "", target)
        say("open", "", target, said.decode(errors="replace"))
'''
LINE = re.compile(rf"^{MARK} (\S+) (\S+) (\S+) (.*)$", re.MULTILINE)
SEEN_AS = re.compile(r"\bpeer (\S+) \d+")


def connect_command(target: str, port: int, proto: str, deadline: float) -> str:
    codes, codes6 = (repr(table).replace(" ", "") for table in (ICMP_CODES, ICMP6_CODES))
    return " ".join(shlex.quote(a) for a in ["python3", "-c", PROBE, target, str(port), proto, f"{deadline:g}",
                                             codes, codes6])


def classify_connect(exit_code: int, output: str) -> tuple[Outcome, str]:
    """The outcome, and what the serving end said (simlab's listener says whom it saw)."""
    found = LINE.search(output)
    if exit_code != 0 or not found:
        return Outcome("error"), ""
    kind, reason, peer, said = (field if field != "-" else "" for field in found.groups())
    return Outcome(kind, reason, peer), said


def seen_as(said: str) -> str:
    """The client address simlab's listener reported ("peer ADDR PORT"), or ""."""
    found = SEEN_AS.search(said)
    return found.group(1) if found else ""
