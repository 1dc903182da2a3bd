"""The wires of a lab: veth pairs and switch bridges, made on the engine's kernel.

``plan_fabric`` turns a topology and the PIDs of its running containers into
a plan; ``start_helper`` starts a short-lived helper container (host PID
namespace; its image carries pyroute2 and fabric_agent.py) beside the lab's
containers, and ``run_plan`` hands it the plan. The same code path works on a local Linux engine, Docker
Desktop on macOS and a remote engine, and simlab never needs netlink on the
machine it runs on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

from simlab.engines.client import UNCONFINED, ContainerInfo, ContainerSpec, Engine
from simlab.errors import EngineError, EngineTimeout
from simlab.events import Emit, Event, ignore
from simlab.labs.security import HELPER_USERNS
from simlab.model.topology import DEFAULT_IMAGE, Endpoint, Route, Topology

BRIDGE = "br0"
AGENT_DIR = "/opt/simlab"
PLAN_DIR = f"{AGENT_DIR}/plan"
INFRA_IMAGE = DEFAULT_IMAGE  # switches and the helper: the host image has python3 and iproute2
HELPER_REPOSITORY = "simlab-fabric"
# The helper ends itself (and the engine removes it) when no plan came soon after its start
# and soon after it answered (fabric_agent.PLAN_WAIT, READ_WAIT): whatever happens to simlab
# (kill -9), a helper with the engine host's PID namespace does not linger.
HANDOFF_TIMEOUT = 60  # seconds for the helper to build a plan, plus HANDOFF_PER_ITEM for each host and link:
HANDOFF_PER_ITEM = 0.25  # a thousand-host chain took over 60 s on a loaded 2-core machine
TIMED_OUT = 124  # timeout's exit code: the helper was there but gave no answer in time
HELPER_MAX_AGE = 600  # a helper older than this is a leftover (one that never started): removed


def plan_fabric(topology: Topology, host_pids: dict[str, int], switch_pids: dict[str, int]) -> dict:
    """The helper's plan: bridges in switches, veths between namespaces, then addresses and routes."""
    veths = [_veth(link.a, link.b, host_pids) for link in topology.links]
    bridges = []
    for segment in topology.segments:
        if segment.name not in switch_pids:  # a two-member segment is a plain veth pair
            veths.append(_veth(*segment.members, host_pids))
            continue
        bridges.append({"pid": switch_pids[segment.name], "name": BRIDGE})
        for port, end in enumerate(segment.members):
            veths.append({"a_pid": host_pids[end.host], "a_name": end.interface,
                          "b_pid": switch_pids[segment.name], "b_name": f"p{port}", "b_master": BRIDGE})
    wired = topology.wired_interfaces()
    hosts = []
    for host in topology.hosts.values():
        hosts.append({
            "host": host.name,
            "pid": host_pids[host.name],
            "up": sorted(end.interface for end in wired if end.host == host.name),
            "addresses": [[ifname, str(addr)] for ifname, addrs in host.addresses.items() for addr in addrs],
            "routes": [{"text": r.text, "dst": str(r.destination) if r.destination else _default_for(r),
                        "gateway": str(r.via) if r.via else None, "dev": r.dev} for r in host.routes],
        })
    return {"bridges": bridges, "veths": veths, "hosts": hosts}


def switched_segments(topology: Topology) -> list[str]:
    """Segments that need a switch container: those with more than two members."""
    return [s.name for s in topology.segments if len(s.members) > 2]


def helper_image(engine: Engine, emit: Emit = ignore) -> str:
    """The helper image: the host image plus the agent and pyroute2, built once per engine
    (its tag is a hash of what goes in, so a new simlab or pyroute2 builds a new one)."""
    tag = helper_tag()
    if not engine.image_exists(tag):
        emit(Event("image.start", f"building {tag} (the fabric helper, once per engine)"))
        for line in engine.build(_helper_context(), tag):
            emit(Event("image.line", line))
    return tag


def helper_tag() -> str:
    """The helper image of this simlab and pyroute2."""
    return f"{HELPER_REPOSITORY}:{_helper_fingerprint()}"


