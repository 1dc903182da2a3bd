"""Labs on the real engine: containers start, wires carry real pings, and
nothing is left behind (no container with a simlab.lab label, no interface
in this machine's namespace)."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import sys
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, interrupt_when, running, simlab
from simlab import errors as simlab_errors
from simlab.errors import SimlabError
from simlab.labs.lab import LABEL_LAB, destroy_lab, start_lab
from simlab.model.scenario import load_scenario
from simlab.model.topology import Route

TWO_HOSTS = """
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24}}
  b: {interfaces: {eth0: 10.0.0.2/24}}
links:
  - [a:eth0, b:eth0]
"""

THREE_ON_A_SEGMENT = """
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24}}
  b: {interfaces: {eth0: 10.0.0.2/24}}
  c: {interfaces: {eth0: 10.0.0.3/24}}
segments:
  lan: [a:eth0, b:eth0, c:eth0]
"""

DOCKER0_PAIR = """
hosts:
  host: {interfaces: {eth0: 172.17.0.2/16}}
  peer: {interfaces: {eth0: 172.17.0.3/16}}
links:
  - [host:eth0, peer:eth0]
"""


def topology_file(tmp_path: Path, text: str, name: str = "lab") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def pings(lab, host: str, target: str) -> bool:
    return lab.exec(host, f"ping -n -c 1 -w 3 {target}").exit_code == 0


def test_two_hosts_on_a_link_ping_each_other(engine, tmp_path, lab_name, no_leftovers):
    lab = start_lab(engine, load_scenario(topology_file(tmp_path, TWO_HOSTS)).topology, lab_name)
    try:
        assert pings(lab, "a", "10.0.0.2")
        assert pings(lab, "b", "10.0.0.1")
        assert not pings(lab, "a", "10.0.0.9")  # a ping can fail: nobody answers there
    finally:
        destroy_lab(engine, lab_name)


def test_three_hosts_on_a_segment_all_reach_each_other(engine, tmp_path, lab_name, no_leftovers):
    lab = start_lab(engine, load_scenario(topology_file(tmp_path, THREE_ON_A_SEGMENT)).topology, lab_name)
    try:
        for host, me in (("a", 1), ("b", 2), ("c", 3)):
            for other in {1, 2, 3} - {me}:
                assert pings(lab, host, f"10.0.0.{other}"), f"{host} cannot reach 10.0.0.{other}"
    finally:
        destroy_lab(engine, lab_name)


def test_hosts_are_sealed_and_labelled(engine, tmp_path, lab_name, no_leftovers):
    lab = start_lab(engine, load_scenario(topology_file(tmp_path, TWO_HOSTS)).topology, lab_name)
    try:
        routes = lab.exec("a", "ip -4 route").output
        assert routes.strip() == "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1"
        links = lab.exec("a", "ls /sys/class/net").output.split()
        assert sorted(links) == ["eth0", "lo"]
        found = engine.containers({LABEL_LAB: lab_name})
        assert sorted(c.name for c in found if c.labels["simlab.role"] == "host") == [
            f"simlab-{lab_name}-a", f"simlab-{lab_name}-b"]
    finally:
        destroy_lab(engine, lab_name)


def test_docker0_addresses_work_beside_docker0(engine, tmp_path, lab_name, no_leftovers):
    bridge = engine._client.networks.get("bridge").attrs["IPAM"]["Config"]
    assert any(c.get("Subnet") == "172.17.0.0/16" for c in bridge), "the engine's docker0 should use 172.17.0.0/16"
    lab = start_lab(engine, load_scenario(topology_file(tmp_path, DOCKER0_PAIR)).topology, lab_name)
    try:
        assert pings(lab, "host", "172.17.0.3")
        assert pings(lab, "peer", "172.17.0.2")
    finally:
        destroy_lab(engine, lab_name)


def test_two_labs_of_the_same_file_run_at_once(engine, tmp_path, no_leftovers):
    topology = load_scenario(topology_file(tmp_path, TWO_HOSTS)).topology
    names = [f"same-{os.getpid()}-{i}" for i in range(2)]
    labs, errors = {}, []

    def start(name: str) -> None:
        try:
            labs[name] = start_lab(engine, topology, name)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in names]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for lab in labs.values():
            assert pings(lab, "a", "10.0.0.2")
    finally:
        for name in names:
            destroy_lab(engine, name)


def test_failed_up_removes_what_it_started(engine, tmp_path, lab_name, no_leftovers):
    text = TWO_HOSTS.replace("a: {interfaces: {eth0: 10.0.0.1/24}}",
                             "a: {interfaces: {eth0: 10.0.0.1/24}, setup: [echo about to fail, 'false']}")
    with pytest.raises(SimlabError, match=r"setup of host a failed: `false` exited 1"):
        start_lab(engine, load_scenario(topology_file(tmp_path, text)).topology, lab_name)
    assert engine.containers({LABEL_LAB: lab_name}) == []


def test_failed_wiring_reports_the_route_and_removes_everything(engine, tmp_path, lab_name, no_leftovers):
    topology = load_scenario(topology_file(tmp_path, TWO_HOSTS)).topology
    # `simlab check` refuses an off-link gateway; the kernel's refusal must still be reported
    topology.hosts["a"].routes = [Route(None, ipaddress.ip_address("192.168.99.1"), None, "default via 192.168.99.1")]
    with pytest.raises(SimlabError, match=r"host a: route 'default via 192.168.99.1'"):
        start_lab(engine, topology, lab_name)
    assert engine.containers({LABEL_LAB: lab_name}) == []


def test_cli_up_exec_ls_down(engine, tmp_path, lab_name, no_leftovers):
    path = topology_file(tmp_path, TWO_HOSTS)
    try:
        up = simlab("up", str(path), "--name", lab_name, check=True)
        assert f"simlab down {lab_name}" in up.stdout
        assert simlab("exec", lab_name, "a", "--", "ping", "-c1", "-W2", "10.0.0.2").returncode == 0
        assert simlab("exec", lab_name, "a", "--", "sh", "-c", "echo out; echo err >&2; exit 3").returncode == 3
        listed = json.loads(simlab("ls", "--json", check=True).stdout)
        mine = [lab for lab in listed if lab["lab"] == lab_name]
        assert mine == [{"lab": lab_name, "file": str(path.resolve()), "hosts": {"a": "running", "b": "running"}}]
        again = simlab("up", str(path), "--name", lab_name)
        assert again.returncode == 2 and f"a lab named {lab_name} is already up" in again.stderr
    finally:
        down = simlab("down", lab_name)
    assert down.returncode == 0 and "removed" in down.stdout
    gone = simlab("down", lab_name)
    assert gone.returncode == 2 and f"no lab named '{lab_name}' is up" in gone.stderr


def test_exec_in_a_namespace_and_unknown_host(engine, tmp_path, lab_name, no_leftovers):
    path = topology_file(tmp_path, TWO_HOSTS)
    try:
        simlab("up", str(path), "--name", lab_name, check=True)
        simlab("exec", lab_name, "a", "--", "ip", "netns", "add", "red", check=True)
        inside = simlab("exec", lab_name, "a", "--ns", "red", "--", "ip", "-br", "link", check=True)
        assert inside.stdout.split()[0] == "lo" and "eth0" not in inside.stdout
        wrong = simlab("exec", lab_name, "zz", "--", "true")
        assert wrong.returncode == 2 and "has no host 'zz' (hosts: a, b)" in wrong.stderr
    finally:
        simlab("down", lab_name)


def test_ctrl_c_during_up_removes_everything(engine, tmp_path, lab_name, no_leftovers):
    text = TWO_HOSTS.replace("a: {interfaces: {eth0: 10.0.0.1/24}}",
                             "a: {interfaces: {eth0: 10.0.0.1/24}, setup: 'sleep 60'}")
    path = topology_file(tmp_path, text)
    done = interrupt_when(["up", str(path), "--name", lab_name], lambda: setup_is_running(engine, lab_name),
                          "its setup command (wired, waiting in `sleep 60`)")
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr
    assert engine.containers({LABEL_LAB: lab_name}) == []


def setup_is_running(engine, lab_name: str) -> bool:
    hosts = engine.containers({LABEL_LAB: lab_name, "simlab.role": "host", "simlab.host": "a"})
    return bool(hosts) and hosts[0].state == "running" and running(engine, hosts[0].id, "sleep 60")


def engine_allows_privileged(engine) -> bool:
    """Asked of the engine without simlab's lab code: a bare privileged container, started and removed."""
    from simlab.engines.client import ContainerSpec

    spec = ContainerSpec(name=f"simlab-privileged-probe-{uuid.uuid4().hex[:6]}", image="ubuntu_with_basic_net",
                         labels={}, privileged=True)
    container = engine.create(spec)
    try:
        engine.start(container, spec.name, privileged=True)
        return True
    except simlab_errors.EngineError:
        return False
    finally:
        engine.remove(container)


