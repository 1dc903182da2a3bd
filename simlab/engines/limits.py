"""Resource limits a Podman engine can give its containers.

Rootful Podman gives every container open-files and process limits of 1048576 unless told
otherwise. Where the service cannot raise its own hard limits above that (no
CAP_SYS_RESOURCE: a CI job or a sandbox), runc then fails to start any container ("error
setting rlimit type 7"). So on Podman simlab asks for Podman's default capped at the
service's own hard limits: read from /proc of the process that listens on a local socket
(SO_PEERCRED). For a remote Podman nothing is asked, and a failure says what to set.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

PODMAN_DEFAULT = 1 << 20  # what Podman asks for each limit when none is given
LIMITS = {"nofile": "Max open files", "nproc": "Max processes"}  # docker name -> /proc/PID/limits row
RLIMIT_HELP = ("Podman could not give the container its resource limits: the Podman service runs with hard "
               "limits (`ulimit -Hn`, `ulimit -Hu`) below the 1048576 open files and processes it asks for. "
               "Start the service with higher hard limits (LimitNOFILE= and LimitNPROC= in podman.service), "
               "or set default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"] in its containers.conf")


def socket_owner(path: str) -> int | None:
    """The PID of the process listening on the unix socket ``path`` (as this machine numbers
    it), or None when it cannot be told (no such socket, another PID namespace)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid = struct.unpack("3i", creds)[0]
    return pid or None


def hard_limits(limits_text: str) -> dict[str, int]:
    """The hard limits of LIMITS from the text of /proc/PID/limits ('unlimited' left out)."""
    found = {}
    for name, row in LIMITS.items():
        for line in limits_text.splitlines():
            if line.startswith(row):
                hard = line[len(row):].split()[1]
                if hard.isdigit():
                    found[name] = int(hard)
    return found


def fitting_ulimits(hard: dict[str, int]) -> list[dict[str, int | str]]:
    """Podman's default for each limit, capped at ``hard``: Docker API Ulimits entries."""
    return [{"Name": name, "Soft": min(PODMAN_DEFAULT, limit), "Hard": min(PODMAN_DEFAULT, limit)}
            for name, limit in sorted(hard.items())]


def service_ulimits(socket_path: str | None) -> list[dict[str, int | str]] | None:
    """Ulimits that fit the Podman service listening on ``socket_path``; None when it is not
    a local socket whose owner can be read (then Podman's own default applies)."""
    pid = socket_owner(socket_path) if socket_path else None
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return None
    return fitting_ulimits(hard_limits(text)) or None
