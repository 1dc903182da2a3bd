"""``ping``: a reachability check; ping a target and classify what came back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from simlab.checks.outcome import expectation
from simlab.checks.ping import classify_ping, ping_command, resolved_target
from simlab.steps import probe
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields

EXPECT = ("reply", "no-reply", "unreachable")


@dataclass
class PingStep(Step):
    """A reachability check: ping ``target`` and classify what came back."""

    KIND = "ping"
    target: str = ""
    expect: str = "reply"
    deadline: float = probe.DEFAULT_DEADLINE["reply"]
    reason: str | None = None  # narrows "unreachable": one of checks.REASONS
    peer: str | None = None  # `from:`: the address that must answer (or send the ICMP error)
    count: int = 1
    ttl: int | None = None
    source: str | None = None  # address or interface to send from
    size: int | None = None  # payload bytes, sent with don't-fragment


class Ping(Kind):
    key = "ping"
    step = PingStep
    summary = "ping an address or host; expect reply, no-reply or unreachable"
    schema = {"type": "string", "description": "Address or lab host name to ping."}
    options = {
        "expect": {"enum": list(EXPECT)},
        **probe.OPTIONS,
        "count": {"type": "integer", "minimum": 1, "maximum": 100,
                  "description": "Probes to send (all must be answered for 'reply')."},
        "ttl": {"type": "integer", "minimum": 1, "maximum": 255},
        "source": {"type": "string", "description": "Address or interface to send from."},
        "size": {"type": "integer", "minimum": 0, "maximum": 65507,
                 "description": "Payload bytes, sent with don't-fragment."},
    }
    evidence = True

    def parse(self, fields: Fields, common: dict[str, Any]) -> PingStep | None:
        target = fields.target("ping", "ping takes one address or host name to ping")
        if target is None:
            return None
        expect = fields.expect("ping", EXPECT)
        count = fields.number("count", 1, (1, 100), "count is how many probes to send, from 1 to 100")
        deadline = fields.number("deadline", probe.DEFAULT_DEADLINE[expect] + 0.2 * (count - 1),
                                 probe.DEADLINE_RANGE, probe.DEADLINE_USAGE, whole=False)
        ttl = fields.number("ttl", None, (1, 255), "ttl is a hop limit, from 1 to 255")
        size = fields.number("size", None, (0, 65507), "size is payload bytes, from 0 to 65507")
        return PingStep(**common, target=target, expect=expect, deadline=float(deadline),
                        reason=fields.reason(expect), peer=fields.word("from"), count=int(count), ttl=ttl,
                        source=fields.word("source"), size=size)

    def commands(self, step: PingStep) -> list[str]:
        return [ping_command(step.target, step.deadline, step.count, step.ttl, step.source, step.size)]

    def shown(self, step: PingStep) -> list[str]:
        options = "".join(f" {flag} {value}" for flag, value in (("-c", step.count if step.count > 1 else None),
                          ("-t", step.ttl), ("-I", step.source), ("-M do -s", step.size)) if value is not None)
        return [f"ping{options} {step.target}"]

    def time_limit(self, step: PingStep, default: float = 0) -> float:
        return step.deadline + probe.SLACK  # a probe bounds itself

    def expected(self, step: PingStep) -> str:
        return expectation(step.expect, step.reason, step.peer)

    def judge(self, step: PingStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        got = classify_ping(done.exit_code, done.output)
        resolved = resolved_target(done.output)
        address = resolved.partition("(")[2].rstrip(")") if resolved else step.target
        shown = replace(got, peer="") if got.peer == address else got  # "reply from X" only when X is news
        details: dict[str, Any] = {"reason": got.reason, "peer": got.peer, "target": resolved or step.target}
        if resolved:  # say which address the name got
            details["shown"] = [f"{self.shown(step)[0].rpartition(' ')[0]} {resolved}"]
        return Verdict(str(shown), got.meets(step.expect, step.reason, step.peer), done.output, details)
