"""Serve steps: a detached service on a host (or in a namespace), ready before the next step.

simlab's own listener (``tcp PORT`` / ``udp PORT``) logs ``peer ADDR PORT`` for each
client and answers ``simlab-serve NAME peer ADDR PORT``, so that a connect step knows
the address the server saw. Any other command runs as it is. The service runs in
its own session with every output in its log (/var/log/simlab/NAME.log), so that no
exec waits on it; it stops when its host's container is removed with the lab.
"""

from __future__ import annotations

import shlex

LISTENER = r'''
import socket, sys
proto, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tcp = proto == "tcp"
kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
try:  # IPv4 and IPv6 clients both, where the host has IPv6
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
except OSError:
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
if tcp:
    s.listen(64)
print("listening", proto, port, flush=True)
while True:
    if tcp:
        conn, (addr, peer_port, *_) = s.accept()
    else:
        data, client = s.recvfrom(2048)
        addr, peer_port = client[:2]
    if addr.startswith("::ffff:") and "." in addr:
        addr = addr[7:]  # an IPv4 client, as the dual-stack socket names it
    print("peer", addr, peer_port, flush=True)
    answer = f"simlab-serve {name} peer {addr} {peer_port}\n".encode()
    if tcp:
        conn.sendall(answer)
        conn.close()
    else:
        s.sendto(answer, client)
'''
READY_WAIT = 100  # polls 0.05 s apart: a service has 5 s to get ready
READY_SECONDS = READY_WAIT * 0.05


def serve_command(name: str, log: str, proto: str | None, port: int, command: str | None,
                  ready: str | None) -> str:
    """Start the service detached and return once it is ready (or has died, exit 1, its log shown)."""
    if command is None:
        program = " ".join(shlex.quote(a) for a in ["python3", "-u", "-c", LISTENER, str(proto), str(port), name])
        ready = "listening"
    else:
        program = f"env PYTHONUNBUFFERED=1 sh -c {shlex.quote(command)}"  # a Python service logs at once
    # without a ready text: still running after 0.2 s (a command that fails at once has ended by then)
    wait = f"grep -qF {shlex.quote(ready)} {log}" if ready else "[ $i -ge 4 ]"
    ended = f"{{ echo 'the service ended before it was ready'; cat {log}; exit 1; }}"
    late = f"{{ echo 'not ready after {READY_WAIT * 0.05:g} s'; cat {log}; exit 1; }}"
    return (f"mkdir -p /var/log/simlab && : > {log} && "
            f"{{ setsid {program} >>{log} 2>&1 </dev/null & pid=$!; }} && i=0; "
            f"until {wait}; do kill -0 $pid 2>/dev/null || {ended}; [ $i -lt {READY_WAIT} ] || {late}; "
            f"i=$((i+1)); sleep 0.05; done; kill -0 $pid 2>/dev/null || {ended}; "
            f"echo \"{name}: pid $pid, log {log}\"; cat {log}")
