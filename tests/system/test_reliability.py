"""No hang, no leftover, no traceback: engine streams that never close, a fabric helper that
dies, signals of every kind, closed pipes, concurrent runs of one file, steps that block."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from functools import partial

from conftest import DATA, ROOT, interrupt_when, lab_containers, scenario_copy, simlab
from simlab.engines.client import ContainerInfo, ContainerSpec
from simlab.errors import EngineError
from simlab.labs.fabric import (
    HELPER_MAX_AGE,
    INFRA_IMAGE,
    LABEL_HELPER,
    HelperGone,
    cancel_plan,
    remove_stale_helpers,
    run_plan,
    start_helper,
    wire,
)
from simlab.labs.lab import LABEL_LAB, LABEL_ROLE, container_name

PASSING = DATA / "mixed" / "passing.yaml"


def finishes_within(seconds: float, fn) -> object:
    """Run ``fn`` in a thread; fail the test (instead of hanging it) if it takes over ``seconds``."""
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds}s: it would have hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def fails_within(seconds: float, fn, kind: type[BaseException]) -> BaseException:
    """The error ``fn`` raises, within ``seconds``; the test fails if it passes or hangs."""
    try:
        finishes_within(seconds, fn)
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__}")


def sleeper(engine, lab_name: str) -> str:
    spec = ContainerSpec(container_name(lab_name, "sleeper"), INFRA_IMAGE, {LABEL_LAB: lab_name, LABEL_ROLE: "host"})
    container = engine.create(spec)
    engine.start(container, spec.name)
    return container


def test_an_exec_ends_when_its_container_is_removed(engine, lab_name, no_leftovers):
    container = sleeper(engine, lab_name)
    removal = threading.Timer(1.0, engine.remove, (container,))
    removal.start()
    result = finishes_within(20, lambda: engine.exec(container, ["sleep", "600"]))
    assert result.exit_code != 0
    removal.join()


def test_an_exec_whose_background_child_holds_the_stream_still_ends(engine, lab_name, no_leftovers):
    container = sleeper(engine, lab_name)
    try:
        result = finishes_within(20, lambda: engine.exec(container, ["sh", "-c", "sleep 600 & echo started; exit 4"]))
        assert (result.exit_code, result.output) == (4, "started\n")
    finally:
        engine.remove(container)


def test_a_silent_exec_gives_up_at_its_idle_limit(engine, lab_name, no_leftovers):
    container = sleeper(engine, lab_name)
    try:
        silent = fails_within(20, lambda: engine.exec(container, ["sleep", "600"], timeout=1), EngineError)
        assert "gave no output for 1 s" in str(silent)
    finally:
        engine.remove(container)


def a_plan(**parts) -> dict:
    return {"id": uuid.uuid4().hex[:12], "limit": 30, "stall": 30, "bridges": [], "veths": [], "hosts": [], **parts}


def helpers(engine) -> list:
    return [c for c in engine.containers({LABEL_ROLE: "fabric"}) if c.labels.get(LABEL_HELPER)]


def own_helper(engine, monkeypatch, idle: str = "3") -> str:
    """A helper of this test's own, with a short idle time (SIMLAB_HELPER_IDLE)."""
    monkeypatch.setenv("SIMLAB_HELPER_IDLE", idle)
    return start_helper(engine, {LABEL_ROLE: "fabric"})


def test_a_helper_killed_during_the_handoff_fails_fast(engine, lab_name, no_leftovers, monkeypatch):
    switch = sleeper(engine, lab_name)
    helper = own_helper(engine, monkeypatch)
    # Thousands of bridges keep the helper busy for seconds: it dies in the middle.
    plan = a_plan(bridges=[{"container": switch, "name": f"b{i}"} for i in range(3000)])
    removal = threading.Timer(0.5, engine.remove, (helper,))
    removal.start()
    try:
        assert "the fabric helper" in str(fails_within(30, lambda: run_plan(engine, helper, plan), HelperGone))
    finally:
        removal.join()
        engine.remove(switch)


