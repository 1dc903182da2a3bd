"""Shared test setup. Tests marked ``engine`` need a Docker engine (``make
test`` starts one where none answers) and the image ubuntu_with_basic_net."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def engine():
    from simlab.engines.client import Engine
    from simlab.labs.images import ensure_image

    engine = Engine.connect()
    ensure_image(engine)
    return engine


@pytest.fixture
def lab_name() -> str:
    """A lab name no other test uses, so tests can run side by side."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def no_leftovers(engine):
    """Assert that the test leaves no simlab container and no new host interface behind."""
    before = set(os.listdir("/sys/class/net"))
    labs_before = {c.id for c in engine.containers({"simlab.lab": None})}
    yield
    left = [c.name for c in engine.containers({"simlab.lab": None}) if c.id not in labs_before]
    assert left == [], f"containers left behind: {left}"
    assert set(os.listdir("/sys/class/net")) - before == set(), "new interfaces in the host namespace"


def simlab(*args: str, check: bool = False, timeout: float = 300, input: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the simlab CLI as a user would, capturing its output. Past ``timeout`` it gets a
    Ctrl-C (so that it cleans up) and the test fails."""
    argv = [sys.executable, "-m", "simlab", *args]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        raise AssertionError(f"simlab {' '.join(args)} took over {timeout}s:\n{out}\n{err}") from None
    done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if check and done.returncode != 0:
        raise AssertionError(f"simlab {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def running(engine, container_id: str, command: str) -> bool:
    """Whether ``command`` runs in the container (False while the container is not up yet)."""
    from simlab.errors import EngineError

    try:
        return engine.exec(container_id, ["pgrep", "-f", command]).exit_code == 0
    except EngineError:
        return False


def interrupt_when(args: list[str], ready: Callable[[], bool], what: str,
                   signum: int = signal.SIGINT) -> subprocess.CompletedProcess:
    """Start simlab with ``args``, press Ctrl-C (or send ``signum``) once ``ready()`` holds,
    and return how it ended."""
    argv = [sys.executable, "-m", "simlab", *args]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert time.monotonic() < deadline and proc.poll() is None, f"simlab never got to {what}"
            time.sleep(0.1)
    finally:
        proc.send_signal(signum)  # also when the wait failed: let simlab clean up
        out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def scenario_copy(tmp_path: Path, shipped: str, name: str) -> Path:
    """A copy of a shipped scenario under another ``name`` (so that its labs are this test's own)."""
    from simlab.model.scenario import shipped_scenarios_dir

    text = (shipped_scenarios_dir() / f"{shipped}.yaml").read_text()
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + "\n".join(line for line in text.splitlines() if not line.startswith("name:")))
    return path


def run_steps(file: Path, lab: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """`simlab run FILE` that must pass: how it ended, and its steps from the JSON report, by title."""
    import json

    report = tmp_path / "r.json"
    done = simlab("run", str(file), "--name", lab, "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    return done, {s["title"]: s for s in json.loads(report.read_text())["steps"]}


def lab_containers(engine, lab: str) -> list:
    return engine.containers({"simlab.lab": lab})


def pytest_collection_modifyitems(items):
    for item in items:
        if "engine" in item.fixturenames:
            item.add_marker(pytest.mark.engine)
