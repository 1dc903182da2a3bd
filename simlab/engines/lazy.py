"""docker-py and requests, imported on first use: they cost about 60 ms, which `simlab --help`,
`simlab check` and every command that never talks to an engine need not pay. Only
engines/client.py uses them, through this module.

``docker.errors.NotFound`` and the like work as with a plain import; an ``except`` clause
evaluates its names only when something was raised, by which time docker-py is loaded."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


def _load_docker() -> ModuleType:
    import docker
    import docker.errors
    import docker.tls
    import docker.utils

    return docker


def _load_requests() -> ModuleType:
    import requests
    import requests.exceptions

    return requests


class _Module:
    """A module (and the submodules simlab uses), imported when an attribute is first asked for."""

    def __init__(self, load: Callable[[], ModuleType]) -> None:
        self._load = load
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = self._load()
        return getattr(self._module, attribute)


docker: Any = _Module(_load_docker)
requests: Any = _Module(_load_requests)
