"""``route``: what the kernel would do with a packet to a destination (ip route get)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simlab.checks.route import classify_route, describe, route_command
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields, is_address

EXPECT = ("route", "unreachable", "blackhole", "prohibit")
WORDS = ("via", "dev", "src")


@dataclass
class RouteStep(Step):
    """What the kernel would do with a packet to ``target`` (ip route get)."""

    KIND = "route"
    target: str = ""
    expect: str = "route"
    via: str | None = None
    dev: str | None = None
    src: str | None = None


class Route(Kind):
    key = "route"
    step = RouteStep
    summary = "the kernel's route to a destination (ip route get)"
    schema = {"type": "string", "description": "Destination for `ip route get`."}
    options = {"expect": {"enum": list(EXPECT)}, "via": {"type": "string"}, "dev": {"type": "string"},
               "src": {"type": "string"}}

    def parse(self, fields: Fields, common: dict[str, Any]) -> RouteStep | None:
        target = fields.target("route", "route takes one destination address")
        if target is None:
            return None
        expect = fields.expect("route", EXPECT)
        words = {key: fields.word(key) for key in WORDS}
        for key in ("via", "src"):
            if (word := words[key]) is not None and not is_address(word):
                fields.problem(key, f"{key} is an IPv4 or IPv6 address, not {word!r}")
                words[key] = None
        if expect != "route":
            for key in sorted(k for k, v in words.items() if v is not None):
                fields.problem(key, f"{key} describes a route; the outcome {expect!r} has none")
        return RouteStep(**common, target=target, expect=expect, via=words["via"], dev=words["dev"], src=words["src"])

    def commands(self, step: RouteStep) -> list[str]:
        return [route_command(step.target)]

    def shown(self, step: RouteStep) -> list[str]:
        return [f"ip route get {step.target}"]

    def expected(self, step: RouteStep) -> str:
        return describe(step.expect, step.via, step.dev, step.src)

    def judge(self, step: RouteStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        got = classify_route(done.exit_code, done.output)
        return Verdict(str(got), got.meets(step.expect, step.via, step.dev, step.src), done.output,
                       {"target": step.target})
