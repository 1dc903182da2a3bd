"""An engine in memory, for unit tests of what labs do with an engine (engines.interface.EngineAPI).

Containers are records; the fabric helper's hand-off answers "ok" with a PID per container
of the plan; any other exec answers exit 0 with no output. ``fail_start`` / ``fail_create``
name containers whose start or create fails, as an engine under load or a bad image would.
Every call is logged in ``calls``. It never replaces the tests on a real engine."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator

from simlab.engines.client import ContainerInfo, ContainerSpec, ExecResult
from simlab.engines.kind import EngineKind
from simlab.errors import EngineError, NameTaken


class FakeEngine:
    name = "fake"

    def __init__(self, fail_start: set[str] = frozenset(), fail_create: set[str] = frozenset(),
                 taken_once: set[str] = frozenset()) -> None:
        self.records: dict[str, tuple[ContainerSpec, str]] = {}  # id -> (spec, state)
        self.fail_start, self.fail_create, self.taken_once = set(fail_start), set(fail_create), set(taken_once)
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def ping(self) -> bool:
        return True

    def info(self) -> dict:
        return {"Name": "fake", "SecurityOptions": []}

    def security_options(self) -> list[str]:
        return []

    def kind(self) -> EngineKind:
        return EngineKind("docker")

    def image_exists(self, name: str) -> bool:
        return True

    def build(self, context: str | bytes, tag: str, buildargs: dict[str, str] | None = None,
              network_mode: str | None = None) -> Iterator[str]:
        return iter(())

    def create(self, spec: ContainerSpec) -> str:
        with self._lock:
            self.calls.append(("create", spec.name))
            if spec.name in self.taken_once:  # another run took the name at this moment
                self.taken_once.discard(spec.name)
                raise NameTaken(f"the name {spec.name} is taken")
            if any(s.name == spec.name for s, _ in self.records.values()):
                raise NameTaken(f"the name {spec.name} is taken")
            if spec.name in self.fail_create:
                raise EngineError(f"creating {spec.name} failed")
            container_id = f"{next(self._ids):012d}"
            self.records[container_id] = (spec, "created")
            return container_id

    def start(self, container_id: str, name: str, privileged: bool = False) -> None:
        with self._lock:
            self.calls.append(("start", name))
            if name in self.fail_start:
                raise EngineError(f"starting {name} failed")
            spec, _ = self.records[container_id]
            self.records[container_id] = (spec, "running")

    def pid(self, container_id: str) -> int:
        return 1000 + int(container_id)

    def logs(self, container_id: str) -> str:
        return ""

    def remove(self, container_id: str) -> None:
        with self._lock:
            self.calls.append(("remove", self.records[container_id][0].name if container_id in self.records else "?"))
            self.records.pop(container_id, None)

    def containers(self, labels: dict[str, str | None]) -> list[ContainerInfo]:
        with self._lock:
            return [ContainerInfo(cid, spec.name, dict(spec.labels), state, time.time())
                    for cid, (spec, state) in self.records.items()
                    if all(key in spec.labels and value in (None, spec.labels[key]) for key, value in labels.items())]

    def put_file(self, container_id: str, folder: str, files: dict[str, bytes]) -> None:
        self.calls.append(("put_file", container_id))

    def exec(self, container_id: str, argv: list[str], timeout: float = 60,
             env: dict[str, str] | None = None, max_output: int | None = None) -> ExecResult:
        self.calls.append(("exec", container_id))
        if env and "SIMLAB_PLAN" in env:  # the fabric helper's hand-off: built, each container's PID
            plan = json.loads(env["SIMLAB_PLAN"])
            deadline = time.monotonic() + 5  # the helper waits until every container runs
            while time.monotonic() < deadline and not all(self._running(c) for c in _containers_of(plan)):
                time.sleep(0.01)
            return ExecResult(0, "ok " + json.dumps({c: self.pid(c) for c in _containers_of(plan)}))
        return ExecResult(0, "")

    def open_session(self, container_id: str, argv: list[str], env: dict[str, str] | None = None):
        raise EngineError("the fake engine has no shells")

    def _running(self, container_id: str) -> bool:
        with self._lock:
            return self.records.get(container_id, (None, ""))[1] == "running"

    def names(self) -> set[str]:
        return {spec.name for spec, _ in self.records.values()}


def _containers_of(plan: dict) -> list[str]:
    ends = [h["container"] for h in plan["hosts"]] + [b["container"] for b in plan["bridges"]]
    return list(dict.fromkeys(ends))
