"""Extra Docker engines on this machine, for tests of batches over several engines.

Each is a dockerd of its own: its own socket, data-root, exec-root and pidfile, and an empty
bridge of its own (never `--bridge none`: dockerd then deletes the host's docker0, the main
engine's bridge), no iptables. Started by a session fixture and removed after, bridge and
folders included. They can be killed (SIGKILL, as an engine that dies) and started again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker


class ExtraEngine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"unix:///run/{name}.sock"
        self.bridge = f"{name}-br"
        self.data_root = Path(f"/var/lib/{name}")
        self.exec_root = Path(f"/run/{name}")
        self.log = Path(f"/tmp/{name}-dockerd.log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start dockerd. After a SIGKILL its old containerd is still there and now and then does
        not answer the new dockerd ("timeout waiting for containerd to start"): then that
        containerd is ended (its shims, and so the containers, stay) and dockerd starts again."""
        try:
            self._start()
        except RuntimeError:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(30)
            self._end_orphans(shims=False)
            self._start()

    def _start(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "--host", self.url, "--data-root", str(self.data_root), "--exec-root",
                 str(self.exec_root), "--pidfile", f"/run/{self.name}.pid", "--bridge", self.bridge,
                 "--iptables=false", "--ip-masq=false"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"dockerd {self.name} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.3)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:  # noqa: BLE001 - anything means: not yet
            return False

    def client(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, timeout=20)

    def kill(self) -> None:
        """SIGKILL, as a machine that drops off: containers and containerd stay behind."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        """Remove every container, end dockerd (and its containerd), remove bridge and folders."""
        if self.proc is not None and self.proc.poll() is not None:
            self.start()  # a killed engine comes back first, to remove its containers properly
        try:
            api = self.client()
            for container in api.containers(all=True):
                api.remove_container(container["Id"], force=True)
        except Exception:  # noqa: BLE001 - best effort before the hard way below
            pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._end_orphans()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        _unmount_under(self.data_root)
        shutil.rmtree(self.data_root, ignore_errors=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def _end_orphans(self, shims: bool = True) -> None:
        """A containerd (and its shims, unless not ``shims``) left by a killed dockerd of this engine."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(self.exec_root) in cmdline and "containerd" in cmdline and (shims or "shim" not in cmdline):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def lab_containers(extra: ExtraEngine) -> list[dict]:
    return extra.client().containers(all=True, filters={"label": "simlab.lab"})


STALE = re.compile(r"^(s[lb]\d+[ab]|simlab-userns-\d+|slus\d+)")  # tests: sl, bench: sb


def sweep_dead_sessions() -> list[str]:
    """Remove what extra engines of an earlier test session left when it could not clean up
    (the machine stopped mid-run): bridges, sockets, folders and logs of a name that no running
    dockerd uses. Returns the names removed."""
    live = " ".join(_cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit() and "dockerd" in _cmdline(pid))
    links = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True).stdout
    bridges = [line.split(":")[1].strip() for line in links.splitlines() if ":" in line]
    paths = [*Path("/run").iterdir(), *Path("/var/lib").iterdir(), *Path("/tmp").glob("*dockerd.log"),
             *Path("/tmp").glob("simlab-userns-*.log")]
    removed = []
    for bridge in bridges:
        if STALE.match(bridge) and bridge not in live:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
            removed.append(bridge)
    for path in paths:
        match = STALE.match(path.name)
        if match is None or match.group(1) in live:
            continue
        if path.is_dir():
            _unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path))
    return removed


def _unmount_under(path: Path) -> None:
    """Lazily unmount every mount at or below ``path``, deepest first (a dead engine's
    data root can hold its own bind mounts; `umount -R` wants a mount point to start from)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m == str(path) or m.startswith(f"{path}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
