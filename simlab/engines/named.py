"""Engines as users name them: which ones a command uses and how many labs each takes.

Engines are named as users already name them: a docker context, or an address
(``unix://``, ``tcp://``, ``ssh://``), optionally ``NAME=SLOTS``. They come from
``--engine`` (repeatable), else ``SIMLAB_ENGINES`` (comma-separated), else the
``engines:`` list of the config file (``SIMLAB_CONFIG``, default
``~/.config/simlab/config.yaml``), else the one engine simlab uses by default.
This module knows engines; nothing of images, labs or scenarios.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from simlab.engines.client import API_TIMEOUT, Engine
from simlab.engines.endpoint import named_endpoint, resolve_endpoint
from simlab.errors import EngineError, InputError

MAX_SLOTS = 64
DEFAULT_SOCKET = "unix:///var/run/docker.sock"  # where docker-py looks when nothing says otherwise


@dataclass(frozen=True)
class EngineSpec:
    """One engine as the user named it; ``slots`` None: from its CPU count."""

    name: str
    slots: int | None = None


def parse_specs(values: list[str], source: str) -> list[EngineSpec]:
    """``NAME`` or ``NAME=SLOTS`` each; InputError naming ``source`` for a bad slot count or a
    name given twice."""
    specs: list[EngineSpec] = []
    for raw in values:
        text = str(raw).strip()
        name, _, slots = text.rpartition("=") if "=" in text.split("://")[-1] else (text, "", "")
        if not name:
            raise InputError(f"{source}: {raw!r} names no engine; use NAME or NAME=SLOTS")
        count = None
        if slots:
            if not slots.isdigit() or not 1 <= int(slots) <= MAX_SLOTS:
                raise InputError(f"{source}: slots in {raw!r} must be a whole number from 1 to {MAX_SLOTS}")
            count = int(slots)
        if any(spec.name == name for spec in specs):
            raise InputError(f"{source}: engine {name!r} is named twice")
        specs.append(EngineSpec(name, count))
    return specs


def configured_specs(cli_values: list[str] | None, environ: Mapping[str, str] | None = None) -> list[EngineSpec]:
    """The engines to use: --engine, else SIMLAB_ENGINES, else the config file; [] for the default one."""
    env = os.environ if environ is None else environ
    if cli_values:
        return parse_specs(cli_values, "--engine")
    if env.get("SIMLAB_ENGINES", "").strip():
        return parse_specs([v for v in env["SIMLAB_ENGINES"].split(",") if v.strip()], "SIMLAB_ENGINES")
    config = Path(env.get("SIMLAB_CONFIG") or Path(env.get("HOME") or Path.home()) / ".config/simlab/config.yaml")
    if not config.is_file():
        return []
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{config}: cannot read it ({exc})") from None
    engines = data.get("engines", []) if isinstance(data, dict) else None
    if not isinstance(engines, list) or not all(isinstance(e, (str, dict)) for e in engines):
        raise InputError(f"{config}: engines must be a list of NAME or NAME=SLOTS (or {{name, slots}})")
    values = [e if isinstance(e, str) else _spec_text(e) for e in engines]
    return parse_specs(values, str(config))


def check_names(specs: list[EngineSpec]) -> None:
    """Resolve every name without connecting: an unknown context or a malformed address is an
    InputError, before anything starts; two names for one address are too."""
    seen: dict[str, str] = {}
    for spec in specs:
        try:
            url = _comparable(named_endpoint(spec.name).url or DEFAULT_SOCKET)
        except EngineError as exc:
            raise InputError(str(exc)) from None
        if url in seen:
            raise InputError(f"engines {seen[url]!r} and {spec.name!r} are the same engine ({url})")
        seen[url] = spec.name


def _comparable(url: str) -> str:
    """One spelling per engine: a unix socket by its real path (/var/run is /run)."""
    if url.startswith("unix://"):
        return "unix://" + os.path.realpath(url.removeprefix("unix://"))
    return url.rstrip("/")


def connect(spec: EngineSpec | None, timeout: float | None = None) -> Engine:
    """Connect to one named engine (None: the default one)."""
    limit = API_TIMEOUT if timeout is None else timeout
    if spec is None:
        return Engine.connect(resolve_endpoint(), timeout=limit)
    return Engine.connect(named_endpoint(spec.name), spec.name, timeout=limit)


def default_slots(engine: Engine, spec: EngineSpec | None) -> int:
    """Labs at once on ``engine``: as asked, else two per CPU (labs wait on the engine and on
    pings), at most 8."""
    if spec is not None and spec.slots:
        return spec.slots
    cpus = int(engine.info().get("NCPU") or 1)
    return max(2, min(8, 2 * cpus))


def _spec_text(entry: dict) -> str:
    """An engine of the config file's list, as --engine takes it: NAME or NAME=SLOTS."""
    name = str(entry.get("name", ""))
    return f"{name}={entry['slots']}" if "slots" in entry else name
