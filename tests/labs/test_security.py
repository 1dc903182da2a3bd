"""Escape tests: hostile scenarios (tests/data/hostile/) try to act on the
engine host from a lab host, and must be blocked.

Each hostile file has one step that attacks and prints ``BLOCKED: why`` or
``ESCAPED: what``; where the attack would act on the engine host (release_agent,
core_pattern) its payload only creates a marker file there, and the marker is
the proof, whatever the step printed. The engine host must be this machine
(a local engine), or the markers could not be seen. Every run restores what
an escape could have changed: the marker and probe files, core_pattern.

Vectors that the default mode does not block really reach the engine host
when they run, so they run only when asked (SIMLAB_ESCAPES=1), to measure the
table in README's Security section; the detector is then shown to work.

Hardened mode (--untrusted) runs on a second dockerd with --userns-remap,
started for the session on its own socket, data-root, exec-root and bridge.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import DATA, simlab
from escapes import DEFAULT_BLOCKS, HOSTILE, RUN_ESCAPES, VECTORS, attack


@pytest.fixture
def local_engine():
    host = os.environ.get("DOCKER_HOST", "unix://")
    if not host.startswith("unix://") or os.geteuid() != 0:
        pytest.skip("escape tests need a local engine and root, to see the engine host's markers")


CAP_SYS_MODULE, CAP_MKNOD = 16, 27


@pytest.fixture(scope="module")
def default_host(engine) -> dict:
    """What the kernel holds about a default-mode host, read from this machine's /proc and
    cgroup files, never from anything the host prints: its effective capabilities and the
    block devices its devices cgroup lets it read."""
    if not os.environ.get("DOCKER_HOST", "unix://").startswith("unix://") or os.geteuid() != 0:
        pytest.skip("the facts of a host are read on the engine host: a local engine and root")
    name = f"facts-{uuid.uuid4().hex[:6]}"
    simlab("up", str(DATA / "mixed" / "passing.yaml"), "--name", name, check=True)
    try:
        host = next(c for c in engine.containers({"simlab.lab": name}) if c.labels.get("simlab.host") == "a")
        pid = engine.pid(host.id)
        status = Path(f"/proc/{pid}/status").read_text()
        devices = ""
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "devices" in controllers.split(","):
                devices = Path(f"/sys/fs/cgroup/devices{path}/devices.list").read_text()
        return {"cap_eff": int(re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M).group(1), 16),
                "devices": devices}
    finally:
        simlab("down", name)


def reads_block_device(devices_list: str, major: int, minor: int) -> bool:
    """Whether a devices cgroup's list (``b 8:0 r``, ``a *:* rwm``) lets its tasks read that block device."""
    for entry in devices_list.split("\n"):
        kind, _, rest = entry.partition(" ")
        number, _, access = rest.partition(" ")
        want_major, _, want_minor = number.partition(":")
        if kind in ("a", "b") and "r" in access and want_major in ("*", str(major)) and want_minor in ("*", str(minor)):
            return True
    return False


def kernels_reason(vector: str, facts: dict) -> str | None:
    """What the kernel must answer a default-mode host for ``vector``, from facts the host
    cannot forge; None where the facts say the attack could succeed."""
    if vector == "kernel-module":
        return None if facts["cap_eff"] >> CAP_SYS_MODULE & 1 else "Operation not permitted"
    if vector == "sysrq":
        return "no sysrq-trigger" if not Path("/proc/sysrq-trigger").exists() else "Read-only file system"
    if vector == "host-disk":
        disk = os.stat("/var/lib/docker" if Path("/var/lib/docker").exists() else "/").st_dev
        readable = reads_block_device(facts["devices"], os.major(disk), os.minor(disk))
        return None if readable or facts["cap_eff"] >> CAP_MKNOD & 1 else "Operation not permitted"
    return ""  # judged by its marker on this machine (release-agent, core-pattern, host-mount)


@pytest.mark.parametrize("vector", VECTORS)
def test_default_mode(engine, local_engine, default_host, vector, lab_name, no_leftovers, tmp_path):
    """A blocked vector is blocked for the reason the kernel must give, derived from the host's
    capabilities and devices cgroup as this machine sees them (an attack script that fails for
    a reason of its own would be caught), or proven by a marker file on this machine."""
    blocks = vector in DEFAULT_BLOCKS
    if not blocks and not RUN_ESCAPES:
        pytest.skip("escapes in default mode (README, Security); SIMLAB_ESCAPES=1 runs it")
    outcome = attack(vector, tmp_path, lab_name)
    if blocks:
        assert (outcome.verdict, outcome.marker) == ("BLOCKED", False), outcome
        reason = kernels_reason(vector, default_host)
        assert reason is not None, f"{vector}: the host's capabilities or devices cgroup would let it through"
        assert reason in outcome.why, (vector, reason, outcome.why)
    else:
        assert outcome.verdict == "ESCAPED", outcome
        assert outcome.marker or vector not in ("release-agent", "core-pattern"), outcome


