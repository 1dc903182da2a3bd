"""Podman as an engine: rootful, and rootless as hardened mode without root.

Unit tests read engine kinds from recorded answers. Engine tests start a rootful and a
rootless Podman service of their own (tests/podman_engines.py; podman installed with apt
where missing), copy the host image in from the test engine with `simlab image build
--copy-from`, run every shipped scenario on both (with --untrusted on the rootless one)
and the escape tests of test_security.py against the rootless one, marker files on this
machine being the proof.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import simlab
from escapes import CORE_PATTERN, HOSTILE, VECTORS, Outcome, _disarm_hierarchy
from podman_engines import PodmanService, install_reason
from simlab.engines.kind import EngineKind, detect
from simlab.engines.limits import fitting_ulimits, hard_limits
from simlab.engines.podman import readonly_as_security_opt

DOCKER_VERSION = {"Version": "20.10.24", "Components": [{"Name": "Engine", "Version": "20.10.24"}]}
PODMAN_VERSION = {"Version": "4.3.1", "Components": [{"Name": "Podman Engine", "Version": "4.3.1"},
                                                     {"Name": "Conmon", "Version": "2.1.6"}]}
SECCOMP = ["name=seccomp,profile=default"]


@pytest.mark.parametrize("version, options, libpod, kind", [
    (DOCKER_VERSION, SECCOMP, None, EngineKind("docker")),
    (DOCKER_VERSION, [*SECCOMP, "name=userns"], None, EngineKind("docker", userns_remap=True)),
    (DOCKER_VERSION, [*SECCOMP, "name=rootless", "name=cgroupns"], None, EngineKind("docker", rootless=True)),
    (PODMAN_VERSION, SECCOMP, {"host": {"security": {"rootless": False}}}, EngineKind("podman")),
    # Podman's Docker-compatible /info says nothing of rootless: only its own API does
    (PODMAN_VERSION, SECCOMP, {"host": {"security": {"rootless": True}}}, EngineKind("podman", rootless=True)),
])
def test_engine_kind(version, options, libpod, kind):
    assert detect(version, options, libpod) == kind


def test_what_each_kind_means_for_untrusted():
    assert EngineKind("podman", rootless=True).isolation == "rootless"
    assert EngineKind("docker", userns_remap=True).describe() == "docker, rootful, userns-remapped"
    assert EngineKind("podman").isolation is None
    assert EngineKind("podman").untrusted_meaning().startswith("--untrusted refused")
    assert EngineKind("podman", rootless=True).untrusted_meaning().startswith("--untrusted accepted")


LIMITS = """\
Limit                     Soft Limit           Hard Limit           Units
Max processes             32768                32768                processes
Max open files            1024                 20000                files
Max locked memory         unlimited            unlimited            bytes
"""


def test_ulimits_fit_the_service_hard_limits():
    assert hard_limits(LIMITS) == {"nofile": 20000, "nproc": 32768}
    assert fitting_ulimits({"nofile": 20000, "nproc": 1 << 30}) == [
        {"Name": "nofile", "Soft": 20000, "Hard": 20000}, {"Name": "nproc", "Soft": 1 << 20, "Hard": 1 << 20}]


def test_rlimit_failure_says_what_to_set():
    from simlab.engines.client import _engine_error

    reason = Exception("runc create failed: error setting rlimits for ready process: error setting rlimit type 7")
    message = str(_engine_error("starting h", reason))
    assert "LimitNOFILE=" in message and "default_ulimits" in message


def test_readonly_paths_said_the_podman_way():
    from simlab.labs.security import HOST_READONLY_PATHS

    options = readonly_as_security_opt(HOST_READONLY_PATHS)
    assert options[0] == "unmask=/proc/asound:/proc/sys"
    assert options[1].startswith("mask=/proc/sys/abi:") and "/proc/sys/kernel" in options[1]
    assert "/proc/sys/net" not in options[1]


# real Podman services

@pytest.fixture(scope="session")
def podman_services(engine) -> Iterator[dict[str, PodmanService]]:
    """A rootful and a rootless Podman service, started and given the host image side by side."""
    if os.geteuid() != 0:
        pytest.skip("Podman services of the tests' own (and a test user) need root")
    started = time.monotonic()
    if reason := install_reason():
        pytest.skip(reason)
    print(f"podman installed or found in {time.monotonic() - started:.1f}s")
    services = {"rootful": PodmanService(f"pm-rootful-{os.getpid()}"),
                "rootless": PodmanService(f"pm-rootless-{os.getpid()}", user=f"pm{os.getpid()}")}
    with ThreadPoolExecutor(2) as pool:
        try:
            list(pool.map(_ready, services.values()))
            yield services
        finally:
            list(pool.map(PodmanService.stop, services.values()))


def _ready(service: PodmanService) -> None:
    started = time.monotonic()
    service.start()
    print(f"{service.name}: service up in {time.monotonic() - started:.1f}s")
    donor = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    simlab("image", "build", "--copy-from", donor, env=service.env(), check=True)
    print(f"{service.name}: host image copied in, ready after {time.monotonic() - started:.1f}s")


@pytest.fixture
def rootful_podman(podman_services) -> PodmanService:
    return podman_services["rootful"]


@pytest.fixture
def rootless_podman(podman_services) -> PodmanService:
    return podman_services["rootless"]


def _no_labs_left(service: PodmanService) -> None:
    left = [name for name in service.containers() if not name.startswith("simlab-fabric")]
    assert left == [], f"containers left behind on {service.name}: {left}"


def test_rootful_podman_runs_every_shipped_scenario(rootful_podman):
    env = rootful_podman.env()
    shown = simlab("engines", env=env, check=True).stdout
    assert "podman 4." in shown and "(rootful)" in shown and "--untrusted refused" in shown, shown
    done = simlab("validate", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") >= 12  # a line per scenario as it ends, and the table
    refused = simlab("run", "gateway-nat", "--untrusted", env=env)
    assert refused.returncode == 2 and "rootless Podman" in refused.stderr, refused.stderr
    _no_labs_left(rootful_podman)


def test_rootless_podman_runs_every_shipped_scenario_untrusted(rootless_podman):
    env = rootless_podman.env()
    shown = simlab("engines", env=env, check=True).stdout
    assert "(rootless)" in shown and "--untrusted accepted" in shown, shown
    done = simlab("validate", "--untrusted", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") >= 12
    one = simlab("run", "gateway-nat", "--untrusted", env=env)  # DOCKER_HOST's engine, not any other
    assert one.returncode == 0 and "16 passed" in one.stdout, one.stdout + one.stderr
    _no_labs_left(rootless_podman)


def test_rootless_podman_blocks_every_escape(rootless_podman, tmp_path):
    """Every hostile file of test_security.py, in one --untrusted batch: each must say BLOCKED,
    and no marker may appear on this machine."""
    outcomes = attack_all(tmp_path, rootless_podman.env())
    assert set(outcomes) == set(VECTORS)
    escaped = {vector: outcome for vector, outcome in outcomes.items() if (outcome.verdict, outcome.marker) != ("BLOCKED", False)}
    assert escaped == {}, escaped
    _no_labs_left(rootless_podman)


def attack_all(tmp_path: Path, env: dict[str, str]) -> dict[str, Outcome]:
    """Run every hostile scenario at once (`simlab validate --untrusted`), then undo whatever
    they reached on this machine; each vector's verdict and whether its marker appeared."""
    ids = {vector: uuid.uuid4().hex[:12] for vector in VECTORS}
    markers = {vector: Path(f"/tmp/simlab-escape-{run_id}") for vector, run_id in ids.items()}
    probes = [Path(f"/tmp/simlab-probe-{run_id}") for run_id in ids.values()]
    for vector, run_id in ids.items():
        text = (HOSTILE / f"{vector}.yaml").read_text()
        (tmp_path / f"{vector}.yaml").write_text(text.replace("@MARKER@", str(markers[vector]))
                                                 .replace("@PROBE@", f"/tmp/simlab-probe-{run_id}").replace("@ID@", run_id))
    core_pattern = CORE_PATTERN.read_text()
    try:
        for probe in probes:
            probe.touch()
        done = simlab("validate", str(tmp_path), "--untrusted", "--json", "-", env=env)
    finally:
        if CORE_PATTERN.read_text() != core_pattern:
            CORE_PATTERN.write_text(core_pattern)
        escaped = {}
        for vector, run_id in ids.items():
            _disarm_hierarchy(run_id)
            escaped[vector] = markers[vector].exists()
            markers[vector].unlink(missing_ok=True)
        for probe in probes:
            probe.unlink(missing_ok=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    outcomes = {}
    for result in json.loads(done.stdout)["results"]:
        vector = Path(result["file"]).stem
        output = result["steps"][0]["output"]
        verdicts = re.findall(r"^(BLOCKED|ESCAPED): (.*)$", output, re.M)
        assert verdicts, output
        outcomes[vector] = Outcome(verdicts[-1][0], verdicts[-1][1], escaped[vector])
        print(f"{vector}: {verdicts[-1][0]} marker={escaped[vector]}: {verdicts[-1][1][:160]}")
    return outcomes