def test_a_helper_gone_before_the_handoff_is_replaced(engine, lab_name, no_leftovers, monkeypatch):
    switch = sleeper(engine, lab_name)
    helper = own_helper(engine, monkeypatch)
    engine.remove(helper)
    try:
        plan = a_plan(bridges=[{"container": switch, "name": "br0"}])
        used, pids = finishes_within(30, lambda: wire(engine, helper, plan, partial(own_helper, engine, monkeypatch)))
        assert used != helper and pids == {switch: engine.pid(switch)}
        assert "br0" in engine.exec(switch, ["ip", "-br", "link"]).output
    finally:
        engine.remove(switch)
    deadline = time.monotonic() + 20
    while any(c.id == used for c in helpers(engine)):  # idle for 3 s, the helper ends itself
        assert time.monotonic() < deadline, "the helper did not end itself once idle"
        time.sleep(0.2)


def test_a_helper_wires_a_plan_whose_containers_start_after_it_came(engine, lab_name, no_leftovers, monkeypatch):
    """The plan names containers that are only created: the helper finds each one's process
    as it starts and wires it then, and answers with their PIDs."""
    labels = {LABEL_LAB: lab_name, LABEL_ROLE: "host"}
    a, b = (engine.create(ContainerSpec(container_name(lab_name, n), INFRA_IMAGE, labels)) for n in ("a", "b"))
    helper = own_helper(engine, monkeypatch)
    plan = a_plan(veths=[{"a": a, "a_host": "a", "a_name": "eth0", "a_master": None,
                          "b": b, "b_host": "b", "b_name": "eth0"}],
                  hosts=[{"host": "a", "container": a, "up": ["eth0"], "addresses": [["eth0", "10.9.0.1/30"]],
                          "routes": []},
                         {"host": "b", "container": b, "up": ["eth0"], "addresses": [["eth0", "10.9.0.2/30"]],
                          "routes": []}])
    try:
        wiring = threading.Thread(target=lambda: plan.update(pids=run_plan(engine, helper, plan)), daemon=True)
        wiring.start()
        time.sleep(1)  # the helper holds the plan and waits for the containers' processes
        assert wiring.is_alive()
        engine.start(a, "a")
        engine.start(b, "b")
        wiring.join(30)
        assert plan["pids"] == {a: engine.pid(a), b: engine.pid(b)}
        assert engine.exec(a, ["ping", "-c1", "-W2", "10.9.0.2"]).exit_code == 0
    finally:
        engine.remove(a)
        engine.remove(b)


def test_a_plan_whose_containers_never_start_fails_and_a_cancelled_one_ends(engine, lab_name, no_leftovers,
                                                                          monkeypatch):
    never = engine.create(ContainerSpec(container_name(lab_name, "never"), INFRA_IMAGE,
                                        {LABEL_LAB: lab_name, LABEL_ROLE: "host"}))
    helper = own_helper(engine, monkeypatch)
    host = {"host": "never", "container": never, "up": [], "addresses": [], "routes": []}
    try:
        started = time.monotonic()
        stalled = fails_within(30, lambda: run_plan(engine, helper, a_plan(stall=2, hosts=[host])), EngineError)
        assert "never did not start: none came up for 2 s" in str(stalled)
        assert time.monotonic() - started < 10
        plan = a_plan(hosts=[host])
        threading.Timer(1, cancel_plan, (engine, helper, plan)).start()
        assert "cancelled" in str(fails_within(15, lambda: run_plan(engine, helper, plan), EngineError))
    finally:
        engine.remove(never)


