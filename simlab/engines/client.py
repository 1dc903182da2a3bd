"""The Docker engine, seen through a few calls simlab needs.

This is the only module that imports docker-py. It finds the engine the way
the docker CLI does (DOCKER_HOST, the current context, the default socket),
turns engine failures into ``EngineError`` with a sentence for the user, and
knows nothing about labs or scenarios.
"""

from __future__ import annotations

import io
import re
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from simlab.engines.endpoint import Endpoint, resolve_endpoint
from simlab.engines.kind import LIBPOD_INFO, PODMAN, EngineKind, detect, is_podman
from simlab.engines.lazy import docker, requests
from simlab.engines.limits import RLIMIT_HELP, service_ulimits
from simlab.engines.podman import readonly_as_security_opt
from simlab.errors import EngineError, EngineTimeout, NameTaken, PrivilegedRefused

UNCONFINED = ["seccomp=unconfined", "apparmor=unconfined"]
def engine_failures() -> tuple[type[Exception], ...]:
    """What docker-py and requests raise when the engine fails (looked up once docker-py is
    loaded: an except clause evaluates it only when something was raised)."""
    return (docker.errors.DockerException, requests.exceptions.RequestException)
UNKNOWN_EXIT = 255  # the engine lost the exit code (the container went away mid-command)
API_TIMEOUT = 120  # seconds for one API call (create, start, remove, list...): the engine is slow under load
EXEC_TIMEOUT = 120  # default idle limit of an exec: seconds without output before it is given up
# dockerd (seen with 20.10) sometimes never closes the stream of an exec whose process has
# ended, for instance when its container stopped. So a quiet stream is checked on: every
# LIVENESS_POLL seconds without data the exec's state is asked, and once it has ended the
# stream is read for DRAIN more seconds and then closed from this side.
UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}
EXEC_START = {"Tty": False, "Detach": False}
LIVENESS_POLL = 1.0
SEND_TIMEOUT = 30.0  # seconds to write to an exec's input (a pipe the engine drains)
DRAIN = 0.3
EXEC_ATTEMPTS = 3
NOT_STARTED = 126  # the exit code of an exec whose process the runtime could not start
DEFAULT_SOCKET = "/var/run/docker.sock"  # docker-py's, when no endpoint is named


def never_started(exit_code: int, output: str) -> bool:
    """Whether an exec failed before its command ran ("OCI runtime exec failed: ... setns")."""
    return exit_code == NOT_STARTED and output.lstrip().startswith("OCI runtime exec failed")
NO_ENGINE_HELP = ("Start Docker Desktop or dockerd, or point DOCKER_HOST / `docker context use` at an engine. "
                  "On Debian as root, `make engine` installs and starts one.")


# The main process of every lab container: a shell that reaps whatever is orphaned in the
# container (a capture's tcpdump, a step's background job: `sleep infinity` as pid 1 never
# would, and they stayed zombies for the lab's life), over a `sleep` child by which the
# fabric helper finds the container's processes.
MAIN_PROCESS = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep infinity & wait $!; done"]


@dataclass
class ContainerSpec:
    """What a container is made of; the engine fills in the rest."""

    name: str
    image: str
    labels: dict[str, str]
    command: list[str] | None = field(default_factory=lambda: list(MAIN_PROCESS))  # None: the image's CMD
    hostname: str | None = None
    cap_add: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    privileged: bool = False
    pid_mode: str | None = None
    network_mode: str = "none"
    auto_remove: bool = False  # the engine removes the container once its main process ends
    cap_drop: list[str] = field(default_factory=list)
    readonly_paths: list[str] | None = None  # None: the engine's default
    cgroupns: str | None = None  # None: the engine's default
    userns_mode: str | None = None
    ulimits: list[dict] | None = None  # Docker API Ulimits; None: what fits the engine (see limits.py)
    extra_hosts: list[str] = field(default_factory=list)  # "NAME:ADDRESS" lines for /etc/hosts


@dataclass
class ContainerInfo:
    id: str
    name: str
    labels: dict[str, str]
    state: str
    created: float = 0.0  # seconds since the epoch, by the engine's clock


@dataclass
class ExecResult:
    exit_code: int
    output: str
    cut: int = 0  # bytes of output past the caller's limit, counted and dropped