def test_hostile_files_are_valid_scenarios():
    done = simlab("check", str(HOSTILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(VECTORS) == {"release-agent", "core-pattern", "sysrq", "host-disk", "host-mount", "kernel-module"}


def test_default_host_keeps_what_the_tutorial_does_not_need(engine, lab_name, no_leftovers):
    simlab("up", str(DATA / "mixed" / "passing.yaml"), "--name", lab_name, check=True)
    try:
        done = simlab("exec", lab_name, "a", "--", "sh", "-c",
                      "grep Seccomp: /proc/self/status; sysctl -w net.ipv4.ip_forward=1;"
                      "ip netns add x && ip netns exec x sysctl -w net.ipv4.ip_forward=1;"
                      "echo core >/proc/sys/kernel/core_pattern; mknod /tmp/null c 1 3;"
                      "readlink /proc/self/ns/cgroup")
    finally:
        simlab("down", lab_name, check=True)
    out = done.stdout + done.stderr
    assert "Seccomp:\t2" in out  # the engine's default profile
    assert out.count("net.ipv4.ip_forward = 1") == 2  # in the host and in a namespace
    assert "/proc/sys/kernel/core_pattern: Read-only file system" in out
    assert "mknod: /tmp/null: Operation not permitted" in out
    own = re.search(r"^cgroup:\[\d+\]$", out, re.M)  # the readlink ran: a failing one proves nothing
    assert own, out
    if os.environ.get("DOCKER_HOST", "unix://").startswith("unix://"):  # a local engine: this machine's namespaces
        assert own.group(0) != os.readlink("/proc/self/ns/cgroup")


def test_host_options_by_mode():
    from simlab.labs.security import host_options

    default = host_options(False)
    assert default.cap_add == ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"] and "MKNOD" in default.cap_drop
    assert default.cgroupns == "private" and "seccomp=unconfined" not in default.security_opt
    assert "/proc/sys/kernel" in default.readonly_paths and "/proc/sys/net" not in default.readonly_paths
    assert host_options(True).privileged and host_options(True).readonly_paths is None


@pytest.mark.parametrize("options, expected", [
    (["name=seccomp,profile=default"], None),
    (["name=seccomp,profile=default", "name=userns"], "userns"),
    (["name=seccomp,profile=default", "name=rootless", "name=cgroupns"], "rootless"),
    ([], None),
])
def test_isolation_read_from_docker_info(options, expected):
    from simlab.labs.security import isolation

    assert isolation(options) == expected


# --untrusted: what it refuses, before any container

PRIVILEGED = """\
name: asks-too-much
image: alpine
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
    privileged: true
  b: {interfaces: {eth0: 10.0.0.2/24}, image: busybox}
links: [[a:eth0, b:eth0]]
steps:
  - {title: a reaches b, host: a, ping: 10.0.0.2}
"""


def test_untrusted_refuses_privileged_hosts_and_other_images(tmp_path):
    file = tmp_path / "asks-too-much.yaml"
    file.write_text(PRIVILEGED)
    done = simlab("run", str(file), "--untrusted", env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"simlab: error: {file}:2:8: image: --untrusted runs only the image ubuntu_with_basic_net",
        f"{file}:6:17: hosts.a.privileged: --untrusted refuses privileged hosts",
        f"{file}:7:47: hosts.b.image: --untrusted runs only the image ubuntu_with_basic_net"]
    assert done.stdout == ""


def test_untrusted_validate_reports_refused_files_like_bad_ones(tmp_path):
    (tmp_path / "asks-too-much.yaml").write_text(PRIVILEGED)
    done = simlab("validate", str(tmp_path), "--untrusted", env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert done.returncode == 2, done.stdout + done.stderr
    file = tmp_path / "asks-too-much.yaml"
    assert f"ERROR   {file}:2:8: image: --untrusted runs only the image ubuntu_with_basic_net" in done.stdout
    assert f"{file}:6:17: hosts.a.privileged: --untrusted refuses privileged hosts" in done.stdout


def test_untrusted_refuses_an_engine_that_does_not_isolate_root(engine, no_leftovers, tmp_path):
    if engine.security_options() and "name=userns" in engine.security_options():
        pytest.skip("the test engine isolates root")
    for args in (["run", "gateway-nat"], ["validate"]):
        done = simlab(*args, "--untrusted")
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.splitlines() == [
            "simlab: error: this engine runs containers as the engine host's root; --untrusted needs an engine "
            "that maps container root to an unprivileged user: start dockerd with --userns-remap=default "
            "(Debian: apt-get install uidmap) or use rootless Docker or rootless Podman (docs/engines.md)"], done.stderr
        assert done.stdout == ""
    assert simlab("run", "gateway-nat", "--untrusted", "--privileged").stderr == (
        "simlab: error: --untrusted and --privileged exclude each other\n")


# --untrusted on a user-namespace-remapped engine

@pytest.fixture(scope="session")
def userns_engine(engine) -> dict[str, str]:
    """simlab's isolated engine (`simlab engine start --isolated`: a dockerd with
    --userns-remap=default on a socket, data root and bridge of its own, the images copied in
    from the test engine); the environment to reach it. Stopped and removed afterwards,
    unless it ran before the tests."""
    if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("docker"):
        pytest.skip("the isolated engine needs root, dockerd and the docker CLI")
    from simlab.engines import isolated

    ran_before = isolated.status().running
    try:
        done = simlab("engine", "start", "--isolated")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "container root is remapped (userns)" in done.stdout
        yield {**os.environ, "DOCKER_HOST": isolated.ADDRESS}
    finally:
        if not ran_before:
            stopped = simlab("engine", "stop", "--isolated")
            assert stopped.returncode == 0 and not Path(f"/sys/class/net/{isolated.BRIDGE}").exists()
            assert simlab("engine", "status", "--isolated").returncode == 1


def test_untrusted_finds_the_isolated_engine_by_itself(userns_engine, userns_leftovers):
    env = {key: value for key, value in os.environ.items() if key != "DOCKER_HOST"}
    done = simlab("run", "gateway-nat", "--untrusted", env=env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def userns_leftovers(userns_engine):
    """Assert that a test leaves no container on the remapped engine (but the engine's fabric
    helper, which ends itself once idle)."""
    yield
    left = subprocess.run(["docker", "ps", "-a", "--format", '{{.Names}} {{.Label "simlab.fabric"}}'],
                          env=userns_engine, capture_output=True, text=True).stdout
    assert [line for line in left.splitlines() if len(line.split()) == 1] == [], \
        "containers left behind on the remapped engine"


def test_untrusted_runs_every_shipped_scenario_on_a_remapped_engine(userns_engine, userns_leftovers):
    done = simlab("validate", "--untrusted", env=userns_engine)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") >= 8  # a line per scenario as it ends, and the table


@pytest.mark.parametrize("vector", VECTORS)
def test_untrusted_blocks(userns_engine, userns_leftovers, local_engine, vector, lab_name, tmp_path):
    outcome = attack(vector, tmp_path, lab_name, "--untrusted", env=userns_engine)
    assert (outcome.verdict, outcome.marker) == ("BLOCKED", False), outcome


def test_the_kernels_reasons_come_from_the_facts(tmp_path):
    """The expected answers change with the facts: a host that could load modules or read the
    disk has no reason to be blocked, so its 'BLOCKED' would fail test_default_mode."""
    none = {"cap_eff": 0, "devices": "c 1:3 rwm\nb *:* m\n"}
    assert kernels_reason("kernel-module", none) == "Operation not permitted"
    assert kernels_reason("kernel-module", {**none, "cap_eff": 1 << CAP_SYS_MODULE}) is None
    assert kernels_reason("host-disk", none) == "Operation not permitted"
    assert kernels_reason("host-disk", {**none, "cap_eff": 1 << CAP_MKNOD}) is None
    assert kernels_reason("host-disk", {**none, "devices": "a *:* rwm\n"}) is None
    assert not reads_block_device("b *:* m\nc 1:3 rwm\n", 254, 0)
    assert reads_block_device("b 254:0 r\n", 254, 0) and not reads_block_device("b 254:1 r\n", 254, 0)


def test_a_default_host_holds_neither_sys_module_nor_mknod(default_host):
    assert not default_host["cap_eff"] >> CAP_SYS_MODULE & 1 and not default_host["cap_eff"] >> CAP_MKNOD & 1
    assert default_host["devices"], "no devices cgroup found for the host: the host-disk fact cannot be read"
