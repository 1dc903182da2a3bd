"""Scripts out: `simlab export --format sh|clab`.

The shell script is run for real and the lab it builds compared with simlab's own lab of
the same scenario (simlab/state/collect.py), then taken down; its quoting is checked with
shellcheck and with hostile names fed to stand-in docker and ip commands. The containerlab
topology is read back through the clab loader and run by simlab.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import simlab
from simlab import api
from simlab.labs.export import clab_exec, clab_topology, configure_commands, host_sysctls, shell_script
from simlab.labs.lab import destroy_lab, open_lab
from simlab.model.scenario import Scenario, load_scenario, shipped_scenarios
from simlab.model.topology import Host, Topology
from simlab.state.collect import inspect_lab

SHIPPED = [path.stem for path in shipped_scenarios()]


def shellcheck() -> str:
    found = Path(sys.executable).with_name("shellcheck")
    return str(found) if found.exists() else shutil.which("shellcheck") or pytest.skip("no shellcheck")


def test_every_shipped_scenarios_script_passes_shellcheck(tmp_path):
    files = []
    for name in SHIPPED:
        files.append(tmp_path / f"{name}.sh")
        files[-1].write_text(shell_script(api.load(name)))
    done = subprocess.run([shellcheck(), "--shell=sh", *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# Stand-ins for docker, ip, nsenter and id: each records its arguments, one JSON list a line.
FAKE = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
if name == "id":
    print(0)
elif name == "docker" and sys.argv[1] == "inspect":
    print(4242)
elif name == "docker" and sys.argv[1] == "run":
    print("c0ffee")
"""
HOSTILE_IFACE = ";touch${IFS}pwn"  # 15 characters: a valid interface name for the kernel and for simlab
HOSTILE_COMMAND = "touch 'it''s' \"$(echo ok)\"; echo done > /dev/null"
HOSTILE_TITLE = "x\n$(touch pwn2)'; touch pwn3 #"


def hostile() -> Scenario:
    return (api.Builder("hostile", description="a\n$(touch pwn4)")
            .host("a", interfaces={HOSTILE_IFACE: "10.0.0.1/24"}, setup=[HOSTILE_COMMAND])
            .host("b", interfaces={"eth0": "10.0.0.2/24"})
            .link(f"a:{HOSTILE_IFACE}", "b:eth0")
            .run(HOSTILE_TITLE, "a", HOSTILE_COMMAND, netns="ns.x", section="s\n`touch pwn5`")
            .scenario())


