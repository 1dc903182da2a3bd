"""``ping``: a reachability check; ping a target and classify what came back."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from simlab.checks.outcome import Outcome, expectation
from simlab.checks.ping import classify_ping, ping_command, resolved_target
from simlab.steps import probe
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields

EXPECT = ("reply", "no-reply", "unreachable")
LOSS = re.compile(r"^(\d{1,3}(?:\.\d+)?)%?(?:\s*-\s*(\d{1,3}(?:\.\d+)?))?%$")


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
    replies: int | None = None  # exactly this many of ``count`` answered (a lossy path), instead of expect
    loss: tuple[float, float] | None = None  # the share of ``count`` lost, in percent: (low, high)


class Ping(Kind):
    key = "ping"
    step = PingStep
    summary = "ping an address or host; expect reply, no-reply or unreachable"
    schema = {"type": "string", "description": "Address or lab host name to ping."}
    options = {
        "expect": {"enum": list(EXPECT)},
        **probe.OPTIONS,
        "count": {"type": "integer", "minimum": 1, "maximum": 100,
                  "description": "Probes to send (all must be answered for 'reply'; some: partial)."},
        "replies": {"type": "integer", "minimum": 0, "maximum": 100,
                    "description": "Exactly this many of `count` probes answered (instead of expect)."},
        "loss": {"type": "string", "pattern": LOSS.pattern,
                 "description": "The share of `count` probes lost, like '50%' or '40-60%' (instead of expect)."},
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
        replies, loss = _loss(fields, int(count))
        return PingStep(**common, target=target, expect=expect, deadline=float(deadline),
                        reason=fields.reason(expect), peer=fields.word("from"), count=int(count), ttl=ttl,
                        source=fields.word("source"), size=size, replies=replies, loss=loss)

    def commands(self, step: PingStep) -> list[str]:
        return [ping_command(step.target, step.deadline, step.count, step.ttl, step.source, step.size)]

    def shown(self, step: PingStep) -> list[str]:
        options = "".join(f" {flag} {value}" for flag, value in (("-c", step.count if step.count > 1 else None),
                          ("-t", step.ttl), ("-I", step.source), ("-M do -s", step.size)) if value is not None)
        return [f"ping{options} {step.target}"]

    def time_limit(self, step: PingStep, default: float = 0) -> float:
        return step.deadline + probe.SLACK  # a probe bounds itself

    def expected(self, step: PingStep) -> str:
        if step.replies is not None:
            return f"{step.replies}/{step.count} replies"
        if step.loss is not None:
            low, high = step.loss
            return f"{low:g}%{f'-{high:g}%' if high != low else ''} of {step.count} lost"
        return expectation(step.expect, step.reason, step.peer)

    def judge(self, step: PingStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        got = classify_ping(done.exit_code, done.output, step.count)
        resolved = resolved_target(done.output)
        address = resolved.partition("(")[2].rstrip(")") if resolved else step.target
        shown = replace(got, peer="") if got.peer == address else got  # "reply from X" only when X is news
        details: dict[str, Any] = {"reason": got.reason, "peer": got.peer, "target": resolved or step.target}
        if resolved:  # say which address the name got
            details["shown"] = [f"{self.shown(step)[0].rpartition(' ')[0]} {resolved}"]
        if got.kind in ("reply", "partial", "no-reply"):
            details["replies"], details["loss"] = got.answered, round(100 * (1 - got.answered / step.count), 1)
        return Verdict(str(shown), _holds(step, got), done.output, details)


def _holds(step: PingStep, got: Outcome) -> bool:
    if got.kind not in ("reply", "partial", "no-reply"):
        return step.replies is None and step.loss is None and got.meets(step.expect, step.reason, step.peer)
    if step.replies is not None:
        return got.answered == step.replies
    if step.loss is not None:
        lost = 100 * (1 - got.answered / step.count)
        return step.loss[0] - 1e-9 <= lost <= step.loss[1] + 1e-9
    return got.meets(step.expect, step.reason, step.peer)


def _loss(fields: Fields, count: int) -> tuple[int | None, tuple[float, float] | None]:
    """``replies`` or ``loss``: how many of ``count`` probes a lossy path answers."""
    replies = fields.number("replies", None, (0, 100), "replies is how many probes are answered, from 0 to 100")
    if replies is not None and replies > count:
        fields.problem("replies", f"replies is how many of the {count} probes (count) are answered, at most {count}")
    loss, text = None, fields.get("loss")
    if text is not None:
        found = LOSS.match(str(text).strip()) if isinstance(text, str) else None
        low, high = (float(found.group(1)), float(found.group(2) or found.group(1))) if found else (-1.0, -1.0)
        if not found or not 0 <= low <= high <= 100:
            fields.problem("loss", "loss is the share of probes lost, like '50%' or '40-60%', from 0% to 100%")
        else:
            loss = (low, high)
    if (replies is not None or loss is not None) and ("expect" in fields or count < 2):
        fields.problem("replies" if replies is not None else "loss",
                       "replies and loss count the answers of several probes: give count (2 or more) and no expect")
    if replies is not None and loss is not None:
        fields.problem("loss", "give replies or loss, not both")
    return replies, loss
