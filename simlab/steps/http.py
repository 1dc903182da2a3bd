"""``http``: GET a URL from a host or namespace; expect a status, and text in the body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simlab.checks.http import classify_http, http_command
from simlab.steps import probe
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields, misses

URL = re.compile(r"^http://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(:\d{1,5})?(/[!-~]*)?$")
DEFAULT_DEADLINE = 3.0


@dataclass
class HttpStep(Step):
    """GET ``url``; the answer's status must be ``expect``, its body show ``output`` / ``match``."""

    KIND = "http"
    url: str = ""
    expect: int = 200
    output: str | None = None
    match: str | None = None
    deadline: float = DEFAULT_DEADLINE


class Http(Kind):
    key = "http"
    step = HttpStep
    summary = "GET a URL; expect a status and text in the body"
    schema = {"type": "string", "pattern": URL.pattern, "description": "http://HOST[:PORT]/PATH to GET."}
    options = {
        "expect": {"type": "integer", "minimum": 100, "maximum": 599, "description": "The HTTP status (default 200)."},
        "output": {"type": "string", "description": "Text the body must contain (whitespace-robust)."},
        "match": {"type": "string", "maxLength": 4096,
                  "description": "A regular expression (RE2 syntax) the body matches."},
        "deadline": probe.OPTIONS["deadline"],
    }
    evidence = True

    def parse(self, fields: Fields, common: dict[str, Any]) -> HttpStep | None:
        url = fields.get("http")
        if not isinstance(url, str) or not URL.match(url.strip()):
            fields.problem("http", "http takes a URL like http://10.0.0.2:8080/ (http only, no spaces)")
            return None
        expect = fields.number("expect", 200, (100, 599), "expect is an HTTP status, from 100 to 599")
        texts = {key: fields.get(key) for key in ("output", "match")}
        for key, text in texts.items():
            if text is not None and (not isinstance(text, str) or "\0" in text):
                fields.problem(key, f"{key} must be text without NUL characters")
                texts[key] = None
        if texts["match"] is not None:
            fields.pattern("match")
        deadline = fields.number("deadline", DEFAULT_DEADLINE, probe.DEADLINE_RANGE, probe.DEADLINE_USAGE,
                                 whole=False)
        return HttpStep(**common, url=url.strip(), expect=expect, deadline=float(deadline), **texts)

    def commands(self, step: HttpStep) -> list[str]:
        return [http_command(step.url, step.deadline)]

    def shown(self, step: HttpStep) -> list[str]:
        return [f"GET {step.url}"]

    def time_limit(self, step: HttpStep, default: float = 0) -> float:
        return step.deadline + probe.SLACK

    def expected(self, step: HttpStep) -> str:
        text = f"status {step.expect}"
        if step.output is not None:
            text += f", body with {step.output!r}"
        if step.match is not None:
            text += f", body matching {step.match!r}"
        return text

    def judge(self, step: HttpStep, runs: list[CommandRun]) -> Verdict:
        answer = classify_http(runs[-1].output)
        got, passed = str(answer), answer.status == step.expect
        for miss in misses(answer.body, step.output, step.match) if answer.status else []:
            got, passed = f"{got}, body {miss}", False
        return Verdict(got, passed, answer.body if answer.status else runs[-1].output, {"target": step.url})

    def runs_alone(self, step: HttpStep) -> bool:
        return step.match is not None  # the runner judges a regular expression
