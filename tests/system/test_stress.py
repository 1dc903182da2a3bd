"""Under load: many runs of one file at once, and a big validate batch. Zero hangs (every run
ends on its own within a generous bound), zero failures, zero leftovers. These are the
conditions in which the engine drops exec streams and containers start slowly."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import uuid

from conftest import ROOT, lab_containers, scenario_copy, simlab
from simlab.model.scenario import shipped_scenarios

ROUNDS = 8
AT_ONCE = 16
HANG = 300  # seconds: a run still going after this is taken as hung


def run_all(argvs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in argvs]
    done, hung = [], []
    for argv, proc in zip(argvs, procs):
        try:
            out, err = proc.communicate(timeout=HANG)
        except subprocess.TimeoutExpired:
            hung.append(argv)
            proc.send_signal(signal.SIGINT)  # let it clean up before the test fails
            out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    assert hung == [], f"{len(hung)} run(s) hung"
    return done


def test_rounds_of_concurrent_runs_of_one_file(engine, tmp_path, no_leftovers):
    name = f"s{uuid.uuid4().hex[:8]}"
    path = scenario_copy(tmp_path, "gateway-nat", name)
    argv = [sys.executable, "-m", "simlab", "run", str(path), "--json", "-"]
    labs: set[str] = set()
    for round_ in range(ROUNDS):
        runs = run_all([argv] * AT_ONCE)
        failed = [(r.returncode, r.stderr[-400:]) for r in runs if r.returncode != 0]
        assert failed == [], f"round {round_}: {len(failed)} of {AT_ONCE} failed: {failed[:3]}"
        labs |= {json.loads(r.stdout)["lab"] for r in runs}
        assert [c.name for c in engine.containers({"simlab.lab": None}) if c.labels["simlab.lab"] in labs] == []
    assert len(labs) >= AT_ONCE  # at once, no two runs shared a lab name


def test_validate_jobs_8_over_32_copies(engine, tmp_path, no_leftovers):
    folder = tmp_path / "many"
    folder.mkdir()
    shipped = shipped_scenarios()
    for i in range(32):
        source = shipped[i % len(shipped)]
        shutil.copy(source, folder / f"{source.stem}-{i}.yaml")
    report = tmp_path / "report.json"
    done = simlab("validate", str(folder), "--jobs", "8", "--json", str(report), timeout=HANG)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(report.read_text())["results"]
    assert len(results) == 32 and all(r["passed"] for r in results)
    assert all(lab_containers(engine, r["lab"]) == [] for r in results)
