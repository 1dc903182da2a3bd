"""Batches over several engines: two extra dockerds on this machine beside the main one.
Every engine takes scenarios; one that is killed mid-batch is given up and its scenarios run
again elsewhere; an unreachable one is skipped; engines are named by context or address."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, simlab
from extra_engines import ExtraEngine, lab_containers, sweep_dead_sessions
from simlab.engines import named as engines
from simlab.engines.client import Engine
from simlab.engines.endpoint import named_endpoint
from simlab.labs import readiness

PAIR = """name: {name}
hosts:
  a: {{interfaces: {{eth0: 10.0.0.1/24}}}}
  b: {{interfaces: {{eth0: 10.0.0.2/24}}}}
links: [[a:eth0, b:eth0]]
steps:
  - {{title: a reaches b, host: a, ping: 10.0.0.2}}
  - {{title: take some time, host: a, run: sleep {sleep}}}
  - {{title: b reaches a, host: b, ping: 10.0.0.1}}
"""


@pytest.fixture(scope="session")
def extra_engines(engine):
    sweep_dead_sessions()
    tag = os.getpid() % 100000  # two test sessions on one machine must not share an engine
    started = [ExtraEngine(f"sl{tag}a"), ExtraEngine(f"sl{tag}b")]
    try:
        for extra in started:
            extra.start()
        for extra in started:  # images copied from the main engine, as a batch does
            readiness.prepare(Engine.connect(named_endpoint(extra.url), extra.url), [engine])
        yield started
    finally:
        for extra in started:
            extra.stop()


def scenarios(folder, count: int, sleep: float = 0.2) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"pair-{i:02d}.yaml").write_text(PAIR.format(name=f"pair-{i:02d}", sleep=sleep))


def engine_args(extra_engines, default_slots: int = 2) -> list[str]:
    return ["--engine", f"default={default_slots}", *(arg for e in extra_engines for arg in ("--engine", f"{e.url}=2"))]


def test_a_batch_spreads_over_three_engines(engine, extra_engines, tmp_path, no_leftovers):
    scenarios(tmp_path / "many", 12)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    done = simlab("validate", str(tmp_path / "many"), *engine_args(extra_engines, 1), "--json", str(report),
                  "--junit", str(junit), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads(report.read_text())["results"]
    assert len(results) == 12 and all(r["passed"] for r in results)
    used = {r["engine"] for r in results}
    assert used == {"default", *(e.url for e in extra_engines)}, used
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert sorted(s.get("name") for s in suites) == [f"pair-{i:02d}" for i in range(12)]
    assert {s.get("hostname") for s in suites} == used
    assert "ENGINE" in done.stdout  # the summary table shows where each ran
    assert all(lab_containers(e) == [] for e in extra_engines)


ARTIFACTS = ROOT / "tests" / "artifacts"


def test_an_engine_killed_mid_batch_is_given_up_and_its_scenarios_run_elsewhere(engine, extra_engines, tmp_path,
                                                                                  no_leftovers):
    victim = extra_engines[1]
    scenarios(tmp_path / "slow", 8, sleep=4)
    report = tmp_path / "report.json"
    argv = [sys.executable, "-m", "simlab", "validate", str(tmp_path / "slow"), *engine_args(extra_engines),
            "--json", str(report)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(c["State"] == "running" and c["Labels"].get("simlab.role") == "host"
                      for c in _safe_containers(victim)):
            assert time.monotonic() < deadline and proc.poll() is None, "no lab ever ran on the victim"
            time.sleep(0.2)
        victim.kill()
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, out[-3000:] + err[-2000:]
    results = json.loads(report.read_text())["results"]
    assert len(results) == 8 and all(r["passed"] for r in results)
    retried = [r for r in results if r["retries"]]
    assert retried and all(victim.url in r["retries"][0] and r["engine"] != victim.url for r in retried)
    ARTIFACTS.mkdir(exist_ok=True)  # the retry report, kept for whoever reads the run
    (ARTIFACTS / "engine-fault-retries.txt").write_text("".join(
        f"{r['scenario']}: ran on {r['engine']}; {'; '.join(r['retries'])}\n" for r in retried))
    assert f"engine {victim.url} is given up" in out
    assert lab_containers(extra_engines[0]) == []
    # The victim comes back with what the batch left on it; `down --all --engine` removes it.
    victim.start()
    assert lab_containers(victim), "the killed engine should still hold the labs it was running"
    done = simlab("down", "--all", "--engine", victim.url)
    assert done.returncode == 0, done.stderr
    assert lab_containers(victim) == []


def _safe_containers(extra: ExtraEngine) -> list[dict]:
    try:
        return lab_containers(extra)
    except Exception:  # noqa: BLE001 - the engine is busy starting: ask again
        return []


CONFIG = {"vlan": "VLAN_8021Q", "vxlan": "VXLAN", "macvlan": "MACVLAN", "ipvlan": "IPVLAN", "dummy": "DUMMY",
          "gre": "NET_IPGRE", "bond": "BONDING", "wireguard": "WIREGUARD", "netem": "NET_SCH_NETEM"}


def kernel_features() -> dict[str, bool] | None:
    """What the probe must find, from this kernel's own config (built in: yes; not set: no);
    None where that cannot be told (no /proc/config.gz, or some are modules)."""
    import gzip

    try:
        config = gzip.decompress(open("/proc/config.gz", "rb").read()).decode()
    except OSError:
        return None
    built = {line.split("=")[0].removeprefix("CONFIG_") for line in config.splitlines() if line.endswith("=y")}
    if any(f"CONFIG_{option}=m" in config for option in CONFIG.values()):
        return None  # whether a container gets a module loaded is not in the config
    assert set(CONFIG) == set(readiness.FEATURES)
    return {feature: option in built for feature, option in CONFIG.items()}


def test_engines_reports_each_engine_and_skips_an_unreachable_one(engine, extra_engines, tmp_path, no_leftovers):
    dead = f"unix://{tmp_path}/nothing.sock"
    done = simlab("engines", "--engine", "default", "--engine", extra_engines[0].url, "--engine", dead, "--json")
    assert done.returncode == 0, done.stderr
    found = {s["name"]: s for s in json.loads(done.stdout)}
    assert found[dead]["reachable"] is False and "No Docker engine answers" in found[dead]["error"]
    for name in ("default", extra_engines[0].url):
        assert found[name]["reachable"] and found[name]["host_image"] and found[name]["veth_bridge"]
        assert found[name]["slots"] >= 2 and found[name]["cpus"] >= 1
        expected = kernel_features()  # the engines share this machine's kernel
        assert set(found[name]["kernel"]) == set(readiness.FEATURES)
        assert expected is None or found[name]["kernel"] == expected
    scenarios(tmp_path / "two", 2)
    done = simlab("validate", str(tmp_path / "two"), "--engine", dead, "--engine", extra_engines[0].url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"WARNING engine {dead} is skipped" in done.stdout
    assert simlab("engines", "--engine", dead).returncode == 2


def test_every_engine_unreachable_is_one_clear_error(tmp_path):
    scenarios(tmp_path / "two", 2)
    dead = [f"unix://{tmp_path}/a.sock", f"unix://{tmp_path}/b.sock"]
    done = simlab("validate", str(tmp_path / "two"), "--engine", dead[0], "--engine", dead[1])
    assert done.returncode == 2
    assert "no engine answers" in done.stdout and "Traceback" not in done.stderr


def write_context(config, name: str, host: str) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


def test_engine_by_context_name_and_by_address(engine, extra_engines, tmp_path, lab_name, no_leftovers):
    config = tmp_path / "docker-config"
    write_context(config, "second", extra_engines[0].url)
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    try:
        done = simlab("run", "netns-veth", "--engine", "second", "--name", lab_name, "--keep", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        listed = simlab("ls", "--json", "--engine", extra_engines[0].url, env=env)
        assert lab_name in [lab["lab"] for lab in json.loads(listed.stdout)]
        assert lab_name not in simlab("ls").stdout  # not on the default engine
        ran = simlab("exec", lab_name, "container-a", "--engine", "second", "--", "ip", "netns", "list", env=env)
        assert ran.returncode == 0 and "red" in ran.stdout
    finally:
        simlab("down", lab_name, "--engine", extra_engines[0].url)
    assert lab_containers(extra_engines[0]) == []


@pytest.mark.parametrize("args, message", [
    (["--engine", "no-such-context"], "no docker context named 'no-such-context'"),
    (["--engine", "tcp://127.0.0.1:notaport"], "is not a Docker engine address"),
    (["--engine", "default=0"], "must be a whole number from 1 to 64"),
    (["--engine", "default=two"], "must be a whole number from 1 to 64"),
    (["--engine", "default", "--engine", "default"], "is named twice"),
    (["--engine", "default", "--engine", "unix:///var/run/docker.sock"], "are the same engine"),
])
def test_bad_engine_names_are_one_line_before_anything_starts(tmp_path, args, message):
    scenarios(tmp_path / "one", 1)
    done = simlab("validate", str(tmp_path / "one"), *args, env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert done.stdout == ""


def test_engines_come_from_the_environment_and_the_config_file(tmp_path):
    assert engines.configured_specs(None, {"SIMLAB_ENGINES": "a=3, ssh://u@b", "HOME": str(tmp_path)}) == [
        engines.EngineSpec("a", 3), engines.EngineSpec("ssh://u@b", None)]
    config = tmp_path / "config.yaml"
    config.write_text("engines:\n  - ctx1\n  - {name: tcp://10.0.0.9:2376, slots: 6}\n")
    assert engines.configured_specs(None, {"SIMLAB_CONFIG": str(config)}) == [
        engines.EngineSpec("ctx1"), engines.EngineSpec("tcp://10.0.0.9:2376", 6)]
    assert engines.configured_specs(["x=2"], {"SIMLAB_ENGINES": "a"}) == [engines.EngineSpec("x", 2)]
    assert engines.configured_specs(None, {"HOME": str(tmp_path / "nowhere")}) == []


def test_an_engine_lost_mid_run_names_the_cause_and_the_lab_left(engine, extra_engines, tmp_path, lab_name,
                                                                 no_leftovers):
    victim = extra_engines[0]
    scenarios(tmp_path / "one", 1, sleep=30)
    argv = [sys.executable, "-m", "simlab", "run", str(tmp_path / "one" / "pair-00.yaml"), "--name", lab_name,
            "--engine", victim.url]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(c["State"] == "running" for c in _safe_containers(victim)):
            assert time.monotonic() < deadline and proc.poll() is None, "the lab never ran"
            time.sleep(0.2)
        time.sleep(2)  # into the sleep step
        victim.kill()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        if not victim.answers():
            victim.start()
    assert proc.returncode == 2, out + err
    error = next(line for line in out.splitlines() if "error:" in line)
    assert "The Docker engine failed" in error  # the cause comes first ...
    assert f"the lab {lab_name} is left on the engine" in error  # ... then what was left, and how to remove it
    assert f"`simlab down {lab_name}` removes it once the engine answers" in error
    assert simlab("down", lab_name, "--engine", victim.url).returncode == 0
    assert lab_containers(victim) == []
