"""The fabric helper's build order, with the kernel faked: containers come up in any order,
and each wire is made as soon as (and only once) what it needs runs."""

from __future__ import annotations

import itertools
import random
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "simlab" / "labs"))
import fabric_agent  # noqa: E402 - runs in the helper as a script, imported here by path

from simlab.labs.fabric import plan_fabric  # noqa: E402
from simlab.model.problems import Problems  # noqa: E402
from simlab.model.topology import parse_topology  # noqa: E402
from simlab.model.yamlsource import parse_yaml  # noqa: E402

TOPOLOGY = """
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24, eth1: 10.1.0.1/30}, routes: [default via 10.0.0.254]}
  b: {interfaces: {eth0: 10.0.0.2/24}}
  c: {interfaces: {eth0: 10.0.0.3/24}}
  d: {interfaces: {eth0: 10.1.0.2/30}}
  e: {}
segments:
  lan: [a:eth0, b:eth0, c:eth0]
links:
  - [a:eth1, d:eth0]
"""
CONTAINERS = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}


class FakeProcesses:
    """Containers come up one at a time, in a given order, each time the build waits."""

    def __init__(self, order: list[str]) -> None:
        self.order, self.up = list(order), {}

    def look_everywhere(self):
        pass

    def pids(self, containers):
        return {c: pid for c, pid in self.up.items() if c in containers}

    def wait(self, timeout):
        if self.order:
            container = self.order.pop(0)
            self.up[container] = 100 + len(self.up)


class Recorder:
    """Stands in for pyroute2's IPRoute: records what is asked of the kernel, in order."""

    log: list[tuple] = []

    def __init__(self, where: str = "helper") -> None:
        self.where = where

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def link(self, command, **kw):
        Recorder.log.append((self.where, "link", command, kw.get("ifname") or kw.get("index"), kw.get("kind")))
        return [{}]

    def link_lookup(self, ifname):
        return [7]

    def addr(self, command, **kw):
        Recorder.log.append((self.where, "addr", command, kw["address"], None))

    def route(self, command, **kw):
        Recorder.log.append((self.where, "route", command, kw["dst"], None))


@pytest.fixture
def fake_kernel(monkeypatch):
    Recorder.log = []
    monkeypatch.setattr(fabric_agent, "IPRoute", Recorder)
    monkeypatch.setattr(fabric_agent, "netns", lambda pid: Recorder(f"ns{pid}"))
    return Recorder.log


def plan() -> dict:
    data, source = parse_yaml(TOPOLOGY, "t.yaml")
    problems = Problems(source)
    topology = parse_topology(data, problems, "t")
    problems.raise_if_any()
    return plan_fabric(topology, CONTAINERS, {"lan": "S"})


@pytest.mark.parametrize("seed", range(6))
def test_every_wire_is_made_once_when_what_it_needs_runs(fake_kernel, seed):
    order = ["A", "B", "C", "D", "E", "S"]
    random.Random(seed).shuffle(order)
    processes = FakeProcesses(order)
    pids = fabric_agent.Build(plan(), processes, lambda: False).run()
    assert set(pids) == {"A", "B", "C", "D", "E", "S"}
    veths = [(i, e[3]) for i, e in enumerate(fake_kernel) if e[1] == "link" and e[2] == "add" and e[4] == "veth"]
    assert sorted(name for _, name in veths) == ["eth1", "p0", "p1", "p2"]  # each once
    bridge = next(i for i, e in enumerate(fake_kernel) if e[4] == "bridge")
    assert all(bridge < i for i, name in veths if name.startswith("p"))  # a port goes onto an existing bridge
    # a host's addresses come after every veth that ends in it (a: p0 on the lan, eth1 to d)
    addresses = {e[3]: i for i, e in enumerate(fake_kernel) if e[1] == "addr"}
    last_veth_of_a = max(i for i, name in veths if name in ("p0", "eth1"))
    assert addresses["10.0.0.1"] > last_veth_of_a and addresses["10.1.0.1"] > last_veth_of_a
    assert set(addresses) == {"10.0.0.1", "10.1.0.1", "10.0.0.2", "10.0.0.3", "10.1.0.2"}


def test_a_plan_of_only_bridges_is_built(fake_kernel):
    bridges = {"id": "x", "bridges": [{"container": "S", "name": f"b{i}"} for i in range(3)], "veths": [], "hosts": []}
    assert fabric_agent.Build(bridges, FakeProcesses(["S"]), lambda: False).run() == {"S": 100}
    assert [entry[3] for entry in fake_kernel if entry[4] == "bridge"] == ["b0", "b1", "b2"]


def test_a_plan_whose_container_never_comes_fails_after_its_stall(fake_kernel, monkeypatch):
    clock = itertools.count(0, 30)
    monkeypatch.setattr(fabric_agent.time, "monotonic", lambda: next(clock))
    never = {"id": "x", "stall": 60, "bridges": [], "veths": [],
             "hosts": [{"host": "lost", "container": "L", "up": [], "addresses": [], "routes": []}]}
    with pytest.raises(fabric_agent.PlanError, match="the containers of lost did not start: none came up for 60 s"):
        fabric_agent.Build(never, FakeProcesses([]), lambda: False).run()


