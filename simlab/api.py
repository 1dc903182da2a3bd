"""simlab from Python: load or build scenarios, start labs, run and validate.

Everything the CLI does goes through these functions. Nothing here prints:
progress goes to the ``emit`` callback (an ``Event`` each), results come back
as ``ScenarioResult`` / ``StepResult``, and bad input or engine trouble is
raised as ``InputError`` / ``EngineError`` with the message the CLI shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simlab.engines.client import Engine, ExecResult
from simlab.engines.interface import EngineAPI
from simlab.errors import EngineError, InputError
from simlab.events import Emit, ignore
from simlab.labs.images import ensure_image
from simlab.labs.lab import Lab, destroy_lab, start_lab
from simlab.labs.security import Trust, check_trust
from simlab.model.scenario import Scenario, load_scenario, resolve_scenario, scenario_from_data, step_from_data
from simlab.model.topology import Topology, on_image
from simlab.model.yamlsource import Source
from simlab.results import ScenarioResult, StepResult
from simlab.runs.runner import Pause, StepWatch, judge, retry, run_scenario
from simlab.runs.script import DEFAULT_STEP_TIMEOUT, run_batch
from simlab.runs.validate import Batch, EngineSlots, Options, collect, load_all, split_by_trust
from simlab.state.model import LabState
from simlab.steps import KINDS, StepRun


class CheckFailed(AssertionError):
    """A check did not go as expected; the message shows the command, expected vs got and the output."""

    def __init__(self, outcome: StepResult) -> None:
        self.outcome = outcome
        lines = [f"{outcome.title}: expected {outcome.expected}, got {outcome.got}",
                 *(f"  {outcome.where} $ {command}" for command in outcome.commands),
                 *(f"  | {line}" for line in (outcome.output or "(no output)").splitlines())]
        super().__init__("\n".join(lines))


class Builder:
    """A scenario (or a plain topology) written in code instead of YAML. Each method takes
    what the YAML key of the same name takes and returns the builder, so calls chain::

        pair = (simlab.Builder("pair")
                .host("a", interfaces={"eth0": "10.0.0.1/24"})
                .host("b", interfaces={"eth0": "10.0.0.2/24"})
                .link("a:eth0", "b:eth0")
                .ping("a reaches b", "a", "10.0.0.2"))

    ``scenario()`` and ``topology()`` check it exactly as a file is checked.
    """

    def __init__(self, name: str, description: str = "", image: str | None = None) -> None:
        self.data: dict[str, Any] = {"name": name, "description": description, "hosts": {}}
        if image is not None:
            self.data["image"] = image

    def host(self, name: str, interfaces: dict[str, str | list[str]] | None = None,
             routes: list[str] | None = None, sysctls: dict[str, Any] | None = None,
             setup: list[str] | None = None, image: str | None = None, privileged: bool = False) -> Builder:
        spec = {"interfaces": interfaces or {}, "routes": routes or [], "sysctls": sysctls or {},
                "setup": setup or [], "privileged": privileged}
        if image is not None:
            spec["image"] = image
        self.data["hosts"][name] = spec
        return self

    def link(self, a: str, b: str) -> Builder:
        """A veth pair between two ``HOST:IFACE`` ends."""
        self.data.setdefault("links", []).append([a, b])
        return self

    def segment(self, name: str, *members: str) -> Builder:
        """A switch joining ``HOST:IFACE`` members."""
        self.data.setdefault("segments", {})[name] = list(members)
        return self

    def run(self, title: str, host: str, commands: str | list[str], netns: str | None = None,
            expect: str = "success", output: str | None = None, note: str = "", section: str = "",
            timeout: float | None = None) -> Builder:
        step = {"title": title, "host": host, "run": commands, "expect": expect, "note": note, "section": section}
        return self._step(step, netns=netns, output=output, timeout=timeout)

    def ping(self, title: str, host: str, target: str, netns: str | None = None, expect: str = "reply",
             deadline: float | None = None, note: str = "", section: str = "",
             timeout: float | None = None) -> Builder:
        step = {"title": title, "host": host, "ping": target, "expect": expect, "note": note, "section": section}
        return self._step(step, netns=netns, deadline=deadline, timeout=timeout)

    def step(self, title: str, host: str, **keys: Any) -> Builder:
        """A step of any kind, by its YAML keys (``from_`` for ``from``), like
        ``step("b listens", "b", serve="tcp 80")`` or ``step("a to b", "a", connect="b:80")``."""
        return self._step({"title": title, "host": host}, **step_keys(keys))

    def _step(self, step: dict[str, Any], **optional: Any) -> Builder:
        step.update((key, value) for key, value in optional.items() if value is not None)
        self.data.setdefault("steps", []).append(step)
        return self

    def scenario(self) -> Scenario:
        """The checked Scenario; InputError names every problem (``<name> built in code: key: ...``)."""
        name = self.data["name"]
        return scenario_from_data(self.data, Source(f"{name} built in code"), str(name))

    def topology(self) -> Topology:
        return self.scenario().topology


def step_keys(keys: dict[str, Any]) -> dict[str, Any]:
    """A step's YAML keys from Python keyword arguments: ``from_`` is ``from``; None is left out."""
    return {key.rstrip("_"): value for key, value in keys.items() if value is not None}


