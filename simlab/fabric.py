"""The wires of a lab: veth pairs and switch bridges, made on the engine's kernel.

``plan_fabric`` turns a topology and the PIDs of its running containers into
a plan; ``build_fabric`` runs that plan in one short-lived helper container
(host PID namespace, pyroute2 copied in), so the same code path works on a
local Linux engine, Docker Desktop on macOS and a remote engine, and simlab
never needs netlink on the machine it runs on.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import tarfile
from pathlib import Path

from simlab.engine import UNCONFINED, ContainerSpec, Engine
from simlab.errors import EngineError
from simlab.topology import Endpoint, Topology

BRIDGE = "br0"
AGENT_DIR = "/opt/simlab"


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


def build_fabric(engine: Engine, plan: dict, image: str, name: str, labels: dict[str, str]) -> None:
    """Run ``plan`` in a helper container on the engine; EngineError with the helper's reason on failure."""
    spec = ContainerSpec(
        name=name, image=image, labels=labels,
        command=["python3", f"{AGENT_DIR}/fabric_agent.py", json.dumps(plan)],
        pid_mode="host", cap_add=["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"], security_opt=UNCONFINED,
        environment={"PYTHONPATH": AGENT_DIR})
    helper = engine.create(spec)
    try:
        engine.put_archive(helper, "/opt", _agent_tar())
        engine.start(helper, name)
        code = engine.wait(helper)
        if code != 0:
            raise EngineError(f"wiring the lab failed: {engine.logs(helper).strip()}")
    finally:
        engine.remove(helper)


def _veth(a: Endpoint, b: Endpoint, pids: dict[str, int]) -> dict:
    return {"a_pid": pids[a.host], "a_name": a.interface, "b_pid": pids[b.host], "b_name": b.interface,
            "b_master": None}


def _default_for(route) -> str:
    return "::/0" if route.via is not None and route.via.version == 6 else "0.0.0.0/0"


@functools.lru_cache(maxsize=1)
def _agent_tar() -> bytes:
    """pyroute2 (pure Python) and the agent, packed once per process."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        # Compiled files come along: where the helper's Python matches, imports skip compiling.
        tar.add(Path(importlib.util.find_spec("pyroute2").origin).parent, arcname="simlab/pyroute2")
        tar.add(Path(__file__).with_name("fabric_agent.py"), arcname="simlab/fabric_agent.py")
    return out.getvalue()