class Deadline:
    """A moment after which reading a stream is given up, however much it still sends (an
    idle limit never fires while bytes arrive). Its owner may move it (``renew``)."""

    def __init__(self, seconds: float) -> None:
        self.renew(seconds)

    def renew(self, seconds: float) -> None:
        """``seconds`` from now."""
        self.seconds, self.at = seconds, time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()


class Engine:
    """A connection to one Docker engine."""

    def __init__(self, client: docker.DockerClient, name: str = "default", socket_path: str | None = None) -> None:
        self._client = client
        self._api = client.api
        self.name = name  # how the user named it (--engine), for reports
        self._socket_path = socket_path  # a local unix socket: its listener's limits can be read
        self._kind_lock = threading.Lock()

    @classmethod
    def connect(cls, endpoint: Endpoint | None = None, name: str = "default",
                timeout: float = API_TIMEOUT) -> Engine:
        """Connect to ``endpoint`` (default: the engine the docker CLI would use, see endpoint.py);
        EngineError for a bad DOCKER_HOST or context, or when no engine answers there."""
        endpoint = endpoint or resolve_endpoint()
        try:
            client = docker.DockerClient(**_client_options(endpoint), timeout=timeout)
            client.ping()
        except engine_failures() + (ValueError,) as exc:
            raise EngineError(f"No Docker engine answers at {endpoint.source} ({_short(exc)}). "
                              f"{NO_ENGINE_HELP}") from None
        return cls(client, name, _local_socket(endpoint))

    def ping(self) -> bool:
        """Whether the engine answers now."""
        try:
            return bool(self._api.ping())
        except engine_failures():
            return False

    def info(self) -> dict:
        """The engine's own description (`docker info`): version, OS, CPUs, security options."""
        with _calling("reading the engine's info"):
            info = self._api.info()
            info["ServerVersion"] = self._api.version().get("Version", info.get("ServerVersion", ""))
        return info

    def security_options(self) -> list[str]:
        """`docker info`'s SecurityOptions ('name=seccomp,profile=default', 'name=userns', ...)."""
        if not hasattr(self, "_security_options"):
            with _calling("asking the engine for its security options"):
                self._security_options: list[str] = list(self._api.info().get("SecurityOptions") or [])
        return self._security_options

    def kind(self) -> EngineKind:
        """Docker or Podman, rootful or rootless, remapped (asked once; see kind.py)."""
        with self._kind_lock:
            if not hasattr(self, "_kind"):
                with _calling("asking the engine what it is"):
                    version = self._api.version()
                    libpod = self._api._result(self._api._get(f"{self._api.base_url}{LIBPOD_INFO}"), json=True) \
                        if is_podman(version) else None
                self._kind = detect(version, self.security_options(), libpod)
                self._ulimits = service_ulimits(self._socket_path) if self._kind.product == PODMAN else None
        return self._kind

    # images

    def image_exists(self, name: str) -> bool:
        with _calling(f"inspecting image {name}"):
            try:
                self._api.inspect_image(name)
                return True
            except docker.errors.ImageNotFound:
                return False

    def copy_image_to(self, name: str, other: Engine) -> None:
        """Stream image ``name`` from this engine into ``other`` (`docker save | docker load`)."""
        with _calling(f"copying image {name} from {self.name} to {other.name}"):
            for chunk in other._api.load_image(self._api.get_image(name, chunk_size=1 << 20)):
                if isinstance(chunk, dict) and "error" in chunk:
                    raise EngineError(f"loading {name} into {other.name} failed: {chunk['error']}")

    def pull(self, name: str) -> str | None:
        """Pull ``name``; return None on success or the engine's reason it failed."""
        repository, _, tag = name.partition(":")
        try:
            # Podman answers a failed pull with 200 and the error in the stream
            for chunk in self._api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if isinstance(chunk, dict) and chunk.get("error"):
                    return _short(Exception(chunk["error"]))
            return None
        except engine_failures() as exc:
            return _short(exc)

    def image_tags(self, repository: str) -> list[str]:
        """Every ``repository:tag`` of ``repository`` on the engine."""
        with _calling(f"listing images {repository}"):
            found = self._api.images(name=repository)
        return sorted(tag for image in found for tag in image.get("RepoTags") or [] if tag.startswith(f"{repository}:"))

    def remove_image(self, tag: str) -> bool:
        """Remove the tag (and the image, if no other tag holds it); True if the image itself went.
        EngineError when a container still uses it."""
        with _calling(f"removing image {tag}"):
            outcome = self._api.remove_image(tag)
        return any("Deleted" in entry for entry in outcome or [])

    def layers_size(self) -> int:
        """Bytes of every image layer on the engine, each counted once (as `docker system df`)."""
        with _calling("measuring image disk use"):
            return int(self._api.df().get("LayersSize") or 0)

    def import_image_file(self, tarball: str, repository: str, tag: str) -> None:
        """Import a root filesystem tarball as an image (like `docker import`)."""
        with _calling(f"importing {repository}:{tag}"):
            # the name with its tag in `repo`, as the docker CLI sends it: Podman ignores `tag`
            self._api.import_image_from_file(tarball, repository=f"{repository}:{tag}")

    def build(self, context: str | bytes, tag: str, buildargs: dict[str, str] | None = None,
              network_mode: str | None = None) -> Iterator[str]:
        """Build an image from a folder (or a tar of one), yielding the build's output lines;
        EngineError names the failing step. ``network_mode`` "none": RUN steps get no network."""
        last_step = ""
        source = {"path": context} if isinstance(context, str) else {
            "fileobj": io.BytesIO(context), "custom_context": True}
        with _calling(f"building {tag}"):
            for chunk in self._api.build(**source, tag=tag, buildargs=buildargs, rm=True,
                                         forcerm=True, decode=True, network_mode=network_mode):
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
        podman = self.kind().product == PODMAN
        security_opt = [*spec.security_opt, *(readonly_as_security_opt(spec.readonly_paths)
                                              if podman and spec.readonly_paths is not None else [])]
        host_config = self._api.create_host_config(
            network_mode=spec.network_mode, cap_add=spec.cap_add or None,
            security_opt=security_opt or None, sysctls=spec.sysctls or None,
            privileged=spec.privileged, pid_mode=spec.pid_mode, cap_drop=spec.cap_drop or None,
            cgroupns=spec.cgroupns, userns_mode=spec.userns_mode, auto_remove=spec.auto_remove,
            extra_hosts=spec.extra_hosts or None)
        ulimits = spec.ulimits if spec.ulimits is not None else self._fitting_ulimits()
        if ulimits:
            host_config["Ulimits"] = ulimits
        if spec.readonly_paths is not None and not podman:
            host_config["ReadonlyPaths"] = spec.readonly_paths
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
                raise NameTaken(f"a container named {spec.name} already exists: another lab holds "
                                f"this name") from None
        return created["Id"]

    def _fitting_ulimits(self) -> list[dict] | None:
        """On Podman, limits within its service's hard limits (see limits.py); on Docker none."""
        self.kind()
        return self._ulimits

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
        return [ContainerInfo(c["Id"], c["Names"][0].lstrip("/"), c["Labels"] or {}, c["State"], c.get("Created", 0))
                for c in found]

    def put_file(self, container_id: str, folder: str, files: dict[str, bytes]) -> None:
        """Write ``files`` (name -> content, in this order) into ``folder`` of the container."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        with _calling(f"copying {', '.join(files)} into {container_id[:12]}"):
            self._api.put_archive(container_id, folder, archive.getvalue())

    def exec(self, container_id: str, argv: list[str], timeout: float = EXEC_TIMEOUT,
             env: dict[str, str] | None = None, max_output: int | None = None) -> ExecResult:
        """Run argv in the container; return its exit code and combined output (its first
        ``max_output`` bytes when given: the rest is read, counted in ``cut`` and dropped).
        EngineTimeout if it prints nothing for ``timeout`` seconds. An exec the runtime failed
        to start (seen under heavy load) is tried again: the command never ran."""
        for attempt in range(EXEC_ATTEMPTS):
            stream, exit_code = self.exec_stream(container_id, argv, env=env, idle_timeout=timeout)
            kept, total = bytearray(), 0
            for out, err in stream:
                data = out or err or b""
                total += len(data)
                if max_output is None or len(kept) < max_output:
                    kept += data if max_output is None else data[:max_output - len(kept)]
            output, code = kept.decode(errors="replace"), exit_code()
            if not never_started(code, output) or attempt == EXEC_ATTEMPTS - 1:
                return ExecResult(code, output, total - len(kept))
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def exec_stream(self, container_id: str, argv: list[str], env: dict[str, str] | None = None,
                    idle_timeout: float | None = EXEC_TIMEOUT
                    ) -> tuple[Iterator[tuple[bytes | None, bytes | None]], Callable[[], int]]:
        """Run argv, streaming (stdout, stderr) chunks; the second item gives the exit code once
        the stream ends. The stream ends when the command has ended, even if the engine never
        closes it; EngineTimeout if no output comes for ``idle_timeout`` seconds (None: wait
        while the command runs)."""
        reader = self._start_exec(container_id, argv, env, idle_timeout)
        return reader.chunks(), reader.exit_code

    def open_session(self, container_id: str, argv: list[str], env: dict[str, str] | None = None) -> ExecSession:
        """Start argv with its standard input open (see ExecSession)."""
        return ExecSession(self._start_exec(container_id, argv, env, EXEC_TIMEOUT, stdin=True))

    def _start_exec(self, container_id: str, argv: list[str], env: dict[str, str] | None,
                    idle_timeout: float | None, stdin: bool = False) -> _ExecReader:
        doing = f"running {argv[0]} in {container_id[:12]}"
        with _calling(doing):
            exec_id = self._api.exec_create(container_id, argv, environment=env, stdin=stdin)["Id"]
            # What docker-py's exec_start(socket=True) does, keeping the response: the bytes that
            # came with the HTTP headers sit in its buffer, not in the socket.
            response = self._api._post_json(self._api._url("/exec/{0}/start", exec_id), data=EXEC_START,
                                            headers=UPGRADE, stream=True)
            sock = self._api._get_raw_response_socket(response)
        return _ExecReader(self._api, exec_id, sock, doing, idle_timeout, _already_read(response))


class ExecSession:
    """A long-lived exec whose standard input stays open: a caller writes to it and reads its
    output a part at a time (``output`` continues one stream), with the same deadlines as any
    exec. It ends when its process does, or when ``close`` closes its input."""

    def __init__(self, reader: _ExecReader) -> None:
        self._reader = reader
        self._chunks = reader.chunks()

    def send(self, data: bytes) -> None:
        self._reader.send(data)

    def output(self, idle_timeout: float | None, deadline: Deadline | None = None
               ) -> Iterator[tuple[bytes | None, bytes | None]]:
        """The stream from where the last reader stopped; EngineTimeout after ``idle_timeout``
        seconds without output while the process runs, and once ``deadline`` has passed."""
        self._reader.idle_timeout, self._reader.deadline = idle_timeout, deadline
        return self._chunks

    def exit_code(self) -> int:
        return self._reader.exit_code()

    def close(self) -> None:
        """Close the exec's input and stream (from any thread: a reader there sees the end)."""
        self._reader.close()
        try:
            self._chunks.close()
        except ValueError:  # being read in another thread, which now sees the closed socket
            pass


