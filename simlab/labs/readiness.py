"""Whether an engine can hold labs, and getting it ready: the images and a kernel that wires.

``status`` is what `simlab engines` reports of one engine (reachable, version,
CPUs, images, a veth/bridge probe, slots); ``prepare`` gives an engine the host
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
    slots: int = 0
    isolation: list[str] = field(default_factory=list)

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
    found = EngineStatus(name, True, version=str(info.get("ServerVersion", "")),
                         os_arch=f"{info.get('OSType', '?')}/{info.get('Architecture', '?')}",
                         cpus=int(info.get("NCPU") or 0), host_image=engine.image_exists(DEFAULT_IMAGE),
                         slots=default_slots(engine, spec), isolation=security)
    found.helper_image = found.host_image and engine.image_exists(helper_tag())
    if probe and found.host_image:
        found.veth_bridge = _probe_kernel(engine)
    return found


def _probe_kernel(engine: Engine) -> bool:
    """Whether the engine's kernel can make a veth pair and a bridge (in a throwaway container)."""
    spec = ContainerSpec(f"simlab-probe-{os.getpid()}-{time.monotonic_ns() % 10**8}", DEFAULT_IMAGE,
                         {"simlab.probe": "1"}, cap_add=["NET_ADMIN"], auto_remove=False)
    container = engine.create(spec)
    try:
        engine.start(container, spec.name)
        return engine.exec(container, ["sh", "-c", PROBE], timeout=20).output.strip() == "ok"
    except EngineError:
        return False
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