def test_concurrent_plans_share_one_helper(engine, lab_name, no_leftovers, monkeypatch):
    switches = [sleeper(engine, f"{lab_name}{i}") for i in range(4)]
    helper = own_helper(engine, monkeypatch)
    plans = [a_plan(bridges=[{"container": s, "name": "br0"}]) for s in switches]
    try:
        results: list = []
        threads = [threading.Thread(target=lambda p=p: results.append(run_plan(engine, helper, p))) for p in plans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(pid for r in results for pid in r.values()) == sorted(engine.pid(s) for s in switches)
    finally:
        for switch in switches:
            engine.remove(switch)


def test_stale_helpers_are_removed_and_young_ones_kept():
    removed = []

    class Engine:
        def remove(self, container_id):
            removed.append(container_id)
    now = 10_000.0
    found = [ContainerInfo("old", "h1", {}, "created", now - HELPER_MAX_AGE - 1),
             ContainerInfo("young", "h2", {}, "created", now - 5),
             ContainerInfo("serving", "h3", {}, "running", now - HELPER_MAX_AGE - 1)]
    remove_stale_helpers(Engine(), found, now)
    assert removed == ["old"]


def test_the_helper_of_a_killed_simlab_ends_by_itself(engine, tmp_path, lab_name, no_leftovers):
    for old in helpers(engine):  # this test's simlab starts a helper of its own, idle for 3 s
        engine.remove(old.id)
    env = {**os.environ, "SIMLAB_HELPER_IDLE": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "simlab", "up", str(PASSING), "--name", lab_name], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(c.state == "running" for c in helpers(engine)):
            assert time.monotonic() < deadline and proc.poll() is None, "the helper never ran"
            time.sleep(0.02)
        proc.kill()  # kill -9: simlab cannot clean up
        proc.wait(10)
        # idle 3 s after the plan; a plan whose containers stopped coming up fails after its stall (60 s)
        deadline = time.monotonic() + 90
        while helpers(engine):
            assert time.monotonic() < deadline, "the fabric helper outlived its simlab"
            time.sleep(0.5)
    finally:
        proc.kill()
        simlab("down", lab_name)


def test_a_closed_pipe_never_skips_cleanup(engine, lab_name, no_leftovers):
    command = f"{sys.executable} -m simlab run {PASSING} --name {lab_name} | head -2"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.returncode == 0, done.stderr  # the run itself passed: a closed pipe is not a failure
    assert lab_containers(engine, lab_name) == []


def test_a_full_disk_on_stdout_never_skips_cleanup(engine, lab_name, no_leftovers):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "simlab", "run", str(PASSING), "--name", lab_name], cwd=ROOT,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    # The run passed, but what it printed is lost: not a word CI can trust (a closed pipe is the reader's choice).
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == "simlab: error: cannot write to standard output: No space left on device"
    assert lab_containers(engine, lab_name) == []


def test_hangup_and_quit_clean_up_as_ctrl_c_does(engine, lab_name, no_leftovers):
    for signum in (signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM):
        name = f"{lab_name}-{signum}"
        done = interrupt_when(["run", str(PASSING), "--name", name, "--step"],
                              lambda name=name: len(lab_containers(engine, name)) >= 2, "the lab", signum=signum)
        assert done.returncode == 130, (signum, done.stderr)
        assert "Traceback" not in done.stderr
        assert lab_containers(engine, name) == [], f"signal {signum} left the lab"


