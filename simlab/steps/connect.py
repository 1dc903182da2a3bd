"""``connect``: open a TCP connection, or send a UDP datagram, and classify the answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from simlab.checks.connect import classify_connect, connect_command, seen_as
from simlab.checks.outcome import expectation
from simlab.steps import probe
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import TARGET_RE, Fields

EXPECT = ("open", "refused", "no-reply", "unreachable")
PROTOS = ("tcp", "udp")


@dataclass
class ConnectStep(Step):
    """Open a TCP connection, or send a UDP datagram, to ``target`` ``port``."""

    KIND = "connect"
    target: str = ""
    port: int = 0
    proto: str = "tcp"
    expect: str = "open"
    deadline: float = probe.DEFAULT_DEADLINE["open"]
    reason: str | None = None
    peer: str | None = None
    appears_as: str | None = None  # the client address the serving end must see (after NAT)


class Connect(Kind):
    key = "connect"
    step = ConnectStep
    summary = "connect to HOST:PORT (tcp or udp); expect open, refused, no-reply or unreachable"
    schema = {"type": "string", "pattern": r"^\S+:[0-9]{1,5}$", "description": "HOST:PORT to connect to."}
    options = {
        "expect": {"enum": list(EXPECT)},
        **probe.OPTIONS,
        "proto": {"enum": list(PROTOS)},
        "appears_as": {"type": "string", "description": "The client address simlab's listener must see (after NAT)."},
    }
    evidence = True

    def parse(self, fields: Fields, common: dict[str, Any]) -> ConnectStep | None:
        target, port = host_port(fields.get("connect"))
        if target is None:
            fields.problem("connect", "connect takes HOST:PORT (an address or host name, and a port 1-65535)")
            return None
        expect = fields.expect("connect", EXPECT)
        proto = fields.get("proto", "tcp")
        if proto not in PROTOS:
            fields.problem("proto", f"proto is tcp or udp, not {proto!r}")
            proto = "tcp"
        deadline = fields.number("deadline", probe.DEFAULT_DEADLINE[expect], probe.DEADLINE_RANGE,
                                 probe.DEADLINE_USAGE, whole=False)
        local = expect == "refused" and fields.get("reason") == "local"  # the sender's kernel forged the reset
        return ConnectStep(**common, target=target, port=port, proto=proto, expect=expect, deadline=float(deadline),
                           reason="local" if local else fields.reason(expect), peer=fields.word("from"),
                           appears_as=fields.word("appears_as"))

    def commands(self, step: ConnectStep) -> list[str]:
        return [connect_command(step.target, step.port, step.proto, step.deadline)]

    def shown(self, step: ConnectStep) -> list[str]:
        target = f"[{step.target}]" if ":" in step.target else step.target  # an IPv6 address
        return [f"connect {step.proto} {target}:{step.port}"]

    def time_limit(self, step: ConnectStep, default: float = 0) -> float:
        return step.deadline + probe.SLACK

    def expected(self, step: ConnectStep) -> str:
        text = expectation(step.expect, step.reason, step.peer)
        return text + (f", seen as {step.appears_as}" if step.appears_as else "")

    def judge(self, step: ConnectStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        got, said = classify_connect(done.exit_code, done.output)
        client = seen_as(said)
        shown = replace(got, peer="") if got.peer == step.target else got
        text = str(shown) + (f", seen as {client}" if client else "")
        passed = got.meets(step.expect, step.reason, step.peer) and step.appears_as in (None, client)
        if got.kind == "refused" and got.reason != (step.reason or ""):  # the target's reset, or a forged one
            passed = False
        return Verdict(text, passed, done.output, {"reason": got.reason, "peer": got.peer, "seen_as": client,
                                                   "target": step.target})


def host_port(value: Any) -> tuple[str | None, int]:
    """("10.0.0.2", 80) from "10.0.0.2:80" (or "[fd00::2]:80"); (None, 0) if it is not that."""
    if not isinstance(value, str):
        return None, 0
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not TARGET_RE.fullmatch(host) or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None, 0
    return host, int(port)
