"""The escape vectors of the security tests (tests/data/hostile/), shared by the tests of
the default and hardened modes (labs/test_security.py) and of Podman (engines/test_podman.py):
run one hostile scenario, and undo whatever it reached on the engine host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

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
    try:
        probe.touch()
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
