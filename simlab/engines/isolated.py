"""simlab's own user-namespace-remapped dockerd: the hardened engine in one command (Linux, root).

``simlab engine start --isolated`` starts it on a socket, data root, exec root and bridge of
its own (never the host's docker0 or its iptables), with --userns-remap=default so that
container root is an unprivileged user on this machine; ``--untrusted`` then uses it without
further flags; ``simlab engine stop --isolated`` stops it and removes what it made. The
daemon outlives the command that started it (its own session), found again by its pid file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from simlab.engines.client import Engine
from simlab.engines.endpoint import Endpoint
from simlab.errors import EngineError, InputError

NAME = "simlab-isolated"
SOCKET = f"/run/{NAME}.sock"
ADDRESS = f"unix://{SOCKET}"
PIDFILE = Path(f"/run/{NAME}.pid")
DATA_ROOT, EXEC_ROOT = Path(f"/var/lib/{NAME}"), Path(f"/run/{NAME}")
BRIDGE = "sl-isolated"
LOG = Path(f"/var/log/{NAME}.log")
START_SECONDS = 60


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    isolation: str  # "userns" once it answers

    def __str__(self) -> str:
        if not self.running:
            return "the isolated engine is not running (`simlab engine start --isolated` starts it)"
        return f"the isolated engine runs (pid {self.pid}) at {ADDRESS}: container root is remapped ({self.isolation})"


def connect(timeout: float = 10) -> Engine:
    return Engine.connect(Endpoint(ADDRESS, f"the isolated engine ({ADDRESS})"), "isolated", timeout=timeout)


def status() -> Status:
    pid = _pid()
    if pid is None:
        return Status(False, None, "")
    try:
        options = connect().security_options()
    except EngineError:
        return Status(False, pid, "")
    return Status(True, pid, "userns" if any("name=userns" in o for o in options) else "none")


def start() -> Status:
    """Start the isolated engine (nothing when it runs); EngineError with its log's end when it
    does not answer within START_SECONDS."""
    _require_root()
    now = status()
    if now.running:
        return now
    _install_missing()
    for folder in (DATA_ROOT, EXEC_ROOT):
        folder.mkdir(parents=True, exist_ok=True)
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True, capture_output=True)
    with LOG.open("w") as log:
        subprocess.Popen(["dockerd", "--host", ADDRESS, "--bridge", BRIDGE, "--iptables=false", "--ip-masq=false",
                          "--userns-remap=default", f"--data-root={DATA_ROOT}", f"--exec-root={EXEC_ROOT}",
                          f"--pidfile={PIDFILE}"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        now = status()
        if now.running:
            return now
        time.sleep(0.5)
    tail = "\n".join(LOG.read_text(errors="replace").splitlines()[-10:])
    raise EngineError(f"the isolated engine did not answer within {START_SECONDS} s; the end of {LOG}:\n{tail}")


def stop() -> bool:
    """Stop the isolated engine and remove its data, bridge and files; whether one ran."""
    _require_root()
    pid = _pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
    subprocess.run(["umount", "-l", f"{EXEC_ROOT}/netns/default"], capture_output=True)
    for path in [*Path("/run").glob(f"{NAME}*"), *Path("/var/lib").glob(f"{NAME}*")]:  # userns adds <dir>.<uid>.<gid>
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return pid is not None


def _pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    except OSError:
        return False


def _require_root() -> None:
    if os.uname().sysname != "Linux" or os.geteuid() != 0:
        raise InputError("`simlab engine start --isolated` starts a dockerd of its own: Linux, as root. "
                         "Elsewhere use rootless Docker or Docker Desktop (README, Security)")


def _install_missing() -> None:
    """dockerd and the uidmap tools (newuidmap) that --userns-remap needs; Debian's packages."""
    missing = [package for command, package in (("dockerd", "docker.io"), ("newuidmap", "uidmap"))
               if not shutil.which(command)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise EngineError(f"the isolated engine needs {', '.join(missing)}: install them, then run this again")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True,
                   capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
