"""Finding the engine: DOCKER_HOST, DOCKER_CONTEXT and the docker CLI's current context.
A bad value or a missing context is one line naming it, never a traceback and never
silently the default engine. No engine needed (nothing here connects)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import simlab
from simlab.engines.endpoint import resolve_endpoint
from simlab.errors import EngineError


def make_context(config: Path, name: str, host: str, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if tls:
        folder = config / "contexts" / "tls" / digest / "docker"
        folder.mkdir(parents=True)
        for f in ("ca", "cert", "key"):
            (folder / f"{f}.pem").write_text("x")


@pytest.mark.parametrize("value, problem", [
    ("http://[::1", "Invalid IPv6 URL"),
    ("tcp://127.0.0.1:notaport", "port could not be cast to integer value as 'notaport'"),
    ("tcp://host:99999", "port out of range"),
    ("unix://", "unix:// needs a socket path"),
    ("tcp://127.0.0.1", "it needs a port"),
    ("ftp://host:21", "unknown scheme 'ftp://'"),
    ("tcp://:2375", "it names no host"),
    ("tcp://host:2375/path", "a tcp address takes no path"),
    ("tcp://host:2375?x=1", "a query"),
    ("tcp://ho\tst:2375", "control characters"),
])
def test_bad_docker_host_is_named(value: str, problem: str) -> None:
    with pytest.raises(EngineError) as caught:
        resolve_endpoint({"DOCKER_HOST": value})
    message = str(caught.value)
    assert message.startswith(f"DOCKER_HOST={value!r} is not a Docker engine address: ")
    assert problem in message and "expected unix:///path/to/docker.sock" in message and "\n" not in message


@pytest.mark.parametrize("value", [
    "unix:///var/run/docker.sock", "unix://relative.sock", "tcp://127.0.0.1:2375", "https://engine.example:2376",
    "tcp://[::1]:2375", "localhost:2375", "ssh://user@host", "ssh://host:2222",
])
def test_good_docker_host_is_used_as_given(value: str) -> None:
    endpoint = resolve_endpoint({"DOCKER_HOST": value, "DOCKER_CONTEXT": "ignored"})
    assert endpoint.url == value and endpoint.from_env


def test_no_setting_is_the_default_socket(tmp_path: Path) -> None:
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}).url is None
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "default"}).url is None


def test_unknown_docker_context_is_named(tmp_path: Path) -> None:
    make_context(tmp_path, "remote", "tcp://10.1.2.3:2376")
    with pytest.raises(EngineError, match=r"^DOCKER_CONTEXT: no docker context named 'nope' "
                                          r"\(contexts: default, remote\); `docker context ls` lists them$"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "nope"})


def test_docker_context_gives_its_host_and_tls(tmp_path: Path) -> None:
    make_context(tmp_path, "remote", "tcp://10.1.2.3:2376", tls=True)
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "remote"})
    assert endpoint.url == "tcp://10.1.2.3:2376" and endpoint.source == "docker context 'remote' (tcp://10.1.2.3:2376)"
    assert endpoint.tls and endpoint.tls.cert.endswith("docker/cert.pem") and endpoint.tls.verify


def test_current_context_from_config_json(tmp_path: Path) -> None:
    make_context(tmp_path, "lab", "unix:///run/lab.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "lab"}))
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}).url == "unix:///run/lab.sock"
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    with pytest.raises(EngineError, match=r"the current context in .*config\.json: no docker context named 'gone'"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})


def test_context_with_a_bad_host_is_named(tmp_path: Path) -> None:
    make_context(tmp_path, "broken", "tcp://host:99999")
    with pytest.raises(EngineError, match=r"^docker context 'broken' has Host='tcp://host:99999' is not a Docker"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "broken"})


@pytest.mark.parametrize("env", [{"DOCKER_HOST": "tcp://127.0.0.1:notaport"}, {"DOCKER_CONTEXT": "nope"}])
def test_cli_says_it_in_one_line_with_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    done = simlab("ls", env={**base, "DOCKER_CONFIG": str(tmp_path), **env}, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("simlab: error: ")
    assert next(iter(env.values())) in done.stderr
