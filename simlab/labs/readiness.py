"""Whether an engine can hold labs, and getting it ready: the images and a kernel that wires.

``status`` is what `simlab engines` reports of one engine (reachable, version,
CPUs, images, a veth/bridge probe and which other link kinds and qdiscs the kernel
has, slots); ``prepare`` gives an engine the host
image before its first lab, copied from an engine that has it (`docker save |
docker load` through the API) or built there, and the fabric helper image.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from simlab.engines.client import ContainerSpec, Engine
from simlab.engines.named import EngineSpec, connect, default_slots
from simlab.errors import EngineError
from simlab.events import Emit, Event, ignore
from simlab.labs.fabric import helper_image, helper_tag
from simlab.labs.images import ensure_image
from simlab.model.topology import DEFAULT_IMAGE

PROBE = ("ip link add simlab-a type veth peer name simlab-b && ip link add simlab-br type bridge && "
         "ip link set simlab-a master simlab-br && echo ok")
# What else scenarios commonly ask of the engine's kernel (a kernel built without one says
# "Unknown device type" or "Unknown qdisc" to any step that uses it).
FEATURES = {  # on simlab-b, the end that is no bridge port (macvlan and ipvlan refuse one)
    "vlan": "ip link add link simlab-b name simlab-v type vlan id 10",
    "vxlan": "ip link add name simlab-x type vxlan id 42 dstport 4789 dev simlab-b",
    "macvlan": "ip link add link simlab-b name simlab-m type macvlan",
    "ipvlan": "ip link add link simlab-b name simlab-i type ipvlan",
    "dummy": "ip link add name simlab-d type dummy",
    "gre": "ip link add name simlab-g type gre local 192.0.2.1 remote 192.0.2.2",
    "bond": "ip link add name simlab-o type bond",
    "wireguard": "ip link add name simlab-w type wireguard",
    "netem": "tc qdisc add dev simlab-b root netem delay 1ms",
}
FEATURE_PROBE = "; ".join(f"if {command} 2>/dev/null; then echo 'feature {name} yes'; else echo 'feature {name} no'; fi"
                          for name, command in FEATURES.items())


@dataclass
class EngineStatus:
    """What `simlab engines` reports about one engine."""

    name: str
    reachable: bool
    error: str = ""
    version: str = ""
    os_arch: str = ""
    cpus: int = 0
    host_image: bool = False
    helper_image: bool = False
    veth_bridge: bool = False
    kernel: dict[str, bool] = field(default_factory=dict)  # FEATURES -> whether the kernel has it
    slots: int = 0
    isolation: list[str] = field(default_factory=list)
    product: str = ""  # docker or podman (engines/kind.py)
    mode: str = ""  # rootful, rootless or 'rootful, userns-remapped'
    untrusted: str = ""  # what the kind means for --untrusted

    def to_dict(self) -> dict:
        return dict(self.__dict__)



def status(spec: EngineSpec | None, probe: bool = True) -> EngineStatus:
    """Check one engine: reachable, version, OS/arch, CPUs, images, a veth/bridge probe, slots."""
    name = spec.name if spec else "default"
    try:
        engine = connect(spec, timeout=10)
        info = engine.info()
    except EngineError as exc:
        return EngineStatus(name, False, error=str(exc))
    security = [opt.split(",")[0].removeprefix("name=") for opt in info.get("SecurityOptions") or []]
    kind = engine.kind()
    found = EngineStatus(name, True, version=str(info.get("ServerVersion", "")),
                         os_arch=f"{info.get('OSType', '?')}/{info.get('Architecture', '?')}",
                         cpus=int(info.get("NCPU") or 0), host_image=engine.image_exists(DEFAULT_IMAGE),
                         slots=default_slots(engine, spec), isolation=security, product=kind.product,
                         mode=kind.mode(),
                         untrusted=kind.untrusted_meaning())
    found.helper_image = found.host_image and engine.image_exists(helper_tag())
    if probe and found.host_image:
        found.veth_bridge, found.kernel = _probe_kernel(engine)
    return found


def _probe_kernel(engine: Engine) -> tuple[bool, dict[str, bool]]:
    """Whether the engine's kernel can make a veth pair and a bridge, and which of FEATURES it
    has (in a throwaway container)."""
    spec = ContainerSpec(f"simlab-probe-{os.getpid()}-{time.monotonic_ns() % 10**8}", DEFAULT_IMAGE,
                         {"simlab.probe": "1"}, cap_add=["NET_ADMIN"], auto_remove=False)
    container = engine.create(spec)
    try:
        engine.start(container, spec.name)
        output = engine.exec(container, ["sh", "-c", f"{PROBE} && {{ {FEATURE_PROBE}; }}"], timeout=20).output
        lines = output.splitlines()
        features = {words[1]: words[2] == "yes" for words in map(str.split, lines) if words[:1] == ["feature"]}
        return bool(lines) and lines[0] == "ok", features
    except EngineError:
        return False, {}
    finally:
        engine.remove(container)


def prepare(engine: Engine, donors: list[Engine], emit: Emit = ignore) -> None:
    """Give ``engine`` the host image and the fabric helper before its first lab: the host image
    is copied from a donor that has it (a stream of a few hundred MB beats a build), else built."""
    if not engine.image_exists(DEFAULT_IMAGE):
        donor = next((d for d in donors if d is not engine and d.ping() and d.image_exists(DEFAULT_IMAGE)), None)
        if donor is not None:
            emit(Event("engine.image", f"{engine.name}: copying {DEFAULT_IMAGE} from {donor.name} (faster than "
                                       f"a build)"))
            started = time.monotonic()
            donor.copy_image_to(DEFAULT_IMAGE, engine)
            emit(Event("engine.image", f"{engine.name}: {DEFAULT_IMAGE} copied in {time.monotonic() - started:.1f}s"))
        else:
            emit(Event("engine.image", f"{engine.name}: building {DEFAULT_IMAGE} (no engine has it to copy)"))
            ensure_image(engine, emit)
    helper_image(engine, emit)
