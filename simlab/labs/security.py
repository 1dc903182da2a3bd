"""What a lab host may do to the engine host: the container options of each
mode, and whether an engine keeps container root apart from host root.

A scenario file is code run as root in its hosts. The default options give
back every protection the tutorial does not need (README, Security); they
still leave SYS_ADMIN in the engine's user namespace, which a hostile file can
turn against the engine host. Only an engine that maps container root to an
unprivileged user (userns-remap, rootless) contains such a file: the
hardened mode (``--untrusted``) insists on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simlab.engines.kind import isolation_from_security_options
from simlab.errors import EngineError, InputError
from simlab.model import clab
from simlab.model.problems import Problems
from simlab.model.topology import DEFAULT_IMAGE, Topology
from simlab.model.yamlsource import Source, load_yaml

if TYPE_CHECKING:
    from simlab.engines.interface import EngineAPI

# ip netns needs SYS_ADMIN (mounts), ping NET_RAW, the rest NET_ADMIN.
HOST_CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]
# Docker's default capabilities that no tutorial command uses.
HOST_CAP_DROP = ["MKNOD", "AUDIT_WRITE", "SETFCAP", "SYS_CHROOT"]
# Docker's default AppArmor profile forbids mount, which ip netns needs; the
# engine's default seccomp profile allows mount, umount2, setns and unshare to
# a container with SYS_ADMIN, so it stays.
HOST_SECURITY_OPT = ["apparmor=unconfined"]
# Docker's read-only /proc paths, with /proc/sys split so that only
# /proc/sys/net (per network namespace: `sysctl -w net.*`) is writable.
HOST_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger",
                       *(f"/proc/sys/{d}" for d in ("abi", "crypto", "debug", "dev", "fs", "kernel", "user", "vm"))]
# A private cgroup namespace hides the root of every cgroup v1 hierarchy (where
# release_agent lives) and the kernel refuses new hierarchies from inside one.
HOST_CGROUPNS = "private"
# The fabric helper creates links in the engine host's kernel: it needs real
# NET_ADMIN, so it stays in the engine's user namespace even on a remapped one.
HELPER_USERNS = "host"


def helper_privileged(engine: EngineAPI) -> bool:
    """Whether the fabric helper runs privileged: only on a rootless engine, where that grants
    nothing beyond the user's own namespace and gives the helper the read-write, unmasked /sys
    without which the kernel refuses it the sysfs it hands to the hosts (see sysfs_agent.py)."""
    return engine.kind().rootless

ISOLATION_HELP = ("--untrusted needs an engine that maps container root to an unprivileged user: "
                  "start dockerd with --userns-remap=default (Debian: apt-get install uidmap) "
                  "or use rootless Docker or rootless Podman (docs/engines.md)")


@dataclass(frozen=True)
class HostOptions:
    """The host container's privileges, as ContainerSpec fields."""

    privileged: bool
    cap_add: list[str]
    cap_drop: list[str]
    security_opt: list[str]
    readonly_paths: list[str] | None  # None: the engine's default
    cgroupns: str | None


def host_options(privileged: bool) -> HostOptions:
    if privileged:
        return HostOptions(True, [], [], [], None, None)
    return HostOptions(False, list(HOST_CAPS), list(HOST_CAP_DROP), list(HOST_SECURITY_OPT),
                       list(HOST_READONLY_PATHS), HOST_CGROUPNS)


isolation = isolation_from_security_options  # Docker's /info alone; engine_isolation asks any engine


def engine_isolation(engine: EngineAPI) -> str | None:
    """How the engine isolates container root ('userns', 'rootless'; Podman included), or None."""
    return engine.kind().isolation


def require_isolation(engine: EngineAPI) -> str:
    """The engine's way of isolating container root; EngineError (before any container
    starts) when it has none."""
    how = engine_isolation(engine)
    if how is None:
        raise EngineError(f"this engine runs containers as the engine host's root; {ISOLATION_HELP}")
    return how


@dataclass(frozen=True)
class Trust:
    """How far a lab's file is trusted; every entry point (CLI, API, pytest plugin, validate)
    passes one to ``start_lab``, which judges it on the parsed topology that will run.

    ``untrusted``: hardened mode: an engine that isolates container root, the tutorial's
    image only, no privileged host. Default mode: a host's ``privileged: true`` is honoured
    only with ``allow_privileged``; ``privileged`` makes every host privileged (the caller's
    own choice, --privileged)."""

    untrusted: bool = False
    allow_privileged: bool = False
    privileged: bool = False


def check_trust(topology: Topology, trust: Trust, file: str = "") -> None:
    """InputError naming each file:line (``file``: where ``topology`` was read from) that asks
    for more than ``trust`` grants. The decision rests on ``topology``; the file only gives lines."""
    if trust.untrusted and trust.privileged:
        raise InputError("--untrusted and --privileged exclude each other")
    asks_more = any(h.privileged for h in topology.hosts.values()) and not trust.privileged and (
        trust.untrusted or not trust.allow_privileged)
    if not asks_more and not (trust.untrusted and any(h.image != DEFAULT_IMAGE for h in topology.hosts.values())):
        return  # nothing to refuse: the file is not read again for its lines (every lab start comes here)
    source = _source_of(file, topology.name)
    problems = Problems(source)
    own_image = {name for name in topology.hosts if ("hosts", name, "image") in source.lines or not source.lines}
    if trust.untrusted and any(h.image != DEFAULT_IMAGE for h in topology.hosts.values() if h.name not in own_image):
        problems.add(("image",), f"--untrusted runs only the image {DEFAULT_IMAGE}")
    for host in topology.hosts.values():
        if host.privileged and trust.untrusted:
            problems.add(("hosts", host.name, "privileged"), "--untrusted refuses privileged hosts")
        elif host.privileged and not (trust.allow_privileged or trust.privileged):
            problems.add(("hosts", host.name, "privileged"),
                         "a privileged host is root on the engine host: pass --allow-privileged "
                         "(allow_privileged=True from Python) if you trust this file")
        if trust.untrusted and host.image != DEFAULT_IMAGE and host.name in own_image:
            problems.add(("hosts", host.name, "image"), f"--untrusted runs only the image {DEFAULT_IMAGE}")
    problems.raise_if_any()


def _source_of(file: str, name: str) -> Source:
    """The lines of ``file`` for messages (a containerlab file's as its keys were translated);
    a topology built in code has none."""
    if not file:
        return Source(f"{name} built in code")
    try:
        data, source = load_yaml(file)
    except InputError:
        return Source(file)
    return clab.translate(data, source)[1] if clab.is_clab(file, data) else source


def share_sysfs(engine: EngineAPI, helper: str, pids: list[int]) -> None:
    """On an engine that remaps container root, let the hosts' `ip netns exec` mount /sys
    (see sysfs_agent.py); run by the fabric helper, which may mount into them."""
    agent = Path(__file__).with_name("sysfs_agent.py").read_text()
    done = engine.exec(helper, ["python3", "-c", agent, *map(str, pids)])
    if done.exit_code != 0:
        raise EngineError(f"giving the hosts a sysfs for `ip netns exec` failed: {done.output.strip()}")
