"""What the rest of simlab needs from an engine: the seam another backend plugs into.

``client.Engine`` (Docker's API, through docker-py; Podman's Docker-compatible socket too)
is the one implementation; the tests drive labs with a fake one (tests/fake_engine.py).
Labs, runs and reports are typed against ``EngineAPI``, never against docker-py. A backend
without containers of its own (Kubernetes pods, say) would implement this at the level
of one container per host, or replace ``labs.lab.start_lab`` as a whole (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the data types live with the implementation; no docker import at run time
    from simlab.engines.client import ContainerInfo, ContainerSpec, Deadline, ExecResult
    from simlab.engines.kind import EngineKind


class Session(Protocol):
    """A long-lived exec: input written to it, output read a part at a time, with deadlines."""

    def send(self, data: bytes) -> None: ...

    def output(self, idle_timeout: float | None, deadline: Deadline | None = None
               ) -> Iterator[tuple[bytes | None, bytes | None]]: ...

    def exit_code(self) -> int: ...

    def close(self) -> None: ...


class EngineAPI(Protocol):
    """One engine: containers made from specs, found by labels, run commands in, removed.
    Every call has a deadline; failures raise EngineError (NameTaken, PrivilegedRefused,
    EngineTimeout) with a sentence for the user."""

    name: str

    def ping(self) -> bool: ...

    def info(self) -> dict: ...

    def security_options(self) -> list[str]: ...

    def kind(self) -> EngineKind: ...

    def image_exists(self, name: str) -> bool: ...

    def pull(self, name: str) -> str | None: ...

    def build(self, context: str | bytes, tag: str, buildargs: dict[str, str] | None = None,
              network_mode: str | None = None) -> Iterator[str]: ...

    def create(self, spec: ContainerSpec) -> str: ...

    def start(self, container_id: str, name: str, privileged: bool = False) -> None: ...

    def pid(self, container_id: str) -> int: ...

    def logs(self, container_id: str) -> str: ...

    def remove(self, container_id: str) -> None: ...

    def containers(self, labels: dict[str, str | None]) -> list[ContainerInfo]: ...

    def put_file(self, container_id: str, folder: str, files: dict[str, bytes]) -> None: ...

    def exec(self, container_id: str, argv: list[str], timeout: float = ...,
             env: dict[str, str] | None = None, max_output: int | None = None) -> ExecResult: ...

    def open_session(self, container_id: str, argv: list[str], env: dict[str, str] | None = None) -> Session: ...
