"""Podman engines on this machine for the tests: a rootful service and a rootless one (a test
user with subordinate ids), each on a socket of its own, with storage of its own.

Podman is installed with apt where it is missing (Debian, as root). Everything a service
made is removed when it stops: its containers (through its API), the service and the
rootless user's pause process (by their process ids: a rootless service re-executes itself
inside its user namespace, so its id is read from the socket, SO_PEERCRED), its storage,
the test user with its home and subordinate ids. The Docker engine is never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker

from simlab.engines.limits import socket_owner

PACKAGES = ["podman", "uidmap", "slirp4netns", "fuse-overlayfs"]
# cgroupfs and file events: no systemd here; overlay: the rootless default (vfs) copies the
# whole image for every container.
SERVICE_FLAGS = ["--cgroup-manager", "cgroupfs", "--events-backend", "file", "--storage-driver", "overlay"]
STORAGE_CONF = '[storage]\ndriver = "overlay"\n'
ROOT_CACHE = Path("/var/lib/containers")  # rootful Podman's image blob cache: no flag moves it


def install_reason() -> str | None:
    """None once podman is installed (installing it with apt where it is missing on Debian as
    root); else why these tests cannot run here."""
    if shutil.which("podman") and shutil.which("newuidmap"):
        return None
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        return "podman is not installed, and installing it needs Debian and root (apt-get install podman uidmap)"
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr.strip()[-300:]}"
    return None


class PodmanService:
    """`podman system service` on a socket of its own; rootless as ``user`` when given."""

    def __init__(self, name: str, user: str | None = None) -> None:
        self.name, self.user = name, user
        self.base = Path(f"/run/{name}")  # socket, run root, tmpdir, network config
        self.socket = self.base / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.storage = Path(f"/var/lib/{name}")
        self.log = Path(f"/tmp/{name}.log")
        self.pids: list[int] = []  # the service and (rootless) its pause process, once started
        self._spawned: subprocess.Popen | None = None
        self._cache_existed = ROOT_CACHE.exists()

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.url}

    def start(self) -> None:
        self.base.mkdir(mode=0o755)
        if self.user:
            self._start_rootless()
        else:
            self._start_rootful()
        deadline = time.monotonic() + 60
        while (pid := socket_owner(str(self.socket))) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"podman {self.name} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.pids = [pid]
        pause = self.base / "xdg" / "libpod" / "tmp" / "pause.pid"
        if pause.exists():
            self.pids.append(int(pause.read_text()))

    def _start_rootful(self) -> None:
        dirs = {"--root": self.storage, "--runroot": self.base / "run", "--tmpdir": self.base / "tmp",
                "--network-config-dir": self.base / "net"}
        flags = [part for flag, path in dirs.items() for part in (flag, str(path))]
        self._spawn(["podman", *flags, *SERVICE_FLAGS, "system", "service", "--time=0", self.url])

    def _start_rootless(self) -> None:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(self.storage), "--shell", "/bin/sh",
                        self.user], check=True, capture_output=True)
        account = pwd.getpwnam(self.user)
        if self.user not in Path("/etc/subuid").read_text():  # useradd gives ranges where login.defs says so
            subprocess.run(["usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535",
                            self.user], check=True)
        xdg = self.base / "xdg"
        xdg.mkdir(mode=0o700)
        os.chown(self.base, account.pw_uid, account.pw_gid)
        os.chown(xdg, account.pw_uid, account.pw_gid)
        conf = self.storage / "storage.conf"
        conf.write_text(STORAGE_CONF)
        env = {"HOME": str(self.storage), "USER": self.user, "PATH": os.environ["PATH"],
               "XDG_RUNTIME_DIR": str(xdg), "CONTAINERS_STORAGE_CONF": str(conf)}
        self._spawn(["podman", *SERVICE_FLAGS, "system", "service", "--time=0", self.url],
                    user=account.pw_uid, group=account.pw_gid, extra_groups=[], env=env, cwd=str(self.storage))

    def _spawn(self, argv: list[str], **options) -> None:
        with open(self.log, "ab") as log:
            self._spawned = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                             **options)

    def client(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, timeout=60)

    def containers(self) -> list[str]:
        return [c["Names"][0].lstrip("/") for c in self.client().containers(all=True)]

    def stop(self) -> None:
        """Remove every container, end the service (and pause process) by their ids, remove
        its storage, folders, log and (rootless) the test user."""
        try:
            api = self.client()
            for container in api.containers(all=True):
                api.remove_container(container["Id"], force=True)
        except Exception:  # noqa: BLE001 - best effort: the storage goes below in any case
            pass
        for pid in self.pids:
            _end(pid)
        if self._spawned is not None:  # rootless: the first podman, which re-executed the service
            _end(self._spawned.pid)
            self._spawned.wait(10)
        self._end_leftovers()
        _unmount_under(self.base)
        _unmount_under(self.storage)
        if self.user:
            subprocess.run(["userdel", "--remove", self.user], capture_output=True)
        shutil.rmtree(self.storage, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)
        self.log.unlink(missing_ok=True)
        if not self.user and not self._cache_existed:
            shutil.rmtree(ROOT_CACHE, ignore_errors=True)


    def _end_leftovers(self) -> None:
        """The conmon of each exec outlives it by minutes (--exit-delay 300) and then runs a
        `podman container cleanup` of its own: end every process that names this service's
        storage or folders (its own ids, never by a broad name)."""
        marks = (f"{self.storage}/", f"{self.base}/")
        for _ in range(3):
            mine = [pid for pid in _pids() if _comm(pid) in ("conmon", "podman")
                    and any(mark in _cmdline(pid) for mark in marks)]
            if not mine:
                return
            for pid in mine:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.5)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _end(pid: int) -> None:
    """SIGTERM, then SIGKILL after 5 s; return once the process is gone."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                return
            time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _unmount_under(path: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m == str(path) or m.startswith(f"{path}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