def test_privileged_is_run_or_refused_with_the_working_default(engine, tmp_path, lab_name, no_leftovers):
    allowed = engine_allows_privileged(engine)
    done = simlab("up", str(topology_file(tmp_path, TWO_HOSTS)), "--name", lab_name, "--privileged")
    try:
        assert (done.returncode == 0) == allowed, done.stderr
        if allowed:
            assert simlab("exec", lab_name, "a", "--", "ping", "-c1", "-W2", "10.0.0.2").returncode == 0
        else:
            assert done.returncode == 2
            assert "does not allow privileged containers" in done.stderr
            assert "NET_ADMIN, NET_RAW, SYS_ADMIN" in done.stderr
    finally:
        simlab("down", lab_name)


def test_simlab_in_a_container_with_only_the_api_socket(engine, tmp_path, lab_name, no_leftovers):
    """As on macOS: simlab runs where it has no netlink to the engine's kernel, only the API socket."""
    socket = "/var/run/docker.sock"
    if os.environ.get("DOCKER_HOST", f"unix://{socket}") != f"unix://{socket}" or not os.path.exists(socket):
        pytest.skip("needs the engine's socket at /var/run/docker.sock to mount it")
    (tmp_path / "two.yaml").write_text(TWO_HOSTS)
    script = (f"python3 -m simlab up /opt/lab/two.yaml --name {lab_name} && "
              f"python3 -m simlab exec {lab_name} a -- ping -c1 -W2 10.0.0.2 && "
              f"python3 -m simlab exec {lab_name} b -- ping -c1 -W2 10.0.0.1; "
              f"code=$?; python3 -m simlab down {lab_name}; exit $code")
    api = engine._client.api
    client = api.create_container(
        "ubuntu_with_basic_net", ["sh", "-c", script], environment={"PYTHONPATH": "/opt/site:/opt/src"},
        host_config=api.create_host_config(network_mode="none", binds=[f"{socket}:/var/run/docker.sock"]),
        labels={"simlab.test": "client"})["Id"]
    try:
        api.put_archive(client, "/opt", client_payload(tmp_path / "two.yaml"))
        api.start(client)
        code = api.wait(client, timeout=300)["StatusCode"]
        logs = api.logs(client).decode()
    finally:
        api.remove_container(client, force=True)
    assert code == 0, logs
    assert "1 received" in logs


