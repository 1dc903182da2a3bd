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
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, simlab

HOSTILE = DATA / "hostile"
VECTORS = sorted(p.stem for p in HOSTILE.glob("*.yaml"))
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
# What the default mode blocks (README, Security); the rest escape in default mode.
DEFAULT_BLOCKS = {"release-agent", "host-disk", "host-mount", "kernel-module", "sysrq"}
RUN_ESCAPES = os.environ.get("SIMLAB_ESCAPES") == "1"


@dataclass
class Outcome:
    verdict: str  # BLOCKED or ESCAPED, as the attacking step saw it
    why: str
    marker: bool  # the payload ran on the engine host


def attack(vector: str, tmp_path: Path, lab_name: str, *args: str, env: dict[str, str] | None = None) -> Outcome:
    """Run one hostile scenario and undo whatever it reached on the engine host."""
    run_id = uuid.uuid4().hex[:12]
    marker, probe = Path(f"/tmp/simlab-escape-{run_id}"), Path(f"/tmp/simlab-probe-{run_id}")
    text = (HOSTILE / f"{vector}.yaml").read_text()
    file = tmp_path / f"{vector}.yaml"
    file.write_text(text.replace("@MARKER@", str(marker)).replace("@PROBE@", str(probe)).replace("@ID@", run_id))
    core_pattern = CORE_PATTERN.read_text()
    probe.touch()
    try:
        done = simlab("run", str(file), "--name", lab_name, "--json", "-", *args, env=env)
    finally:
        if CORE_PATTERN.read_text() != core_pattern:
            CORE_PATTERN.write_text(core_pattern)
        _disarm_hierarchy(run_id)
        escaped = marker.exists()
        marker.unlink(missing_ok=True)
        probe.unlink(missing_ok=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    output = json.loads(done.stdout)["steps"][0]["output"]
    verdicts = re.findall(r"^(BLOCKED|ESCAPED): (.*)$", output, re.M)
    assert verdicts, output
    print(f"{vector}: {verdicts[-1][0]} marker={escaped}: {verdicts[-1][1][:200]}")
    return Outcome(verdicts[-1][0], verdicts[-1][1], escaped)


def _disarm_hierarchy(run_id: str) -> None:
    """Empty the release_agent of a cgroup hierarchy the attack made: the kernel
    drops an unmounted hierarchy only once nothing refers to it."""
    name = f"name=simlab-{run_id}"
    if name not in Path("/proc/self/cgroup").read_text():
        return
    mount = Path(f"/tmp/simlab-cg-{run_id}")
    mount.mkdir()
    try:
        if subprocess.run(["mount", "-t", "cgroup", "-o", f"none,{name}", "cgroup", str(mount)]).returncode == 0:
            (mount / "release_agent").write_text("\n")
            subprocess.run(["umount", str(mount)], check=True)
    finally:
        mount.rmdir()


@pytest.fixture
def local_engine():
    host = os.environ.get("DOCKER_HOST", "unix://")
    if not host.startswith("unix://") or os.geteuid() != 0:
        pytest.skip("escape tests need a local engine and root, to see the engine host's markers")


@pytest.mark.parametrize("vector", VECTORS)
def test_default_mode(engine, local_engine, vector, lab_name, no_leftovers, tmp_path):
    blocks = vector in DEFAULT_BLOCKS
    if not blocks and not RUN_ESCAPES:
        pytest.skip("escapes in default mode (README, Security); SIMLAB_ESCAPES=1 runs it")
    outcome = attack(vector, tmp_path, lab_name)
    if blocks:
        assert (outcome.verdict, outcome.marker) == ("BLOCKED", False), outcome
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
    assert os.readlink("/proc/self/ns/cgroup") not in out or os.environ.get("DOCKER_HOST", "unix://")[:7] != "unix://"


def test_host_options_by_mode():
    from simlab.security import host_options

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
    from simlab.security import isolation

    assert isolation(options) == expected
