"""The wires of a lab: veth pairs and switch bridges, made on the engine's kernel.

``plan_fabric`` turns a topology and the ids of its created containers into a
plan. One helper container per engine (host PID namespace; its image carries
pyroute2 and fabric_agent.py) builds the plans of every lab for a while and
then ends itself: ``shared_helper`` picks a running one from the engine's
containers, ``start_helper`` starts a new one. ``wire`` hands a plan over right
after the lab's containers are created, before they start: the helper finds
their processes itself and wires each link as soon as both its ends run, so
the wiring goes on while the engine starts the rest. The same code path works
on a local Linux engine, Docker Desktop on macOS and a remote engine, and
simlab never needs netlink on the machine it runs on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

from simlab.engines.client import UNCONFINED, ContainerInfo, ContainerSpec
from simlab.engines.interface import EngineAPI
from simlab.errors import EngineError, EngineTimeout
from simlab.events import Emit, Event, ignore
from simlab.labs.security import HELPER_USERNS, helper_privileged
from simlab.model.topology import DEFAULT_IMAGE, Endpoint, Route, Topology

BRIDGE = "br0"
AGENT_DIR = "/opt/simlab"
PLAN_DIR = f"{AGENT_DIR}/plan"
INFRA_IMAGE = DEFAULT_IMAGE  # switches and the helper: the host image has python3 and iproute2
HELPER_REPOSITORY = "simlab-fabric"
LABEL_HELPER = "simlab.fabric"  # on a helper: the fingerprint of its image
# A helper ends itself this many seconds after its last plan (SIMLAB_HELPER_IDLE), and takes
# no new plan after fabric_agent.MAX_LIFE: whatever happens to simlab (kill -9), a helper with
# the engine host's PID namespace does not linger.
HELPER_IDLE = 30.0
HANDOFF_TIMEOUT = 60  # seconds for the helper to build a plan once its containers run, plus
HANDOFF_PER_ITEM = 0.25  # for each host and link (a thousand-host chain took over 60 s, loaded)
STALL = 60  # seconds the helper waits for the next container of a plan to come up, then fails it
# The hand-off exec is silent until the answer, which comes once every container runs: its own
# limit is only a backstop, the caller waits for it with the plan's limit once they all run.
HANDOFF_EXEC_LIMIT = 3600
TIMED_OUT = 124  # timeout's exit code: the helper was there but gave no answer in time
CLOSED = 75  # the handoff's exit code when the helper takes no more plans: use another
HELPER_MAX_AGE = 600  # a helper created this long ago and never started is a leftover: removed
INLINE_PLAN = 96 * 1024  # bytes: a smaller plan travels in the handoff exec's environment


def plan_fabric(topology: Topology, hosts: dict[str, str], switches: dict[str, str]) -> dict:
    """The helper's plan for the containers ``hosts`` (host -> container id) and ``switches``
    (segment -> container id): bridges in switches, veths between namespaces, then each
    host's addresses and routes."""
    veths = [_veth(link.a, link.b, hosts) for link in topology.links]
    bridges = []
    for segment in topology.segments:
        if segment.name not in switches:  # a two-member segment is a plain veth pair
            a, b = segment.members
            veths.append(_veth(a, b, hosts))
            continue
        switch = switches[segment.name]
        bridges.append({"container": switch, "name": BRIDGE})
        for port, end in enumerate(segment.members):
            veths.append({"a": switch, "a_host": segment.name, "a_name": f"p{port}", "a_master": BRIDGE,
                          "b": hosts[end.host], "b_host": end.host, "b_name": end.interface})
    wired = topology.wired_interfaces()
    plan_hosts = []
    for host in topology.hosts.values():
        plan_hosts.append({
            "host": host.name,
            "container": hosts[host.name],
            "up": sorted(end.interface for end in wired if end.host == host.name),
            "addresses": [[ifname, str(addr)] for ifname, addrs in host.addresses.items() for addr in addrs],
            "routes": [{"text": r.text, "dst": str(r.destination) if r.destination else _default_for(r),
                        "gateway": str(r.via) if r.via else None, "dev": r.dev} for r in host.routes],
        })
    plan = {"id": uuid.uuid4().hex[:12], "bridges": bridges, "veths": veths, "hosts": plan_hosts, "stall": STALL}
    plan["limit"] = handoff_timeout(plan)
    return plan