def client_payload(topology: Path) -> bytes:
    """simlab's source and its installed dependencies, packed for the client container."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    skip = {"pip", "setuptools", "_pytest", "pytest", "jsonschema"}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for entry in site.iterdir():
            if entry.name.split("-")[0] not in skip and not entry.name.startswith("__editable__"):
                tar.add(entry, arcname=f"site/{entry.name}")
        for part in ("simlab", "scenarios", "images"):
            tar.add(ROOT / part, arcname=f"src/{part}")
        tar.add(topology, arcname="lab/two.yaml")
    return out.getvalue()


def test_a_failing_image_build_shows_the_failing_step(engine, tmp_path):
    broken = tmp_path / "images" / "ubuntu_with_basic_net"
    broken.mkdir(parents=True)
    (broken / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo about to fail && exit 3\n")
    before = engine._client.images.get("ubuntu_with_basic_net").id
    done = simlab("image", "build", "--base", "ubuntu_with_basic_net",
                  env={**os.environ, "SIMLAB_IMAGES": str(tmp_path / "images")})
    assert done.returncode == 2
    assert "building ubuntu_with_basic_net failed at Step 3/3 : RUN echo about to fail && exit 3" in done.stderr
    assert "returned a non-zero code: 3" in done.stderr
    assert engine._client.images.get("ubuntu_with_basic_net").id == before  # the good image is untouched


def test_shell_runs_bash_on_the_host(engine, tmp_path, lab_name, no_leftovers):
    path = topology_file(tmp_path, TWO_HOSTS)
    try:
        simlab("up", str(path), "--name", lab_name, check=True)
        simlab("exec", lab_name, "a", "--", "ip", "netns", "add", "red", check=True)
        done = simlab("shell", lab_name, "a", input="echo $BASH_VERSION; hostname; exit 7\n")
        assert done.returncode == 7 and done.stdout.splitlines()[1] == "a"
        inside = simlab("shell", lab_name, "a", "--ns", "red", input="ip -br link | wc -l\n")
        assert inside.returncode == 0 and inside.stdout.strip() == "1"  # only lo in red
    finally:
        simlab("down", lab_name)