def _title(keys: dict[str, Any]) -> str:
    kind = next((key for key in keys if key in KINDS), "step")
    return f"{kind} {keys.get(kind, '')}".strip()


Labbable = Topology | Scenario | Builder | str | Path


def load(path_or_name: str | Path, host_image: bool = False) -> Scenario:
    """A scenario file (or a containerlab topology), or the shipped scenario of that name (see
    ``simlab list``); with ``host_image``, every host runs simlab's host image instead of the
    file's (`--host-image`)."""
    scenario = load_scenario(resolve_scenario(str(path_or_name)))
    if host_image:
        scenario.topology = on_image(scenario.topology)
    return scenario


def connect(emit: Emit = ignore) -> Engine:
    """The Docker engine the docker CLI would use, with the host image built on it if missing."""
    engine = Engine.connect()
    ensure_image(engine, emit)
    return engine


class RunningLab:
    """A lab that is up: run commands and checks on its hosts."""

    def __init__(self, lab: Lab, topology: Topology) -> None:
        self._lab = lab
        self.topology = topology

    @property
    def name(self) -> str:
        return self._lab.name

    @property
    def engine(self) -> EngineAPI:
        return self._lab.engine

    @property
    def hosts(self) -> list[str]:
        return sorted(self._lab.containers)

    def exec(self, host: str, command: str, netns: str | None = None) -> ExecResult:
        """Run a shell command on ``host`` (inside namespace ``netns``); its exit code and output."""
        return self._lab.exec(host, command, netns)

    def step(self, host: str, netns: str | None = None, title: str | None = None, **keys: Any) -> StepResult:
        """Run one step of any kind on ``host`` as a scenario runs it, and judge it: the keys are
        the step's YAML keys (``from_`` for ``from``), like ``step("a", ping="10.0.0.2",
        expect="no-reply")`` or ``step("a", connect="b:80", expect="refused")``. A bad key or
        value raises InputError, as in a file."""
        self._lab.container(host)  # an unknown host is an InputError naming the lab
        raw = {**step_keys(keys), "host": host, "title": title or _title(keys)}
        if netns is not None:
            raw["netns"] = netns
        step = step_from_data(raw, self.topology, f"lab {self.name}")
        done = next(run_batch(self._lab, host, [step]), None)
        result = judge(1, done or StepRun(step))
        if not result.passed and step.within is not None and done is not None:  # as the runner does
            result = retry(self._lab, 1, step, result, threading.Event(), DEFAULT_STEP_TIMEOUT)
        return result

    def check(self, host: str, netns: str | None = None, title: str | None = None, **keys: Any) -> StepResult:
        """``step``, raising CheckFailed (an AssertionError: a failed test in pytest) with expected
        vs got and the output when the step does not go as expected."""
        __tracebackhide__ = True  # pytest shows the caller's line, not this one
        outcome = self.step(host, netns, title, **keys)
        if not outcome.passed:
            raise CheckFailed(outcome)
        return outcome

    def ping(self, host: str, target: str, netns: str | None = None, expect: str = "reply",
             deadline: float | None = None) -> StepResult:
        """Ping ``target`` from ``host`` as a scenario's ping step does. ``got`` is reply, no-reply,
        unreachable or error; ``passed`` says whether it is ``expect``; ``output`` is ping's."""
        return self.step(host, netns, f"ping {target}", ping=target, expect=expect, deadline=deadline)

    def check_ping(self, host: str, target: str, netns: str | None = None, expect: str = "reply",
                   deadline: float | None = None) -> StepResult:
        """``ping``, raising CheckFailed when the outcome is not ``expect``."""
        __tracebackhide__ = True
        return self.check(host, netns, f"ping {target}", ping=target, expect=expect, deadline=deadline)

    def inspect(self) -> LabState:
        """The lab's live state, as `simlab inspect` shows it: per host and namespace, interfaces
        (addresses, bridge master, veth peer), routes, forwarding, rules; ``to_dict()`` for JSON."""
        from simlab.state.collect import inspect_lab

        return inspect_lab(self._lab, self.topology)

    def down(self) -> None:
        """Remove the lab (``lab()`` does this on leaving its block)."""
        destroy_lab(self.engine, self.name)


def start(what: Labbable, engine: Engine | None = None, name: str | None = None, emit: Emit = ignore,
          privileged: bool = False, untrusted: bool = False, allow_privileged: bool = False) -> RunningLab:
    """Start the lab of a topology, scenario (its steps are not run), builder, file or shipped
    scenario name, and leave it up; ``down()`` removes it. ``lab()`` is the safer form.
    ``untrusted``: hardened mode (an engine that isolates container root, the tutorial's image,
    no privileged host); ``allow_privileged``: honour a file's ``privileged: true``;
    ``privileged``: every host privileged. What is not granted raises InputError first."""
    topology, file = topology_of(what)
    trust = Trust(untrusted=untrusted, allow_privileged=allow_privileged, privileged=privileged)
    check_trust(topology, trust, file)
    engine = engine or connect(emit)
    # Without a name the lab takes the topology's, with a suffix when another lab has it.
    return RunningLab(start_lab(engine, topology, name or topology.name, emit, privileged, file,
                                exact=name is not None, trust=trust), topology)