def switched_segments(topology: Topology) -> list[str]:
    """Segments that need a switch container: those with more than two members."""
    return [s.name for s in topology.segments if len(s.members) > 2]


def helper_image(engine: EngineAPI, emit: Emit = ignore) -> str:
    """The helper image: the host image plus the agent and pyroute2, built once per engine
    (its tag is a hash of what goes in, so a new simlab or pyroute2 builds a new one)."""
    tag = helper_tag()
    if not engine.image_exists(tag):
        emit(Event("image.start", f"building {tag} (the fabric helper, once per engine)"))
        # no network: it needs none, and an engine whose default bridge is gone still builds it
        for line in engine.build(_helper_context(), tag, network_mode="none"):
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


def shared_helper(containers: list[ContainerInfo]) -> str | None:
    """A running helper of this simlab among ``containers`` (the newest), or None."""
    fingerprint = _helper_fingerprint()
    running = [c for c in containers if c.labels.get(LABEL_HELPER) == fingerprint and c.state == "running"]
    return max(running, key=lambda c: c.created).id if running else None


def start_helper(engine: EngineAPI, labels: dict[str, str], emit: Emit = ignore) -> str:
    """Start a fabric helper for this engine (building its image first if need be); it takes
    plans until it has been idle for a while (see fabric_agent.py)."""
    image = helper_image(engine, emit)
    name = f"{HELPER_REPOSITORY}-{_helper_fingerprint()}-{uuid.uuid4().hex[:6]}"
    idle = os.environ.get("SIMLAB_HELPER_IDLE") or f"{HELPER_IDLE:g}"
    spec = ContainerSpec(name=name, image=image, labels={**labels, LABEL_HELPER: _helper_fingerprint()},
                         command=["python3", f"{AGENT_DIR}/fabric_agent.py", PLAN_DIR, idle],
                         pid_mode="host", cap_add=["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"],
                         security_opt=UNCONFINED, auto_remove=True, userns_mode=HELPER_USERNS,
                         privileged=helper_privileged(engine))
    helper = engine.create(spec)
    engine.start(helper, name)
    return helper


class HelperGone(EngineError):
    """The helper ended (or was never there, or takes no more plans) before it took the plan."""


def run_plan(engine: EngineAPI, helper: str, plan: dict) -> dict[str, int]:
    """Hand ``plan`` to a running helper and wait until it is built; return the PID of each
    container (by id). EngineError with the helper's reason on failure, within the plan's
    limit whatever the engine does; HelperGone if another helper should be tried."""
    plan_id = plan["id"]
    text = json.dumps(plan, separators=(",", ":"))
    inline = len(text) < INLINE_PLAN
    # head blocks on the answer FIFO until the outcome line comes: no polling loop. The lock
    # keeps a helper from closing between the `closed` check and the plan's arrival.
    take = (f'[ ! -e closed ] && mkfifo answer-{plan_id} && '
            + (f'printf %s "$SIMLAB_PLAN" > plan-{plan_id}.json && ' if inline else '')
            + f'mv plan-{plan_id}.json go-{plan_id}.json')
    limit = HANDOFF_EXEC_LIMIT
    handoff = (f"cd {PLAN_DIR} && flock -s lock -c '{take}' || exit {CLOSED}; "
               f"timeout {limit:g} head -n 1 answer-{plan_id}; rc=$?; touch read-{plan_id}; exit $rc")
    try:
        if not inline:
            engine.put_file(helper, PLAN_DIR, {f"plan-{plan_id}.json": text.encode()})
        outcome = engine.exec(helper, ["sh", "-c", handoff], timeout=limit + 10,
                              env={"SIMLAB_PLAN": text} if inline else None)
    except EngineTimeout:
        raise EngineError(f"wiring the lab failed: the fabric helper gave no answer within {limit:g} s") from None
    except EngineError as exc:
        raise HelperGone(f"wiring the lab failed: the fabric helper is gone ({exc})") from None
    # The answer decides, not the exit code: the engine can lose the exit code of an exec.
    answer = outcome.output.strip()
    if answer.startswith("ok"):
        return {container: int(pid) for container, pid in json.loads(answer[2:].strip() or "{}").items()}
    if outcome.exit_code == TIMED_OUT:  # not gone, only slow: another helper would find half a lab
        raise EngineError(f"wiring the lab failed: the fabric helper gave no answer within {limit:g} s")
    if not answer or outcome.exit_code == CLOSED:
        raise HelperGone("wiring the lab failed: the fabric helper ended before it answered")
    raise EngineError(f"wiring the lab failed: {answer}")