class _ExecReader:
    """Reads an exec's multiplexed stream (8-byte frame headers) with deadlines of its own:
    docker-py reads exec streams with no timeout at all."""

    def __init__(self, api: docker.APIClient, exec_id: str, sock: Any, doing: str,
                 idle_timeout: float | None, early: bytes = b"") -> None:
        self._api, self._exec_id, self._doing, self.idle_timeout = api, exec_id, doing, idle_timeout
        self._holder = sock  # keeps the HTTP response (and so the socket) from being collected
        # docker-py's raw stream: a SocketIO (plain HTTP, whose socket typeshed leaves out) or a socket
        self._sock: socket.socket = sock._sock if isinstance(sock, socket.SocketIO) else sock  # type: ignore[attr-defined]
        self._code: int | None = None
        self._early = early
        self.deadline: Deadline | None = None

    def chunks(self) -> Generator[tuple[bytes | None, bytes | None], None, None]:
        pending = self._early
        try:
            while True:
                while len(pending) >= 8 and len(pending) >= 8 + (size := struct.unpack(">BxxxL", pending[:8])[1]):
                    kind, payload, pending = pending[0], pending[8:8 + size], pending[8 + size:]
                    yield (payload, None) if kind != 2 else (None, payload)
                if not (data := self._receive()):
                    return
                pending += data
        finally:
            self.close()

    def exit_code(self) -> int:
        if self._code is None:
            self._code = self._inspect()[1]
        return self._code

    def send(self, data: bytes) -> None:
        try:
            self._sock.settimeout(SEND_TIMEOUT)
            self._sock.sendall(data)
        except OSError as exc:
            raise _engine_error(self._doing, exc) from None

    def _receive(self) -> bytes:
        """The next bytes of the stream; b"" once it has ended (closed, or the command is over)."""
        quiet_since = time.monotonic()
        ended_at = None
        while True:
            wait = DRAIN if ended_at is not None else LIVENESS_POLL
            if self.deadline is not None:
                left = self.deadline.left()  # asked once: a second look could be past the deadline
                if left <= 0:
                    raise EngineTimeout(f"{self._doing} went on past its deadline of {self.deadline.seconds:g} s; "
                                        f"gave up")
                wait = min(wait, left)
            try:
                self._sock.settimeout(wait)
                data = self._sock.recv(65536)
                return data  # b"" when the engine closed the stream
            except TimeoutError:
                pass
            except OSError as exc:
                raise _engine_error(self._doing, exc) from None
            if ended_at is not None:
                return b""  # the command is over and nothing more came: the engine kept it open
            running, code = self._inspect()
            if not running:
                self._code, ended_at = code, time.monotonic()
                continue
            if self.idle_timeout is not None and time.monotonic() - quiet_since > self.idle_timeout:
                raise EngineTimeout(f"{self._doing} gave no output for {self.idle_timeout:g} s; gave up")

    def _inspect(self) -> tuple[bool, int]:
        """(still running, exit code); an exec whose container is gone has ended."""
        try:
            state = self._api.exec_inspect(self._exec_id)
        except docker.errors.NotFound:
            return False, UNKNOWN_EXIT
        except engine_failures() as exc:
            raise _engine_error(self._doing, exc) from None
        code = state.get("ExitCode")
        return bool(state.get("Running")), UNKNOWN_EXIT if code is None else int(code)

    def close(self) -> None:
        # shutdown first: a close alone sends nothing while another thread is still in recv
        # on the socket (the engine would see the exec's input close only when that recv ends)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        for closable in (self._sock, self._holder):
            try:
                closable.close()
            except OSError:
                pass


