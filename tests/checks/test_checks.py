"""Ping outcome classification, on outputs recorded from real labs
(tests/data/ping/KIND[.REASON]-what.txt: the exit code on the first line, then the output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA
from simlab.checks import REASONS, Outcome, classify_ping, ping_command
from simlab.checks.ping import resolved_target

RECORDED = sorted((DATA / "ping").glob("*.txt"))


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_output_is_classified_by_its_kind_and_reason(path: Path) -> None:
    code, _, output = path.read_text().partition("\n")
    kind, reason = kind_of(path)
    got = classify_ping(int(code), output)
    assert (got.kind, got.reason) == (kind, reason)


def kind_of(path: Path) -> tuple[str, str]:
    """(kind, reason) from a name like unreachable.filtered-reject-admin or no-reply-lost."""
    if path.stem.startswith("no-reply"):
        return "no-reply", ""
    kind, _, reason = path.stem.split("-")[0].partition(".")
    return kind, reason


def test_every_kind_and_reason_is_recorded() -> None:
    kinds = {kind_of(p) for p in RECORDED}
    assert {k for k, _ in kinds} == {"reply", "no-reply", "unreachable", "error"}
    assert {r for _, r in kinds} - {""} == set(REASONS)


def test_icmp_error_names_the_router_that_sent_it() -> None:
    got = classify_ping(1, "PING 10.2.0.2 (10.2.0.2) 56(84) bytes of data.\nFrom 10.1.0.1 icmp_seq=1 Packet filtered\n")
    assert got == Outcome("unreachable", "filtered", "10.1.0.1")
    assert str(got) == "unreachable: filtered, from 10.1.0.1"
    assert got.meets("unreachable") and got.meets("unreachable", "filtered", "10.1.0.1")
    assert not got.meets("no-reply") and not got.meets("unreachable", "ttl")
    assert not got.meets("unreachable", peer="10.1.0.9")


def test_a_redirect_is_not_an_error() -> None:
    output = "From 10.1.0.1 icmp_seq=1 Redirect Host(New nexthop: 10.1.0.3)\n64 bytes from 10.2.0.2: icmp_seq=1 ttl=63\n"
    assert classify_ping(0, output) == Outcome("reply", peer="10.2.0.2")


def test_reply_needs_a_reply_line() -> None:
    assert classify_ping(0, "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n").kind == "error"


def test_ping_command_stops_at_first_reply_within_the_deadline() -> None:
    assert ping_command("8.8.8.8", 0.5) == "timeout --preserve-status -s INT 0.5 ping -n -c 1 -i 0.2 -w 1 8.8.8.8"


def test_ping_options() -> None:  # several probes: exactly that many leave (-W, not -w)
    assert ping_command("pc2", 2.5, count=3, ttl=1, source="eth1", size=1400) == (
        "timeout --preserve-status -s INT 2.5 ping -n -c 3 -i 0.2 -W 3 -t 1 -I eth1 -s 1400 -M do pc2")


def test_resolved_target_says_which_address_a_name_got() -> None:
    assert resolved_target("PING pc2 (10.0.0.2) 56(84) bytes of data.\n") == "pc2 (10.0.0.2)"
    assert resolved_target("PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n") == ""
