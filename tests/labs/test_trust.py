"""One trust setting on every entry point (CLI, API, validate, pytest plugin), judged on the
parsed topology that will run, before any container starts (issue 18, hardened mode)."""

from __future__ import annotations

import os

import pytest

import simlab
from conftest import simlab as simlab_cli
from fake_engine import FakeEngine
from simlab.errors import EngineError, InputError
from simlab.labs.security import Trust, check_trust

ASKS = """\
name: asks-root
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
    privileged: true
  b: {interfaces: {eth0: 10.0.0.2/24}}
links: [[a:eth0, b:eth0]]
"""
PRIVILEGED_PAIR = (simlab.Builder("asks")
                   .host("a", interfaces={"eth0": "10.0.0.1/24"}, privileged=True)
                   .host("b", interfaces={"eth0": "10.0.0.2/24"}, image="busybox")
                   .link("a:eth0", "b:eth0"))
pytest_plugins = ["pytester"]
NO_ENGINE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}


def test_a_privileged_host_needs_the_callers_consent(tmp_path):
    file = tmp_path / "asks-root.yaml"
    file.write_text(ASKS)
    topology = simlab.load(file).topology
    with pytest.raises(InputError) as refused:
        check_trust(topology, Trust(), str(file))
    assert str(refused.value) == (f"{file}:5:17: hosts.a.privileged: a privileged host is root on the engine host: "
                                  f"pass --allow-privileged (allow_privileged=True from Python) if you trust this file")
    check_trust(topology, Trust(allow_privileged=True), str(file))
    check_trust(topology, Trust(privileged=True), str(file))
    with pytest.raises(InputError, match="--untrusted refuses privileged hosts"):
        check_trust(topology, Trust(untrusted=True, allow_privileged=True), str(file))


def test_the_decision_rests_on_what_will_run_not_on_the_file(tmp_path):
    """A file swapped after loading changes the lines of the message, never the verdict."""
    file = tmp_path / "asks-root.yaml"
    file.write_text(ASKS)
    topology = simlab.load(file).topology
    file.write_text("hosts: {a: {}}\n")
    with pytest.raises(InputError, match="hosts.a.privileged: a privileged host is root"):
        check_trust(topology, Trust(), str(file))


def test_the_api_refuses_before_any_container():
    engine = FakeEngine()
    with pytest.raises(InputError, match="asks built in code: hosts.a.privileged: a privileged host"):
        simlab.start(PRIVILEGED_PAIR, engine=engine)
    with pytest.raises(InputError) as untrusted:
        simlab.run(PRIVILEGED_PAIR.scenario(), engine=engine, untrusted=True)
    assert str(untrusted.value).splitlines() == [
        "asks built in code: hosts.a.privileged: --untrusted refuses privileged hosts",
        "asks built in code: hosts.b.image: --untrusted runs only the image ubuntu_with_basic_net"]
    assert engine.calls == []


def test_untrusted_needs_an_isolating_engine_on_every_entry_point():
    plain = (simlab.Builder("plain").host("a", interfaces={"eth0": "10.0.0.1/24"})
             .host("b", interfaces={"eth0": "10.0.0.2/24"}).link("a:eth0", "b:eth0"))
    engine = FakeEngine()  # its security options name no isolation
    with pytest.raises(EngineError, match="runs containers as the engine host's root"):
        simlab.start(plain, engine=engine, untrusted=True)
    result = simlab.run(plain.scenario(), engine=engine, untrusted=True)
    assert "runs containers as the engine host's root" in result.error
    assert engine.names() == set()
    lab = simlab.start(plain, engine=engine, allow_privileged=True)  # the default mode still starts
    assert len(lab.hosts) == 2


def test_validate_and_up_refuse_a_privileged_file_without_consent(tmp_path):
    file = tmp_path / "asks-root.yaml"
    file.write_text(ASKS)
    done = simlab_cli("up", str(file), env=NO_ENGINE)
    assert done.returncode == 2 and "hosts.a.privileged: a privileged host is root" in done.stderr
    (tmp_path / "asks-root.yaml").write_text(ASKS + "steps: [{title: t, host: a, ping: 10.0.0.2}]\n")
    done = simlab_cli("validate", str(tmp_path), env=NO_ENGINE)
    assert done.returncode == 2 and f"ERROR   {file}:5:17: hosts.a.privileged: a privileged host" in done.stdout
    done = simlab_cli("up", str(file), "--allow-privileged", env=NO_ENGINE)
    assert done.returncode == 2 and "privileged" not in done.stderr  # past the check: no engine answers


def test_the_pytest_plugin_takes_hardened_mode(engine, pytester, monkeypatch, no_leftovers):
    if "name=userns" in engine.security_options():
        pytest.skip("the test engine isolates root")
    from conftest import ROOT

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_hardened='''
import simlab

def test_pair(simlab_lab):
    simlab_lab(simlab.Builder("pair").host("a", interfaces={"eth0": "10.0.0.1/24"})
               .host("b", interfaces={"eth0": "10.0.0.2/24"}).link("a:eth0", "b:eth0"))
''')
    result = pytester.runpytest_subprocess("-p", "simlab.pytest_plugin", "-q", "--simlab-untrusted")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*runs containers as the engine host's root*"])