def handoff_timeout(plan: dict) -> float:
    """Seconds a helper may take to build ``plan``."""
    return HANDOFF_TIMEOUT + HANDOFF_PER_ITEM * (len(plan["hosts"]) + len(plan["veths"]))


def wire(engine: EngineAPI, helper: str | None, plan: dict, start_another: Callable[[], str]
         ) -> tuple[str, dict[str, int]]:
    """Build ``plan`` with ``helper`` (None: start one). If that helper is gone before it
    answered (it ended, idle, just then; it was killed), try once more with a fresh one.
    Return the helper that built it and the PID of each container."""
    if helper is None:
        helper = start_another()
    try:
        return helper, run_plan(engine, helper, plan)
    except HelperGone:
        helper = start_another()
        return helper, run_plan(engine, helper, plan)


def cancel_plan(engine: EngineAPI, helper: str, plan: dict) -> None:
    """Tell ``helper`` to give up ``plan``, whose containers are being removed (a start that
    failed): its hand-off then ends at once instead of at its limit."""
    try:
        engine.exec(helper, ["sh", "-c", f"cd {PLAN_DIR} && touch cancel-{plan['id']}"], timeout=10)
    except EngineError:
        pass


def remove_stale_helpers(engine: EngineAPI, helpers: list[ContainerInfo], now: float) -> None:
    """Remove helpers created long ago that never started: only one whose simlab was killed
    between creating and starting it lives that long."""
    for helper in helpers:
        if helper.state == "created" and now - helper.created > HELPER_MAX_AGE:
            engine.remove(helper.id)


def _veth(a: Endpoint, b: Endpoint, containers: dict[str, str]) -> dict:
    return {"a": containers[a.host], "a_host": a.host, "a_name": a.interface, "a_master": None,
            "b": containers[b.host], "b_host": b.host, "b_name": b.interface}


def _default_for(route: Route) -> str:
    return "::/0" if route.via is not None and route.via.version == 6 else "0.0.0.0/0"


# Compiled in the image by its own Python, so the helper never compiles at start.
HELPER_DOCKERFILE = f"""\
FROM {INFRA_IMAGE}
COPY simlab {AGENT_DIR}
RUN python3 -m compileall -q {AGENT_DIR} && mkdir -p {PLAN_DIR} && touch {PLAN_DIR}/lock
ENV PYTHONPATH={AGENT_DIR}
CMD ["python3", "{AGENT_DIR}/fabric_agent.py", "{PLAN_DIR}"]
"""


def _helper_context() -> bytes:
    """The helper image's build context: its Dockerfile, the agent, and pyroute2's sources."""
    spec = importlib.util.find_spec("pyroute2")
    assert spec is not None and spec.origin is not None  # a dependency of simlab, a package with files
    package = Path(spec.origin).parent
    files = {"Dockerfile": HELPER_DOCKERFILE.encode(),
                                      "simlab/fabric_agent.py":
                                          Path(__file__).with_name("fabric_agent.py").read_bytes()}
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
