"""Build the host image ``ubuntu_with_basic_net`` from images/.

Where the Dockerfile's base (ubuntu:24.04) cannot be pulled, as on a machine
with no registry, a local Debian base is made with debootstrap (Linux, as
root) and imported into the engine, and the build uses that instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simlab.defaults import DEFAULT_BASE, DEFAULT_IMAGE  # noqa: F401 - DEFAULT_BASE: re-exported
from simlab.engines.client import Engine
from simlab.engines.interface import EngineAPI
from simlab.errors import EngineError
from simlab.events import Emit, Event, ignore
from simlab.labs.fabric import HELPER_REPOSITORY, helper_tag
from simlab.model.topology import Topology
from simlab.resources import shipped_folder

LOCAL_BASE = "simlab-base:bookworm"
DEBIAN_MIRROR = os.environ.get("SIMLAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def images_dir() -> Path:
    """The image build contexts that come with simlab (SIMLAB_IMAGES overrides, for tests)."""
    override = os.environ.get("SIMLAB_IMAGES")
    return Path(override) if override else shipped_folder("images")


def ensure_image(engine: Engine, emit: Emit = ignore, rebuild: bool = False, base: str = DEFAULT_BASE) -> None:
    """Build ubuntu_with_basic_net unless the engine has it (or ``rebuild``)."""
    if not rebuild and engine.image_exists(DEFAULT_IMAGE):
        return
    emit(Event("image.start", f"building {DEFAULT_IMAGE} (once per engine)"))
    base = _usable_base(engine, base, emit)
    context = images_dir() / DEFAULT_IMAGE
    if not (context / "Dockerfile").is_file():
        raise EngineError(f"{context / 'Dockerfile'} is missing; simlab needs its images/ folder")
    for line in engine.build(str(context), DEFAULT_IMAGE, {"BASE_IMAGE": base}):
        emit(Event("image.line", line))
    emit(Event("image.done", f"built {DEFAULT_IMAGE} on {base}"))


def ensure_host_images(engine: EngineAPI, topology: Topology, emit: Emit = ignore) -> None:
    """Pull every other image the hosts name that the engine lacks (as `docker run` would);
    EngineError naming each one that can be neither found nor pulled, and the way out."""
    wanted: dict[str, list[str]] = {}
    for host in topology.hosts.values():
        if host.image != DEFAULT_IMAGE:
            wanted.setdefault(host.image, []).append(host.name)
    missing = []
    for image, hosts in wanted.items():
        if engine.image_exists(image):
            continue
        emit(Event("image.pull", f"pulling {image} (for {', '.join(hosts)})"))
        reason = engine.pull(image)
        if reason is not None:
            missing.append(f"{image} (for {', '.join(hosts)}: {reason})")
    if missing:
        raise EngineError(f"the engine has no image {'; '.join(missing)}, and cannot pull it: pull or load it "
                          f"(docker pull, docker load), or pass --host-image to run every host on simlab's "
                          f"{DEFAULT_IMAGE}")


def copy_image(donor: Engine, engine: Engine, emit: Emit = ignore) -> None:
    """Copy ubuntu_with_basic_net from ``donor`` into ``engine`` (`docker save | docker load`
    through the API; Docker into Podman too). EngineError when the donor lacks it."""
    if not donor.image_exists(DEFAULT_IMAGE):
        raise EngineError(f"engine {donor.name} has no {DEFAULT_IMAGE} to copy; build it there first "
                          f"(`simlab image build`)")
    emit(Event("image.start", f"copying {DEFAULT_IMAGE} from {donor.name}"))
    started = time.monotonic()
    donor.copy_image_to(DEFAULT_IMAGE, engine)
    emit(Event("image.done", f"copied {DEFAULT_IMAGE} from {donor.name} in {time.monotonic() - started:.1f}s"))


def prune_helper_images(engine: Engine) -> tuple[list[tuple[str, bool]], int]:
    """Remove every fabric helper image but the one this simlab uses (older simlab or
    pyroute2 versions each built their own). Return each tag removed, with whether the
    image itself went (not only the tag), and the bytes freed on the engine."""
    current = helper_tag()
    old = [tag for tag in engine.image_tags(HELPER_REPOSITORY) if tag != current]
    if not old:
        return [], 0
    before = engine.layers_size()
    removed = [(tag, engine.remove_image(tag)) for tag in old]
    return removed, max(0, before - engine.layers_size())


def _usable_base(engine: Engine, base: str, emit: Emit) -> str:
    if engine.image_exists(base):
        return base
    emit(Event("image.pull", f"pulling {base}"))
    reason = engine.pull(base)
    if reason is None:
        return base
    if engine.image_exists(LOCAL_BASE):
        emit(Event("image.base", f"cannot pull {base}; using the local Debian base {LOCAL_BASE}"))
        return LOCAL_BASE
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise EngineError(f"cannot pull {base} ({reason}), and no local base can be made here: that needs "
                          f"Linux, root and debootstrap (apt-get install debootstrap). Make {base} pullable, "
                          f"or load it into the engine with `docker load`.")
    emit(Event("image.base", f"cannot pull {base} ({reason}); building a local Debian base "
               f"{LOCAL_BASE} with debootstrap instead (about a minute)"))
    _debootstrap_base(engine)
    return LOCAL_BASE


def _debootstrap_base(engine: Engine) -> None:
    repository, tag = LOCAL_BASE.split(":")
    with tempfile.TemporaryDirectory(prefix="simlab-base-") as tmp:
        root, tarball = Path(tmp) / "root", Path(tmp) / "root.tar"
        _run(["debootstrap", "--variant=minbase", tag, str(root), DEBIAN_MIRROR], "debootstrap")
        _run(["tar", "-C", str(root), "-cf", str(tarball), "."], "packing the base")
        engine.import_image_file(str(tarball), repository, tag)


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise EngineError(f"{what} failed (exit {done.returncode}): {tail}")
