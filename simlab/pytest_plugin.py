"""simlab's pytest plugin (on wherever simlab is installed, through the ``pytest11`` entry point).

Fixtures, each a factory that starts labs and removes them when its scope ends::

    def test_pair(simlab_lab):
        lab = simlab_lab("gateway-nat")          # a shipped name, a file, a Topology, a Builder
        lab.check_ping("container-a", "172.17.0.3")

``simlab_lab`` removes its labs after the test, ``simlab_lab_module`` after the
module's last test, ``simlab_lab_session`` at the end of the session; all
share one engine connection, ``simlab_engine``. With ``--simlab-keep-failed``
the labs of a failed test stay up, and the summary says how to reach them.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pluggy

KEPT_KEY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simlab")
    group.addoption("--simlab-keep-failed", action="store_true", default=False,
                    help="leave up the simlab labs of failed tests, and say how to reach them")
    group.addoption("--simlab-untrusted", action="store_true", default=False,
                    help="hardened mode for every lab (an engine that isolates container root, the tutorial's "
                         "image, no privileged host), as `simlab run --untrusted`")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[KEPT_KEY] = []


class LabFactory:
    """Starts labs on call; ``close`` removes them, or keeps them when a test using them failed."""

    def __init__(self, engine: Any, config: pytest.Config, scope: str) -> None:
        self.engine = engine
        self.config = config
        self.scope = scope
        self.labs: list[Any] = []
        self.failed: list[str] = []  # node ids of failed tests that used this factory

    def __call__(self, what: Any, name: str | None = None, privileged: bool = False,
                 allow_privileged: bool = False) -> Any:
        """Start the lab of ``what`` (shipped scenario name, file, Topology, Scenario or Builder),
        in hardened mode under --simlab-untrusted; ``allow_privileged`` honours the file's
        ``privileged: true``."""
        from simlab import api

        if name is None:  # unique, so that parallel sessions and kept labs never collide
            name = f"{api.topology_of(what)[0].name}-{uuid.uuid4().hex[:6]}"
        lab = api.start(what, engine=self.engine, name=name, privileged=privileged, allow_privileged=allow_privileged,
                        untrusted=self.config.getoption("simlab_untrusted"))
        self.labs.append(lab)
        return lab

    def close(self) -> None:
        keep = bool(self.failed) and self.config.getoption("simlab_keep_failed")
        for lab in self.labs:
            if keep:
                self.config.stash[KEPT_KEY].append(
                    f"kept lab {lab.name} of {', '.join(self.failed)} (hosts: {', '.join(lab.hosts)}): "
                    f"simlab shell {lab.name} {lab.hosts[0]}; remove it with: simlab down {lab.name}")
            else:
                lab.down()


@pytest.fixture(scope="session")
def simlab_engine() -> Any:
    """The Docker engine (as the docker CLI finds it), with the host image built on it."""
    from simlab import api

    return api.connect()


def _factory(request: pytest.FixtureRequest, engine: Any) -> Iterator[LabFactory]:
    factory = LabFactory(engine, request.config, request.scope)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def simlab_lab(request: pytest.FixtureRequest, simlab_engine: Any) -> Iterator[LabFactory]:
    """Start labs for this test: ``lab = simlab_lab("gateway-nat")``; removed after it."""
    yield from _factory(request, simlab_engine)


@pytest.fixture(scope="module")
def simlab_lab_module(request: pytest.FixtureRequest, simlab_engine: Any) -> Iterator[LabFactory]:
    """Like simlab_lab, shared by the tests of a module; removed after its last test."""
    yield from _factory(request, simlab_engine)


@pytest.fixture(scope="session")
def simlab_lab_session(request: pytest.FixtureRequest, simlab_engine: Any) -> Iterator[LabFactory]:
    """Like simlab_lab, shared by the whole session."""
    yield from _factory(request, simlab_engine)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo
                               ) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """Mark the lab factories a failed test used, so that --simlab-keep-failed keeps their labs."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        # funcargs holds every fixture of the test, also those only its fixtures requested
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, LabFactory) and item.nodeid not in value.failed:
                value.failed.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kept = config.stash.get(KEPT_KEY, [])
    if kept:
        terminalreporter.section("simlab: labs kept up (--simlab-keep-failed)")
        for line in kept:
            terminalreporter.write_line(line)