def _helper_fingerprint() -> str:
    """A hash of what goes into the helper image, cheap enough to compute on every run."""
    parts = [HELPER_DOCKERFILE, Path(__file__).with_name("fabric_agent.py").read_text(),
             importlib.metadata.version("pyroute2")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def start_helper(engine: Engine, image: str, name: str, labels: dict[str, str]) -> str:
    """Start the fabric helper: it imports pyroute2, then waits for a plan (see run_plan).
    Started beside the lab's containers, so its start-up costs no time of its own."""
    spec = ContainerSpec(name=name, image=image, labels=labels, command=None,  # the image's CMD
                         pid_mode="host", cap_add=["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"],
                         security_opt=UNCONFINED, auto_remove=True, userns_mode=HELPER_USERNS)
    helper = engine.create(spec)
    engine.start(helper, name)
    return helper


class HelperGone(EngineError):
    """The helper ended (or was never there) before it took the plan."""


def run_plan(engine: Engine, helper: str, plan: dict) -> None:
    """Hand ``plan`` to a started helper and wait until it is built; EngineError with the
    helper's reason on failure, within handoff_timeout(plan) seconds whatever the engine does.
    The plan goes in as a file (no size limit); one exec waits for the outcome."""
    limit = handoff_timeout(plan)
    # head blocks on the helper's answer FIFO until the outcome line comes: no polling loop
    # (one `sleep` process every 5 ms took CPU from the wiring on a loaded machine).
    handoff = f'cd {PLAN_DIR} && timeout {limit:g} head -n 1 answer; rc=$?; touch read; exit $rc'
    try:
        engine.put_file(helper, PLAN_DIR, {"plan.json": json.dumps(plan).encode(), "ready": b""})
        outcome = engine.exec(helper, ["sh", "-c", handoff], timeout=limit + 10)
    except EngineTimeout:
        raise EngineError(f"wiring the lab failed: the fabric helper gave no answer within {limit:g} s") from None
    except EngineError as exc:
        raise HelperGone(f"wiring the lab failed: the fabric helper is gone ({exc})") from None
    # The answer decides, not the exit code: the helper ends as soon as `read` exists, and the
    # engine can lose the exit code of an exec whose container has just stopped.
    answer = outcome.output.strip()
    if answer == "ok":
        return
    if outcome.exit_code == TIMED_OUT:  # not gone, only slow: another helper would find half a lab
        raise EngineError(f"wiring the lab failed: the fabric helper gave no answer within {limit:g} s")
    if not answer:
        raise HelperGone("wiring the lab failed: the fabric helper ended before it answered")
    raise EngineError(f"wiring the lab failed: {answer}")


def handoff_timeout(plan: dict) -> float:
    """Seconds a helper may take to build ``plan``."""
    return HANDOFF_TIMEOUT + HANDOFF_PER_ITEM * (len(plan["hosts"]) + len(plan["veths"]))


def wire(engine: Engine, helper: str, plan: dict, start_another: Callable[[], str]) -> list[str]:
    """Build ``plan`` with ``helper``. If that helper is gone before it answered (it gave up
    waiting, as on an engine so loaded that the lab's containers took over PLAN_WAIT seconds
    to start, or it was killed), try once more with a fresh one. Return the helpers started."""
    helpers = [helper]
    try:
        run_plan(engine, helper, plan)
    except HelperGone:
        helpers.append(start_another())
        run_plan(engine, helpers[-1], plan)
    return helpers


def remove_stale_helpers(engine: Engine, helpers: list[ContainerInfo], now: float) -> None:
    """Remove helpers older than HELPER_MAX_AGE: only one that never started (its simlab was
    killed between creating and starting it) lives that long."""
    for helper in helpers:
        if now - helper.created > HELPER_MAX_AGE:
            engine.remove(helper.id)


def _veth(a: Endpoint, b: Endpoint, pids: dict[str, int]) -> dict:
    return {"a_pid": pids[a.host], "a_name": a.interface, "b_pid": pids[b.host], "b_name": b.interface,
            "b_master": None}


def _default_for(route: Route) -> str:
    return "::/0" if route.via is not None and route.via.version == 6 else "0.0.0.0/0"


# Compiled in the image by its own Python, so the helper never compiles at start.
HELPER_DOCKERFILE = f"""\
FROM {INFRA_IMAGE}
COPY simlab {AGENT_DIR}
RUN python3 -m compileall -q {AGENT_DIR} && mkdir -p {PLAN_DIR} && mkfifo {PLAN_DIR}/answer
ENV PYTHONPATH={AGENT_DIR}
CMD ["python3", "{AGENT_DIR}/fabric_agent.py", "{PLAN_DIR}"]
"""


def _helper_context() -> bytes:
    """The helper image's build context: its Dockerfile, the agent, and pyroute2's sources."""
    package = Path(importlib.util.find_spec("pyroute2").origin).parent
    files = {"Dockerfile": HELPER_DOCKERFILE.encode(),
                                      "simlab/fabric_agent.py": Path(__file__).with_name("fabric_agent.py").read_bytes()}
    for source in sorted(package.rglob("*.py")):
        files[f"simlab/{source.relative_to(package.parent)}"] = source.read_bytes()
    return _tar(files)


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