def test_a_second_ctrl_c_during_removal_still_removes_everything(engine, lab_name, no_leftovers):
    """Two Ctrl-C while the lab is being removed (an impatient learner): the removal goes on."""
    proc = subprocess.Popen([sys.executable, "-m", "simlab", "run", str(PASSING), "--name", lab_name], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:  # the run prints "removing lab NAME" as its removal begins
        seen.append(line)
        if line.strip().startswith("removing lab"):
            assert len(lab_containers(engine, lab_name)) >= 2  # still there: the removal has just begun
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    assert any("removing lab" in line for line in seen), "".join(seen)
    assert "Traceback" not in err, err
    assert lab_containers(engine, lab_name) == [], "a second Ctrl-C cut the removal short"


def handlers_installed(pid: int) -> bool:
    """Whether simlab's entry point has taken SIGHUP (Python itself never catches it)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGHUP - 1)))


def test_ctrl_c_at_any_moment_of_a_start_is_clean(engine, lab_name, no_leftovers):
    """From the moment simlab's entry point runs: during imports, argument parsing, the
    engine connection, the parallel start of the containers, the wiring."""
    for i, delay in enumerate((0.0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.2)):
        name = f"{lab_name}-{i}"
        proc = subprocess.Popen([sys.executable, "-m", "simlab", "run", str(PASSING), "--name", name], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not handlers_installed(proc.pid) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert proc.returncode in (0, 130), (delay, proc.returncode, err)  # 0: it had finished
        assert lab_containers(engine, name) == [], f"Ctrl-C after {delay}s left containers"


def test_concurrent_runs_of_one_file_all_pass(engine, tmp_path, no_leftovers):
    name = f"t{uuid.uuid4().hex[:8]}"
    path = scenario_copy(tmp_path, "netns-veth", name)
    argv = [sys.executable, "-m", "simlab", "run", str(path), "--json", "-"]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outcomes = [proc.communicate(timeout=240) for proc in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in outcomes]
    labs = [json.loads(out)["lab"] for out, _ in outcomes]
    assert len(set(labs)) == 4 and name in labs


def test_the_same_explicit_name_twice_at_once(engine, tmp_path, lab_name, no_leftovers):
    argv = [sys.executable, "-m", "simlab", "run", str(PASSING), "--name", lab_name]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outcomes = [proc.communicate(timeout=120) for proc in procs]
    codes = sorted(p.returncode for p in procs)
    errors = "".join(out + err for out, err in outcomes)
    # Either one run got the name and the other was told, or they ran one after the other.
    assert codes in ([0, 2], [0, 0]), errors
    if codes == [0, 2]:
        assert "pass another --name" in errors


BLOCKING = """
hosts:
  a: {}
steps:
  - title: a server left in the background does not hold the step open
    host: a
    run: sleep 600 &
  - title: a command that blocks is stopped at its timeout
    host: a
    run: sleep 600
    timeout: 1
  - title: never runs
    host: a
    run: echo never
"""


def test_a_blocking_step_is_stopped_at_its_timeout(engine, tmp_path, lab_name, no_leftovers):
    path = tmp_path / "blocking.yaml"
    path.write_text(BLOCKING)
    done = simlab("run", str(path), "--name", lab_name, "--json", "-", timeout=60)
    assert done.returncode == 1, done.stderr
    steps = json.loads(done.stdout)["steps"]
    assert steps[0]["passed"]
    assert steps[1]["got"] == "timed out: `sleep 600` was stopped after 1 s (the step's timeout)"
    assert steps[2]["skipped"]


def test_run_timeout_stops_the_whole_run(engine, tmp_path, lab_name, no_leftovers):
    path = tmp_path / "slow.yaml"
    path.write_text("hosts:\n  a: {}\nsteps:\n  - {title: slow, host: a, run: sleep 600, timeout: 900}\n")
    done = simlab("run", str(path), "--name", lab_name, "--timeout", "3", "--json", "-", timeout=60)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["stopped"] == "timed out after 3s" and result["error"] is None
    assert lab_containers(engine, lab_name) == []


def test_engine_lost_mid_run_names_the_cause_and_the_lab_left(tmp_path):
    """Unit-level: the message leads with the cause and says how to remove the lab."""
    from simlab.results import ScenarioResult
    from simlab.runs.runner import _remove_lab

    class DeadEngine:
        def containers(self, labels):
            raise EngineError("The Docker engine failed listing containers: connection refused")
    result = ScenarioResult("s", "f.yaml", "lab1", error="The Docker engine failed running sh: connection reset")
    _remove_lab(DeadEngine(), "run1", result, lambda event: None, announce=True)
    assert result.error.startswith("The Docker engine failed running sh: connection reset; the lab lab1 is left")
    assert "`simlab down lab1` removes it once the engine answers" in result.error
