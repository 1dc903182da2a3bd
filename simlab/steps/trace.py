"""``trace``: the hops toward a target, found with TTL-limited probes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simlab.checks.trace import classify_trace, trace_command
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields, is_address

SECONDS_PER_HOP = 1.5  # a second's wait per silent hop, and some


@dataclass
class TraceStep(Step):
    """The hops toward ``target``, found with TTL-limited probes."""

    KIND = "trace"
    target: str = ""
    path: list[str] = field(default_factory=list)
    whole: bool = False  # the path is exactly ``path``, not only its start
    max_hops: int = 8


class Trace(Kind):
    key = "trace"
    step = TraceStep
    summary = "the hops toward a destination; expect a path"
    schema = {"type": "string", "description": "Destination to trace (TTL-limited probes)."}
    options = {
        "path": {"type": "array", "minItems": 1, "items": {"type": "string"},
                 "description": "Hop addresses ('*' a silent hop): how the path starts."},
        "whole": {"type": "boolean", "description": "The path is exactly `path`."},
        "max_hops": {"type": "integer", "minimum": 1, "maximum": 30},
    }
    evidence = True
    required = ("path",)

    def parse(self, fields: Fields, common: dict[str, Any]) -> TraceStep | None:
        target = fields.target("trace", "trace takes one destination address or host name")
        if target is None:
            return None
        hops = fields.get("path")
        if not isinstance(hops, list) or not hops or not all(isinstance(h, str) and h.strip() for h in hops):
            fields.problem("path", "path is a non-empty list of hop addresses ('*' for a silent hop)")
            hops = []
        wrong = [hop for hop in hops if hop.strip() != "*" and not is_address(hop.strip())]
        if wrong:
            fields.problem("path", f"each hop is an address or '*' (a silent hop), not {wrong[0]!r}")
        whole = fields.get("whole", False)
        if not isinstance(whole, bool):
            fields.problem("whole", "whole is true (the path is exactly this) or false (it starts so); "
                                    "yes and no are text in YAML 1.2")
            whole = False
        max_hops = fields.number("max_hops", 8, (1, 30), "max_hops is from 1 to 30")
        if len(hops) > max_hops:
            fields.problem("path", f"path has {len(hops)} hops, more than max_hops ({max_hops})")
        return TraceStep(**common, target=target, path=[h.strip() for h in hops], whole=whole, max_hops=max_hops)

    def commands(self, step: TraceStep) -> list[str]:
        return [trace_command(step.target, step.max_hops)]

    def shown(self, step: TraceStep) -> list[str]:
        return [f"trace {step.target}"]

    def time_limit(self, step: TraceStep, default: float = 0) -> float:
        return step.max_hops * SECONDS_PER_HOP + 5

    def expected(self, step: TraceStep) -> str:
        return f"path {'exactly' if step.whole else 'starting'} {' > '.join(step.path)}"

    def judge(self, step: TraceStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        got = classify_trace(done.exit_code, done.output)
        if got is None:
            return Verdict("error", False, done.output, {"target": step.target})
        output = "\n".join(line for line in done.output.splitlines() if not line.startswith("@@hop"))
        return Verdict(str(got), got.meets(step.path, step.whole),
                       output or "\n".join(f"{n}  {hop}" for n, hop in enumerate(got.hops, 1)),
                       {"target": step.target, "hops": got.hops})
