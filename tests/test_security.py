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
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, simlab

HOSTILE = DATA / "hostile"
VECTORS = sorted(p.stem for p in HOSTILE.glob("*.yaml"))
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
# What the default mode blocks (README, Security); the rest escape in default mode.
DEFAULT_BLOCKS = {"host-disk", "host-mount", "kernel-module", "sysrq"}
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
        escaped = marker.exists()
        marker.unlink(missing_ok=True)
        probe.unlink(missing_ok=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    output = json.loads(done.stdout)["steps"][0]["output"]
    verdicts = re.findall(r"^(BLOCKED|ESCAPED): (.*)$", output, re.M)
    assert verdicts, output
    print(f"{vector}: {verdicts[-1][0]} marker={escaped}: {verdicts[-1][1][:200]}")
    return Outcome(verdicts[-1][0], verdicts[-1][1], escaped)


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