@contextmanager
def lab(what: Labbable, engine: Engine | None = None, name: str | None = None, emit: Emit = ignore,
        privileged: bool = False, untrusted: bool = False, allow_privileged: bool = False) -> Iterator[RunningLab]:
    """``with simlab.lab(...) as lab:`` a lab that is removed on leaving the block, also on an
    exception or Ctrl-C. A lab that fails to start removes what it made and raises."""
    running = start(what, engine, name, emit, privileged, untrusted, allow_privileged)
    try:
        yield running
    finally:
        running.down()


def run(scenario: Scenario | Builder | str | Path, engine: Engine | None = None, name: str | None = None,
        keep: bool = False, emit: Emit = ignore, privileged: bool = False, pause: Pause | None = None,
        cancel: threading.Event | None = None, timeout: float | None = None,
        step_timeout: float = DEFAULT_STEP_TIMEOUT, watch: StepWatch | None = None, untrusted: bool = False,
        allow_privileged: bool = False) -> ScenarioResult:
    """Run a scenario in a fresh lab and return its result. The lab is removed afterwards unless
    ``keep``. ``watch`` sees the lab before the first step and after each (runner.StepWatch;
    the state recorder of --explain/--html is one). A failure inside the run is the result's
    ``error``; Ctrl-C (or ``timeout``) removes
    the lab and the result says why in ``stopped``. Bad input raises InputError, no engine
    EngineError. Without ``name`` the lab takes the scenario's, with a suffix if it is taken."""
    scenario = _scenario(scenario)
    trust = Trust(untrusted=untrusted, allow_privileged=allow_privileged, privileged=privileged)
    check_trust(scenario.topology, trust, scenario.file)
    engine = engine or connect(emit)
    return run_scenario(engine, scenario, name or scenario.name, emit, keep=keep, pause=pause,
                        privileged=privileged, cancel=cancel, exact_name=name is not None, timeout=timeout,
                        step_timeout_default=step_timeout, watch=watch, trust=trust)


def load_paths(paths: Sequence[str | Path] | None, topologies: bool = False
               ) -> tuple[list[Scenario], list[ScenarioResult]]:
    """The scenarios under ``paths`` (files or folders; none: the shipped ones), and an error
    result for each bad path or file; a file without steps is one unless ``topologies``."""
    files, bad_paths = collect([str(p) for p in paths or []])
    scenarios, bad_files = load_all(files, topologies)
    return scenarios, bad_paths + bad_files


def validate(paths: list[str | Path] | None = None, jobs: int = 0, timeout: float | None = None,
             fail_fast: bool = False, keep_failed: bool = False, engine: Engine | None = None,
             emit: Emit = ignore, untrusted: bool = False, allow_privileged: bool = False) -> list[ScenarioResult]:
    """Run many scenarios, each in its own lab, ``jobs`` at a time: a result per file, the bad
    files first (their ``error`` says what is wrong). Ctrl-C removes every lab and returns
    what finished, the rest ``stopped``."""
    scenarios, bad = load_paths(paths)
    options = Options(jobs=jobs, timeout=timeout, fail_fast=fail_fast, keep_failed=keep_failed, untrusted=untrusted,
                      allow_privileged=allow_privileged)
    results, _ = run_many(scenarios, options, engine, emit)
    return bad + results


def run_many(scenarios: list[Scenario], options: Options, engine: Engine | list[EngineSlots] | None = None,
             emit: Emit = ignore) -> tuple[list[ScenarioResult], bool]:
    """Run a batch on one engine (default: the docker CLI's) or several (``EngineSlots``, each
    with its number of labs at once); return the results and whether Ctrl-C cut it short.
    No engine makes every scenario an error result."""
    scenarios, refused = split_by_trust(scenarios, options.trust)  # each start checks again
    if not scenarios:
        return refused, False
    try:
        engine = engine or connect(emit)
    except EngineError as exc:
        return refused + [ScenarioResult(s.name, s.file, error=str(exc)) for s in scenarios], False
    batch = Batch(engine, options, emit)
    try:
        return refused + batch.run(scenarios), False
    except KeyboardInterrupt:
        return refused + batch.results, True


def _scenario(what: Scenario | Builder | str | Path) -> Scenario:
    if isinstance(what, Scenario):
        return what
    if isinstance(what, Builder):
        return what.scenario()
    if isinstance(what, (str, Path)):
        return load(what)
    raise InputError(f"expected a Scenario, a Builder, a file or a shipped scenario's name, not {type(what).__name__}")


def topology_of(what: Labbable) -> tuple[Topology, str]:
    """The topology ``start`` would start, and the file it came from ('' when built in code)."""
    if isinstance(what, Topology):
        return what, ""
    scenario = _scenario(what)
    from_file = isinstance(what, (str, Path)) or (isinstance(what, Scenario) and Path(what.file).is_file())
    return scenario.topology, str(Path(scenario.file).resolve()) if from_file else ""
