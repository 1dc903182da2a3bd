"""The pytest plugin, run by pytest itself (pytester): passing and failing lab tests,
readable ping failures, and --simlab-keep-failed."""

from __future__ import annotations

import pytest

from conftest import ROOT

pytest_plugins = ["pytester"]
PLUGIN = ("-p", "simlab.pytest_plugin")  # also where simlab is not installed (a checkout on PYTHONPATH)

PAIR = '''
import simlab

PAIR = (simlab.Builder("pair")
        .host("a", interfaces={"eth0": "10.0.0.1/24"})
        .host("b", interfaces={"eth0": "10.0.0.2/24"})
        .link("a:eth0", "b:eth0"))
'''


@pytest.fixture
def pytester_env(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return pytester


def test_the_example_tests_pass(engine, pytester_env, no_leftovers):
    pytester_env.makepyfile(test_example=(ROOT / "examples" / "test_gateway_nat.py").read_text())
    result = pytester_env.runpytest_subprocess(*PLUGIN, "-q")
    result.assert_outcomes(passed=3)


def test_a_failed_ping_check_says_expected_got_and_the_output(engine, pytester_env, lab_name, no_leftovers):
    pytester_env.makepyfile(test_fails=PAIR + f'''
def test_b_is_silent(simlab_lab):
    lab = simlab_lab(PAIR, name="{lab_name}")
    lab.check_ping("a", "10.0.0.2", expect="no-reply")
''')
    result = pytester_env.runpytest_subprocess(*PLUGIN, "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*CheckFailed: ping 10.0.0.2: expected no-reply, got reply",
        "*  a $ timeout --preserve-status -s INT 0.5 ping -n -c 1 -i 0.2 -w 1 10.0.0.2",
        "*  | 64 bytes from 10.0.0.2: icmp_seq=1*",
    ])
    assert "lab.check_ping(\"a\", \"10.0.0.2\", expect=\"no-reply\")" in result.stdout.str()  # the test's line
    assert "simlab: labs kept up" not in result.stdout.str()
    assert engine.containers({"simlab.lab": lab_name}) == []


def test_keep_failed_keeps_exactly_the_failed_lab(engine, pytester_env, lab_name, no_leftovers):
    from simlab.labs.lab import destroy_lab

    passed, failed, shared = f"{lab_name}-ok", f"{lab_name}-bad", f"{lab_name}-mod"
    pytester_env.makepyfile(test_keep=PAIR + f'''
import pytest


@pytest.fixture(scope="module")
def shared(simlab_lab_module):
    return simlab_lab_module(PAIR, name="{shared}")


def test_passes(simlab_lab):
    simlab_lab(PAIR, name="{passed}").check_ping("a", "10.0.0.2")


def test_fails(simlab_lab):
    simlab_lab(PAIR, name="{failed}").check_ping("a", "10.0.0.9")


def test_shared_passes(shared):
    shared.check_ping("b", "10.0.0.1")
''')
    try:
        result = pytester_env.runpytest_subprocess(*PLUGIN, "-q", "--simlab-keep-failed")
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines([
            "*simlab: labs kept up (--simlab-keep-failed)*",
            f"kept lab {failed} of test_keep.py::test_fails (hosts: a, b): simlab shell {failed} a; "
            f"remove it with: simlab down {failed}",
        ])
        up = {c.labels["simlab.lab"] for c in engine.containers({"simlab.lab": None})}
        assert failed in up and passed not in up and shared not in up
    finally:
        for name in (passed, failed, shared):
            destroy_lab(engine, name)


def test_keep_failed_keeps_a_shared_lab_whose_test_failed(engine, pytester_env, lab_name, no_leftovers):
    from simlab.labs.lab import destroy_lab

    pytester_env.makepyfile(test_shared=PAIR + f'''
import pytest


@pytest.fixture(scope="module")
def shared(simlab_lab_module):
    return simlab_lab_module(PAIR, name="{lab_name}")


def test_fails(shared):
    shared.check_ping("a", "10.0.0.2", expect="unreachable")
''')
    try:
        result = pytester_env.runpytest_subprocess(*PLUGIN, "-q", "--simlab-keep-failed")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"kept lab {lab_name} of test_shared.py::test_fails*"])
        assert engine.containers({"simlab.lab": lab_name})
    finally:
        destroy_lab(engine, lab_name)
