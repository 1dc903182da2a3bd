"""Ping outcome classification, on outputs recorded from real labs
(tests/data/ping/KIND-*.txt: the exit code on the first line, then the output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlab.checks import classify_ping, ping_command

from conftest import DATA

RECORDED = sorted((DATA / "ping").glob("*.txt"))


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_output_is_classified_by_its_kind(path: Path) -> None:
    code, _, output = path.read_text().partition("\n")
    assert classify_ping(int(code), output) == kind_of(path)


def kind_of(path: Path) -> str:
    return next(k for k in ("no-reply", "reply", "unreachable", "error") if path.stem.startswith(k))


def test_every_kind_is_recorded() -> None:
    assert {kind_of(p) for p in RECORDED} == {"reply", "no-reply", "unreachable", "error"}


def test_reply_needs_a_reply_line() -> None:
    assert classify_ping(0, "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n") == "error"


def test_ping_command_stops_at_first_reply_within_the_deadline() -> None:
    assert ping_command("8.8.8.8", 0.5) == "timeout --preserve-status -s INT 0.5 ping -n -c 1 -i 0.2 -w 1 8.8.8.8"
