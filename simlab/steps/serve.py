"""``serve``: a detached service (simlab's TCP/UDP listener or any command), ready before
the next step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simlab.checks.serve import READY_SECONDS, serve_command
from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields

LISTENER = re.compile(r"^(tcp|udp)\s+(\d{1,5})$")
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass
class ServeStep(Step):
    """A detached service: simlab's TCP/UDP listener (``proto`` ``port``) or any ``command``;
    ready (listening, or its log showing ``ready``) before the next step, logging to ``log``."""

    KIND = "serve"
    name: str = ""
    proto: str | None = None
    port: int = 0
    command: str | None = None
    ready: str | None = None

    @property
    def log(self) -> str:
        return f"/var/log/simlab/{self.name}.log"


class Serve(Kind):
    key = "serve"
    step = ServeStep
    summary = "start a service in the background (tcp PORT, udp PORT or a command)"
    schema = {"type": "string", "description": "'tcp PORT' / 'udp PORT' (simlab's listener) or a command, "
                                               "run detached, logging to /var/log/simlab/NAME.log."}
    options = {
        "name": {"type": "string", "pattern": NAME.pattern, "description": "Names the service's log."},
        "ready": {"type": "string", "description": "Text the service's log shows once it is ready."},
    }
    stops_story = True

    def parse(self, fields: Fields, common: dict[str, Any]) -> ServeStep | None:
        serve = fields.get("serve")
        if not isinstance(serve, str) or not serve.strip():
            fields.problem("serve", "serve takes 'tcp PORT', 'udp PORT' or a command to run in the background")
            return None
        if not fields.command(serve, "serve"):
            return None
        listener = LISTENER.match(serve.strip())
        proto, port = (listener.group(1), int(listener.group(2))) if listener else (None, 0)
        if listener and not 1 <= port <= 65535:
            fields.problem("serve", "a port is 1 to 65535")
        default = f"{proto}-{port}" if listener else f"serve-{fields.path[-1] + 1}"
        name = fields.get("name", f"{common['netns']}-{default}" if common["netns"] else default)
        if not isinstance(name, str) or not NAME.match(name):
            fields.problem("name", "name is letters, digits, '_', '.' or '-' (it names the log file)")
            name = default
        ready = fields.get("ready")
        if ready is not None and (not isinstance(ready, str) or listener):
            fields.problem("ready", "ready is text the command's log shows once it is ready "
                                    "(simlab's own listener needs none)")
            ready = None
        return ServeStep(**common, name=name, proto=proto, port=port, command=None if listener else serve.strip(),
                         ready=ready)

    def commands(self, step: ServeStep) -> list[str]:
        return [serve_command(step.name, step.log, step.proto, step.port, step.command, step.ready)]

    def shown(self, step: ServeStep) -> list[str]:
        return [f"serve {step.command or f'{step.proto} {step.port}'}  # log: {step.log}"]

    def time_limit(self, step: ServeStep, default: float = 0) -> float:
        return READY_SECONDS + 5

    def expected(self, step: ServeStep) -> str:
        return "ready"

    def judge(self, step: ServeStep, runs: list[CommandRun]) -> Verdict:
        done = runs[-1]
        ready = done.exit_code == 0
        return Verdict("ready" if ready else f"not ready (exit {done.exit_code})", ready, done.output)

    def runs_alone(self, step: ServeStep) -> bool:
        return True  # it must be ready before the next step is judged

    def guard(self, step: ServeStep, last: bool) -> str:
        return '[ "$rc" -eq 0 ] || exit 0'
