"""Which Docker engine to talk to, found the way the docker CLI finds it.

DOCKER_HOST first, then DOCKER_CONTEXT, then the current context of the
docker CLI's config.json, then the default socket. docker-py 7 reads only
DOCKER_HOST, and takes a value it cannot parse with a traceback or, for
``unix://``, as the default socket: here every value is checked, and a bad
one (or a context that does not exist) is an EngineError naming it, never a
silent fall back to another engine. No docker import: client.py connects.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from simlab.errors import EngineError

EXPECTED = "expected unix:///path/to/docker.sock, tcp://HOST:PORT, https://HOST:PORT or ssh://[USER@]HOST[:PORT]"
SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe")


@dataclass(frozen=True)
class TLSFiles:
    """A context's TLS material: any of the files may be missing."""

    ca: str | None
    cert: str | None
    key: str | None
    verify: bool = True


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is. ``url`` None: docker-py's default socket."""

    url: str | None
    source: str  # said in errors: the DOCKER_HOST value, docker context 'x' (url), the default socket
    from_env: bool = False  # DOCKER_HOST: DOCKER_TLS_VERIFY / DOCKER_CERT_PATH apply
    tls: TLSFiles | None = None


def resolve_endpoint(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The engine endpoint the docker CLI would use; EngineError for a bad value or unknown context."""
    env = os.environ if environ is None else environ
    host = env.get("DOCKER_HOST", "")
    if host:
        return Endpoint(check_host(host, "DOCKER_HOST"), host, from_env=True)
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")
    name, where = env.get("DOCKER_CONTEXT", ""), "DOCKER_CONTEXT"
    if not name:
        name, where = _current_context(config), f"the current context in {config / 'config.json'}"
    if not name or name == "default":
        return Endpoint(None, "the default Docker socket")
    return _context_endpoint(config, name, where)


def check_host(value: str, what: str) -> str:
    """``value`` if it is an engine address docker-py can use, else EngineError naming it."""
    problem = _host_problem(value.strip())
    if problem:
        raise EngineError(f"{what}={value!r} is not a Docker engine address: {problem}; {EXPECTED}")
    return value.strip()


def _host_problem(value: str) -> str | None:
    if any(c.isspace() or not c.isprintable() for c in value):
        return "it contains spaces or control characters"
    text = value if "://" in value else f"tcp://{value}"  # docker-py reads HOST:PORT as tcp
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        return f"unknown scheme {scheme + '://'!r}"
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        return str(exc).replace("Port", "port")
    if url.query or url.fragment or url.password:
        return "it has a query, a fragment or a password"
    if scheme in ("unix", "npipe"):
        return None if (url.netloc + url.path).strip("/") else f"{scheme}:// needs a socket path"
    if not url.hostname:
        return "it names no host"
    if scheme == "ssh":
        return "ssh:// takes no path" if url.path else None
    if url.path.strip("/"):
        return "a tcp address takes no path"
    if port is None or port == 0:
        return "it needs a port (the engine's TCP port, like 2375 or 2376)"
    return None


def _current_context(config: Path) -> str:
    path = config / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read the docker CLI's {path} ({exc}); fix it, or set DOCKER_HOST") from None
    name = data.get("currentContext", "") if isinstance(data, dict) else ""
    return name if isinstance(name, str) else ""


def _context_endpoint(config: Path, name: str, where: str) -> Endpoint:
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()  # the CLI stores a context under its name's hash
    meta_path = config / "contexts" / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        host = meta["Endpoints"]["docker"]["Host"]
        skip_verify = bool(meta["Endpoints"]["docker"].get("SkipTLSVerify", False))
    except FileNotFoundError:
        known = ", ".join(["default", *_context_names(config)])
        raise EngineError(f"{where}: no docker context named {name!r} (contexts: {known}); "
                          f"`docker context ls` lists them") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EngineError(f"{where}: docker context {name!r} is unreadable ({meta_path}: {exc!r})") from None
    if not isinstance(host, str) or not host:
        raise EngineError(f"{where}: docker context {name!r} has no docker endpoint; {EXPECTED}")
    source = f"docker context {name!r}"
    url = check_host(host, f"{source} has Host")
    tls_dir = config / "contexts" / "tls" / digest / "docker"
    tls = None
    if tls_dir.is_dir():
        files = {f: str(tls_dir / f"{f}.pem") if (tls_dir / f"{f}.pem").is_file() else None
                 for f in ("ca", "cert", "key")}
        tls = TLSFiles(**files, verify=not skip_verify)
    return Endpoint(url, f"{source} ({url})", tls=tls)


def _context_names(config: Path) -> list[str]:
    names = []
    for meta in sorted((config / "contexts" / "meta").glob("*/meta.json")):
        try:
            names.append(str(json.loads(meta.read_text(encoding="utf-8"))["Name"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(names)


def named_endpoint(name: str, environ: Mapping[str, str] | None = None) -> Endpoint:
    """The engine named by ``--engine NAME``: a docker context name, or an address
    (unix://, tcp://, ssh://...); ``default`` is the default socket."""
    env = os.environ if environ is None else environ
    if "://" in name or ":" in name:
        return Endpoint(check_host(name, "--engine"), name)
    if name == "default":
        return Endpoint(None, "the default Docker socket")
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")
    return _context_endpoint(config, name, f"--engine {name}")
