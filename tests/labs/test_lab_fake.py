"""What a lab start does with its engine, on a fake one (tests/fake_engine.py): a start that
fails removes exactly what it made, a taken name is retried, removal goes by run id. The same
paths run on the real engine in test_lab.py and test_reliability.py."""

from __future__ import annotations

import pytest

import simlab
from fake_engine import FakeEngine
from simlab.errors import EngineError, InputError
from simlab.labs.lab import LABEL_RUN, destroy_lab, list_labs, remove_run, start_lab

TRIO = (simlab.Builder("trio")
        .host("a", interfaces={"eth0": "10.0.0.1/24"})
        .host("b", interfaces={"eth0": "10.0.0.2/24"})
        .host("c", interfaces={"eth0": "10.0.0.3/24"})
        .segment("lan", "a:eth0", "b:eth0", "c:eth0")).topology()


def hosts_of(engine: FakeEngine, lab: str) -> set[str]:
    return {c.name for c in engine.containers({"simlab.lab": lab})}


def test_a_lab_starts_on_the_seam_alone():
    engine = FakeEngine()
    lab = start_lab(engine, TRIO, "t1")
    assert set(lab.containers) == {"a", "b", "c"}
    assert hosts_of(engine, "t1") == {"simlab-t1-a", "simlab-t1-b", "simlab-t1-c", "simlab-t1--sw-lan"}
    assert [summary.name for summary in list_labs(engine)] == ["t1"]
    assert destroy_lab(engine, "t1") == 4 and hosts_of(engine, "t1") == set()


@pytest.mark.parametrize("failing", [{"fail_start": {"simlab-t2-b"}}, {"fail_create": {"simlab-t2--sw-lan"}}])
def test_a_failed_start_removes_everything_it_made(failing):
    engine = FakeEngine(**failing)
    events = []
    with pytest.raises(EngineError, match="simlab-t2-"):
        start_lab(engine, TRIO, "t2", emit=events.append)
    assert hosts_of(engine, "t2") == set()
    assert "lab.rollback" in [event.kind for event in events]


def test_a_rollback_leaves_another_run_of_the_same_lab_alone():
    engine = FakeEngine()
    start_lab(engine, TRIO, "t3")
    other = {c.labels[LABEL_RUN] for c in engine.containers({"simlab.lab": "t3"})}
    remove_run(engine, "not-that-run", "t3")
    assert len(hosts_of(engine, "t3")) == 4
    remove_run(engine, other.pop(), "t3")
    assert hosts_of(engine, "t3") == set()


def test_a_taken_name_is_an_error_or_another_name():
    engine = FakeEngine()
    start_lab(engine, TRIO, "t4")
    with pytest.raises(InputError, match="a lab named t4 is already up"):
        start_lab(engine, TRIO, "t4")
    second = start_lab(engine, TRIO, "t4", exact=False)
    assert second.name.startswith("t4-") and len(hosts_of(engine, second.name)) == 4


def test_a_name_claimed_at_the_same_moment_is_retried():
    engine = FakeEngine(taken_once={"simlab-t5-b"})  # another run creates the same name first
    lab = start_lab(engine, TRIO, "t5", exact=False)
    assert lab.name.startswith("t5-") and hosts_of(engine, "t5") == set()
    assert len(hosts_of(engine, lab.name)) == 4
