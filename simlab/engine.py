"""The Docker engine, seen through a few calls simlab needs.

This is the only module that imports docker-py. It finds the engine the way
the docker CLI does (DOCKER_HOST, the current context, the default socket),
turns engine failures into ``EngineError`` with a sentence for the user, and
knows nothing about labs or scenarios.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker
import docker.errors
import requests.exceptions

from simlab.errors import EngineError

# Least privilege that runs every tutorial command: ip netns needs SYS_ADMIN
# (mounts), ping needs NET_RAW, everything else NET_ADMIN. Unmasking /proc
# (MaskedPaths/ReadonlyPaths empty, what the CLI's systempaths=unconfined
# sends) lets `sysctl -w` write /proc/sys inside the host.
HOST_CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]
UNCONFINED = ["seccomp=unconfined", "apparmor=unconfined"]
ENGINE_FAILURES = (docker.errors.DockerException, requests.exceptions.RequestException)
UNKNOWN_EXIT = 255  # the engine lost the exit code (the container went away mid-command)
NO_ENGINE_HELP = ("Start Docker Desktop or dockerd, or point DOCKER_HOST / `docker context use` at an engine. "
                  "On Debian as root, `make engine` installs and starts one.")


@dataclass
class ContainerSpec:
    """What a container is made of; the engine fills in the rest."""

    name: str
    image: str
    labels: dict[str, str]
    command: list[str] | None = field(default_factory=lambda: ["sleep", "infinity"])  # None: the image's CMD
    hostname: str | None = None
    cap_add: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    privileged: bool = False
    pid_mode: str | None = None
    network_mode: str = "none"
    unmask_proc: bool = False
    extra_hosts: list[str] = field(default_factory=list)  # "NAME:ADDRESS" lines for /etc/hosts


@dataclass
class ContainerInfo:
    id: str
    name: str
    labels: dict[str, str]
    state: str


@dataclass
class ExecResult:
    exit_code: int
    output: str


class Engine:
    """A connection to one Docker engine."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api = client.api

    @classmethod
    def connect(cls) -> Engine:
        """Connect to the engine docker-py resolves; EngineError if none answers."""
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except ENGINE_FAILURES as exc:
            where = os.environ.get("DOCKER_HOST") or "the default Docker socket or current context"
            raise EngineError(f"No Docker engine answers at {where} ({_short(exc)}). {NO_ENGINE_HELP}") from None
        return cls(client)

    # images

    def image_exists(self, name: str) -> bool:
        with _calling(f"inspecting image {name}"):
            try:
                self._api.inspect_image(name)
                return True
            except docker.errors.ImageNotFound:
                return False

    def pull(self, name: str) -> str | None:
        """Pull ``name``; return None on success or the engine's reason it failed."""
        repository, _, tag = name.partition(":")
        try:
            self._api.pull(repository, tag=tag or "latest")
            return None
        except ENGINE_FAILURES as exc:
            return _short(exc)

    def import_image_file(self, tarball: str, repository: str, tag: str) -> None:
        """Import a root filesystem tarball as an image (like `docker import`)."""
        with _calling(f"importing {repository}:{tag}"):
            self._api.import_image_from_file(tarball, repository=repository, tag=tag)

    def build(self, context: str | bytes, tag: str, buildargs: dict[str, str] | None = None) -> Iterator[str]:
        """Build an image from a folder (or a tar of one), yielding the build's output lines;
        EngineError names the failing step."""
        last_step = ""
        source = {"path": context} if isinstance(context, str) else {
            "fileobj": io.BytesIO(context), "custom_context": True}
        with _calling(f"building {tag}"):
            for chunk in self._api.build(**source, tag=tag, buildargs=buildargs, rm=True,
                                         forcerm=True, decode=True):
                if "error" in chunk:
                    raise EngineError(f"building {tag} failed at {last_step or 'the start'}: "
                                      f"{chunk['error'].strip()}")
                for line in chunk.get("stream", "").splitlines():
                    if line.startswith("Step "):
                        last_step = line.strip()
                    if line.strip():
                        yield line

    # containers

    def create(self, spec: ContainerSpec) -> str:
        host_config = self._api.create_host_config(
            network_mode=spec.network_mode, cap_add=spec.cap_add or None,
            security_opt=spec.security_opt or None, sysctls=spec.sysctls or None,
            privileged=spec.privileged, pid_mode=spec.pid_mode, extra_hosts=spec.extra_hosts or None)
        if spec.unmask_proc:
            host_config["MaskedPaths"] = []
            host_config["ReadonlyPaths"] = []
        with _calling(f"creating {spec.name}"):
            try:
                created = self._api.create_container(spec.image, command=spec.command, name=spec.name,
                                                     hostname=spec.hostname, labels=spec.labels,
                                                     host_config=host_config)
            except docker.errors.ImageNotFound:
                raise EngineError(f"image {spec.image} is not on the engine; `simlab image build` builds "
                                  f"ubuntu_with_basic_net, other images must be built or pulled first") from None
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise
                raise EngineError(f"a container named {spec.name} already exists; "
                                  f"`simlab down` its lab or choose another lab name") from None
        return created["Id"]

    def start(self, container_id: str, name: str, privileged: bool = False) -> None:
        with _calling(f"starting {name}", privileged):
            self._api.start(container_id)

    def pid(self, container_id: str) -> int:
        """The container's main process as the engine's kernel numbers it."""
        with _calling(f"inspecting container {container_id[:12]}"):
            return int(self._api.inspect_container(container_id)["State"]["Pid"])

    def logs(self, container_id: str) -> str:
        with _calling(f"reading the logs of {container_id[:12]}"):
            return self._api.logs(container_id, stdout=True, stderr=True).decode(errors="replace")

    def remove(self, container_id: str) -> None:
        with _calling(f"removing container {container_id[:12]}"):
            try:
                self._api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: removal already in progress
                    raise

    def containers(self, labels: dict[str, str | None]) -> list[ContainerInfo]:
        """Every container (running or not) carrying these labels; None matches any value."""
        filters = [k if v is None else f"{k}={v}" for k, v in labels.items()]
        with _calling("listing containers"):
            found = self._api.containers(all=True, filters={"label": filters})
        return [ContainerInfo(c["Id"], c["Names"][0].lstrip("/"), c["Labels"] or {}, c["State"]) for c in found]

    def exec(self, container_id: str, argv: list[str]) -> ExecResult:
        """Run argv in the container; return its exit code and combined output."""
        with _calling(f"running {argv[0]} in {container_id[:12]}"):
            exec_id = self._api.exec_create(container_id, argv)["Id"]
            output = self._api.exec_start(exec_id)
            code = self._api.exec_inspect(exec_id)["ExitCode"]
        return ExecResult(UNKNOWN_EXIT if code is None else int(code), output.decode(errors="replace"))

    def exec_stream(self, container_id: str, argv: list[str], env: dict[str, str] | None = None
                    ) -> tuple[Iterator[tuple[bytes | None, bytes | None]], Callable[[], int]]:
        """Run argv, streaming (stdout, stderr) chunks; the second item gives the exit code once the stream ends."""
        doing = f"running {argv[0]} in {container_id[:12]}"
        with _calling(doing):
            exec_id = self._api.exec_create(container_id, argv, environment=env)["Id"]
            stream = self._api.exec_start(exec_id, stream=True, demux=True)

        def chunks() -> Iterator[tuple[bytes | None, bytes | None]]:
            with _calling(doing):
                yield from stream

        def exit_code() -> int:
            with _calling(doing):
                code = self._api.exec_inspect(exec_id)["ExitCode"]
            return UNKNOWN_EXIT if code is None else int(code)
        return chunks(), exit_code


@contextmanager
def _calling(doing: str, privileged: bool = False) -> Iterator[None]:
    """Turn what docker-py and requests raise into an EngineError that says what failed."""
    try:
        yield
    except ENGINE_FAILURES as exc:
        raise _engine_error(doing, exc, privileged) from None


def _short(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return re.sub(r"\s+", " ", str(text)).strip()


def _engine_error(doing: str, exc: Exception, privileged: bool = False) -> EngineError:
    reason = _short(exc)
    if privileged and ("unable to apply caps" in reason or "operation not permitted" in reason):
        return EngineError(
            f"The engine refused {doing}: {reason}. This engine does not allow privileged containers; "
            f"leave out --privileged / `privileged: true`. simlab's default (capabilities "
            f"{', '.join(HOST_CAPS)}, seccomp and apparmor unconfined, writable /proc/sys) runs every "
            f"step of the shipped scenarios.")
    return EngineError(f"The Docker engine failed {doing}: {reason}")