def test_a_runtime_process_is_looked_at_until_it_is_its_containers_sleep(monkeypatch):
    """A container's init starts as a copy of the runtime (comm "runc"), renames itself, then
    execs the container's command: the helper must keep looking at it through all of that,
    and settle everything else at once."""
    cid = "c" * 64
    life = iter(["runc", "runc:[2:INIT]", "runc:[2:INIT]", "sleep"])
    files = {"/proc/loadavg": "0 0 0 1/1 400\n", "/proc/7/cgroup": f"12:pids:/docker/{cid}\n",
             "/proc/7/mountinfo": "", "/proc/8/stat": "8 (containerd-shim) S 1 ...\n"}

    def read(path):
        if path == "/proc/7/stat":
            return f"7 ({next(life, 'sleep')}) S 1 ...\n"
        return files.get(path)
    monkeypatch.setattr(fabric_agent, "_read", read)
    monkeypatch.setattr(fabric_agent, "_last_pid", lambda: 400)
    monkeypatch.setattr(fabric_agent.os, "listdir", lambda path: ["7", "8", "self"])
    processes = fabric_agent.Processes()
    for _ in range(3):
        processes.scan()
        assert processes.pids({cid}) == {}
    processes.scan()
    assert processes.pids({cid}) == {cid: 7}
    assert "8" in processes._seen and not processes._starting  # the shim was settled at once


def test_a_pid_given_out_again_is_a_new_process(monkeypatch):
    """A helper lives through many plans: a PID that was some other process (or another lab's
    container, since removed) can come back as a new container's process, after the kernel's
    PIDs wrapped around. The helper must look at it again, and forget the old owner."""
    old, new = "a" * 64, "b" * 64
    world = {"last": 400, "procs": {"7": ("sleep", old)}}

    def read(path):
        pid, _, name = path.removeprefix("/proc/").partition("/")
        comm, owner = world["procs"].get(pid, (None, None))
        if comm is None:
            return None
        return {"stat": f"{pid} ({comm}) S 1 ...\n", "cgroup": f"12:pids:/docker/{owner}\n", "mountinfo": ""}[name]
    monkeypatch.setattr(fabric_agent, "_read", read)
    monkeypatch.setattr(fabric_agent, "_last_pid", lambda: world["last"])
    monkeypatch.setattr(fabric_agent.os, "listdir", lambda path: [*world["procs"], "self"])
    processes = fabric_agent.Processes()
    processes.scan()
    assert processes.pids({old}) == {old: 7}
    # the old container is gone, the PIDs wrap, and 7 is now the new container's sleep
    world["procs"], world["last"] = {"7": ("sleep", new)}, 9
    processes.scan()
    assert processes.pids({old, new}) == {new: 7}


def test_a_process_that_ended_is_forgotten(monkeypatch):
    cid = "c" * 64
    procs = {"7": "sleep"}
    monkeypatch.setattr(fabric_agent, "_read", lambda path: (
        f"7 ({procs['7']}) S 1 ...\n" if path == "/proc/7/stat" and "7" in procs
        else f"1:pids:/docker/{cid}\n" if path == "/proc/7/cgroup" and "7" in procs else "" if "7" in procs else None))
    last = iter([400, 401])
    monkeypatch.setattr(fabric_agent, "_last_pid", lambda: next(last))
    monkeypatch.setattr(fabric_agent.os, "listdir", lambda path: [*procs])
    processes = fabric_agent.Processes()
    processes.scan()
    assert processes.pids({cid}) == {cid: 7}
    procs.clear()
    processes.scan()
    assert processes.pids({cid}) == {}


def test_a_sleep_of_the_engine_host_is_no_container_though_it_sees_their_mounts(monkeypatch):
    """Rootful Podman mounts each container's shm in the engine host's mount namespace: a
    `sleep` there sees them all. Only a container's own /etc/hostname mount names it, else the
    helper would wire the engine host's own network namespace."""
    cid, other = "c" * 64, "d" * 64
    files = {"/proc/loadavg": "0 0 0 1/1 400\n",
             "/proc/7/stat": "7 (sleep) S 1 ...\n", "/proc/7/cgroup": "4:memory:/user.slice\n",
             "/proc/7/mountinfo": f"90 30 0:50 / /run/pm/overlay-containers/{cid}/userdata/shm rw - tmpfs shm rw\n",
             "/proc/8/stat": "8 (sleep) S 1 ...\n", "/proc/8/cgroup": "4:memory:/\n",
             "/proc/8/mountinfo": f"91 80 254:0 /var/lib/pm/overlay-containers/{cid}/userdata/hostname "
                                  f"/etc/hostname rw - ext4 /dev/vda rw\n"
                                  f"92 80 0:51 / /dev/shm rw - tmpfs shm rw\n"
                                  f"93 80 254:0 /var/lib/pm/overlay-containers/{other}/userdata/x /mnt rw - ext4 /dev/vda rw\n"}
    monkeypatch.setattr(fabric_agent, "_read", files.get)
    monkeypatch.setattr(fabric_agent, "_last_pid", lambda: 400)
    monkeypatch.setattr(fabric_agent.os, "listdir", lambda path: ["7", "8"])
    processes = fabric_agent.Processes()
    processes.scan()
    assert processes.pids({cid, other}) == {cid: 8}
