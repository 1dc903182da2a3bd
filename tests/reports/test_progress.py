"""Progress of `up` and `down` for a big lab: the core's events (on the fake engine), one
updating line on a terminal and a plain line per phase in a log; then a 40-host chain on the
real engine, `up` in a terminal (script(1) gives it one) and `down` into a log."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import pytest

import labgen
from conftest import ROOT, simlab
from fake_engine import FakeEngine
from simlab.events import Event, Tally
from simlab.labs.lab import destroy_lab, start_lab
from simlab.model.scenario import load_scenario
from simlab.reports.progress import CLEAR
from simlab.reports.terminal import TerminalProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def chain(tmp_path, hosts: int):
    return load_scenario(labgen.write(tmp_path, labgen.chain(hosts), f"chain{hosts}")).topology


def tallies(events: list[Event], kind: str) -> list[tuple[int, int]]:
    return [(e.payload.done, e.payload.total) for e in events if e.kind == kind]


@pytest.fixture
def forty(tmp_path) -> list[Event]:
    """The events of starting and removing a 40-host chain on the fake engine."""
    engine, events = FakeEngine(), []
    start_lab(engine, chain(tmp_path, 40), "big", emit=events.append)
    assert destroy_lab(engine, "big", events.append) == 40
    return events


def test_a_big_lab_reports_each_container_created_started_and_removed(forty):
    counted = [(i, 40) for i in range(1, 41)]
    assert tallies(forty, "lab.node_created") == counted
    assert tallies(forty, "lab.node_started") == counted
    assert tallies(forty, "lab.removing") == [(0, 40)] and tallies(forty, "lab.node_removed") == counted
    kinds = [e.kind for e in forty if not e.kind.startswith("lab.node_")]
    assert kinds == ["lab.wiring", "lab.wired", "lab.up", "lab.removing"]
    assert forty[[e.kind for e in forty].index("lab.wired")].message == "wired 39 link(s), 0 segment(s)"


def test_a_log_gets_a_plain_line_per_phase(forty):
    out = io.StringIO()
    progress = TerminalProgress(out)
    for event in forty:
        progress(event)
    lines = out.getvalue().splitlines()
    assert lines[0] == "  created 40 container(s)"  # the starts begin as the creates go: they can end before
    assert set(lines[1:3]) == {"  wiring 39 link(s), 0 segment(s)", "  started 40 container(s)"}
    assert lines[3] == "  wired 39 link(s), 0 segment(s)" and lines[4].startswith("  lab big is up: 40 host(s)")
    assert lines[5:] == ["  removing 40 container(s) of big"]
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_line_that_updates_itself(forty, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    progress = TerminalProgress(out)
    for event in forty:
        progress(event)
    text = out.getvalue()
    assert f"{CLEAR}  lab big: 1/40 created" in text and ", 40/40 started" in text
    assert f"{CLEAR}  lab big: 40/40 created, 40/40 started, wired" in text
    assert f"{CLEAR}  lab big: 25/40 removed" in text
    assert text.count("\n") == 1  # the one line that stays: the lab is up
    assert text.index("\n") > text.index(f"{CLEAR}  lab big is up: 40 host(s)") and text.endswith(CLEAR)


def test_a_small_lab_in_a_log_says_what_it_said_before(tmp_path):
    engine, out = FakeEngine(), io.StringIO()
    start_lab(engine, chain(tmp_path, 3), "small", emit=TerminalProgress(out))
    destroy_lab(engine, "small", TerminalProgress(out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "  wiring 2 link(s), 0 segment(s)" and lines[1].startswith("  lab small is up")
    assert len(lines) == 2


def test_progress_payloads_are_tallies():
    out = Terminal()
    TerminalProgress(out)(Event("lab.node_created", "created x", "l", Tally(1, 2)))
    assert out.getvalue() == f"{CLEAR}  lab l: 1/2 created"


@pytest.mark.engine
@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a terminal")
def test_up_and_down_of_a_40_host_chain_on_the_engine(engine, lab_name, no_leftovers, tmp_path):
    file = labgen.write(tmp_path, labgen.chain(40), "chain40")
    name = f"pics-{lab_name[1:]}"
    command = f"{sys.executable} -m simlab up {file} --name {name}"
    try:
        shown = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=ROOT, capture_output=True,
                               timeout=300, stdin=subprocess.DEVNULL)
        screen = shown.stdout.decode()  # as bytes: text mode would turn each \r into a new line
        assert shown.returncode == 0, screen
        assert f"{CLEAR}  lab {name}: 40/40 created, 40/40 started, wired" in screen
        assert f"lab {name} is up: 40 host(s)" in screen
    finally:
        down = simlab("down", name)
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == [f"  removing 40 container(s) of {name}",
                                        f"removed 40 container(s) of lab {name}"]