def _already_read(response: object) -> bytes:
    """Bytes of an upgraded stream that the HTTP client read along with the headers: they are
    in the response's buffer and would never come from the socket (seen under heavy load)."""
    buffer = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    raw = getattr(buffer, "raw", None)
    target = getattr(raw, "_sock", None)
    if buffer is None or target is None:
        return b""
    early = b""
    target.setblocking(False)  # read what is buffered, and what is already there, never wait
    try:
        while (data := buffer.read1(65536)):
            early += data
    except OSError:
        pass
    finally:
        target.setblocking(True)
    return early


@contextmanager
def _calling(doing: str, privileged: bool = False) -> Iterator[None]:
    """Turn what docker-py and requests raise into an EngineError that says what failed."""
    try:
        yield
    except engine_failures() as exc:
        raise _engine_error(doing, exc, privileged) from None


def _short(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return re.sub(r"\s+", " ", str(text)).strip()


def _engine_error(doing: str, exc: Exception, privileged: bool = False) -> EngineError:
    reason = _short(exc)
    if "error setting rlimit" in reason:
        return EngineError(f"The engine failed {doing}: {reason}. {RLIMIT_HELP}")
    if privileged and ("unable to apply caps" in reason or "operation not permitted" in reason):
        return PrivilegedRefused(f"The engine refused {doing}: {reason}. This engine does not allow "
                                 f"privileged containers; leave out --privileged / `privileged: true`.")
    return EngineError(f"The Docker engine failed {doing}: {reason}")


def _local_socket(endpoint: Endpoint) -> str | None:
    """The path of the engine's unix socket on this machine, if it has one."""
    if endpoint.url is None:
        return DEFAULT_SOCKET
    return endpoint.url.removeprefix("unix://") if endpoint.url.startswith("unix://") else None


def _client_options(endpoint: Endpoint) -> dict:
    if endpoint.from_env:  # DOCKER_TLS_VERIFY and DOCKER_CERT_PATH go with DOCKER_HOST
        return {**docker.utils.kwargs_from_env(), "base_url": endpoint.url}
    options: dict = {"base_url": endpoint.url}
    if endpoint.tls:
        cert = (endpoint.tls.cert, endpoint.tls.key) if endpoint.tls.cert and endpoint.tls.key else None
        options["tls"] = docker.tls.TLSConfig(client_cert=cert, ca_cert=endpoint.tls.ca, verify=endpoint.tls.verify)
    return options