def test_every_value_from_the_file_reaches_docker_and_ip_as_one_argument(tmp_path):
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name in ("docker", "ip", "nsenter", "id"):
        (fakes / name).write_text(FAKE.format(python=sys.executable))
        (fakes / name).chmod(0o755)
    script = tmp_path / "hostile.sh"
    script.write_text(shell_script(hostile()))
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "log")}
    done = subprocess.run(["sh", str(script), "all", "clab-x"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert ["ip", "link", "add", HOSTILE_IFACE, "netns", "4242", "type", "veth", "peer", "name", "eth0",
            "netns", "4242"] in calls
    assert ["docker", "exec", "-e", "LC_ALL=C", "simlab-clab-x-a", "sh", "-c", HOSTILE_COMMAND] in calls  # setup
    assert ["docker", "exec", "-e", "LC_ALL=C", "simlab-clab-x-a", "ip", "netns", "exec", "ns.x", "sh", "-c",
            HOSTILE_COMMAND] in calls  # the step
    assert ["docker", "exec", "-e", "LC_ALL=C", "simlab-clab-x-a", "ip", "addr", "add", "10.0.0.1/24", "dev",
            HOSTILE_IFACE] in calls
    assert f"1. {HOSTILE_TITLE.replace(chr(10), chr(92) + 'n')}" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "hostile.sh", "log"]  # no pwn*, no it's
    bad_name = subprocess.run(["sh", str(script), "up", "x;touch pwn"], cwd=tmp_path, env=env, capture_output=True,
                              text=True)
    assert bad_name.returncode == 2 and not (tmp_path / "pwn").exists()


def effective(topology: Topology, configured: bool = True) -> dict:
    """What simlab builds from a topology: per host its image, sysctls and every command run
    once its wires exist (addresses and routes as ip commands, then setup); the wires. A
    topology read from containerlab has them all as setup (``configured`` False)."""
    def commands(host: Host) -> list[str]:
        if not configured:
            assert host.addresses == {} and host.routes == []
            return host.setup
        return [shlex.join(c) for c in configure_commands(host, topology)] + host.setup
    return {"hosts": {name: (h.image, h.privileged, host_sysctls(h), commands(h)) for name, h in topology.hosts.items()},
            "links": topology.links, "segments": topology.segments}


def reloaded(scenario: Scenario, tmp_path: Path) -> Scenario:
    path = tmp_path / f"{scenario.name}.clab.yml"
    path.write_text(clab_topology(scenario))
    return load_scenario(path)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_containerlab_export_reads_back_as_the_same_lab(name, tmp_path):
    original = api.load(name)
    back = reloaded(original, tmp_path)
    assert back.name == original.name and back.steps == []
    assert effective(back.topology, configured=False) == effective(original.topology)
    assert back.topology.warnings == []


def test_exec_lines_keep_any_command_exactly(tmp_path):
    commands = [HOSTILE_COMMAND, "echo $HOME $$ ${X:-y}", "printf '%s\\n' a > /tmp/f", "ip link set eth1 up",
                "echo __clabNodeName__", "a  b", "sh -c 'x'"]
    for command in commands[:-2]:
        assert "$" not in clab_exec(command).replace("$$", "")  # containerlab would expand a lone $
    scenario = api.Builder("cmds").host("a", setup=commands).scenario()
    assert reloaded(scenario, tmp_path).topology.hosts["a"].setup[-len(commands):] == [
        *commands[:4], "echo a", "a  b", "sh -c 'x'"]  # containerlab expands its node name: no escape


# -- on the engine -----------------------------------------------------------------------------

def lab_state(engine, lab: str, topology: Topology) -> dict:
    """A lab's state as collect.py reads it, without what differs between any two builds: MACs."""
    state = inspect_lab(open_lab(engine, lab), topology).to_dict()
    for host in state["hosts"].values():
        for namespace in [host["root"], *host.get("netns", {}).values()]:
            for interface in namespace["interfaces"].values():
                interface.pop("mac")
    return state["hosts"]


@pytest.fixture(scope="module")
def reference(engine):
    """simlab's own lab of gateway-nat after every step, as its state."""
    scenario, lab = api.load("gateway-nat"), f"clab-ref-{uuid.uuid4().hex[:6]}"
    try:
        result = api.run(scenario, engine=engine, name=lab, keep=True)
        assert result.passed, [s.title for s in result.steps if not s.passed]
        yield lab_state(engine, lab, scenario.topology)
    finally:
        destroy_lab(engine, lab)


def test_the_exported_script_builds_the_lab_simlab_builds_and_removes_it(engine, reference, tmp_path):
    lab = f"clab-sh-{uuid.uuid4().hex[:6]}"
    script = tmp_path / "gateway-nat.sh"
    assert simlab("export", "gateway-nat", "--format", "sh", "-o", str(script)).returncode == 0
    interfaces = set(os.listdir("/sys/class/net"))
    try:
        done = subprocess.run(["sh", str(script), "all", lab], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "13. The outside host replies" in done.stdout
        assert lab_state(engine, lab, api.load("gateway-nat").topology) == reference
    finally:
        down = subprocess.run(["sh", str(script), "down", lab], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert engine.containers({"simlab.lab": lab}) == []
    assert set(os.listdir("/sys/class/net")) == interfaces  # every wire went with its namespaces


def test_the_exported_containerlab_topology_runs_the_scenarios_steps_alike(engine, reference, tmp_path):
    original = api.load("gateway-nat")
    back = reloaded(original, tmp_path)
    lab = f"clab-cl-{uuid.uuid4().hex[:6]}"
    try:
        result = api.run(replace(back, steps=original.steps), engine=engine, name=lab, keep=True)
        assert result.passed, [s.title for s in result.steps if not s.passed]
        assert lab_state(engine, lab, back.topology) == reference
    finally:
        destroy_lab(engine, lab)
    assert engine.containers({"simlab.lab": lab}) == []
