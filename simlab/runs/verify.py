"""Verify a learner's lab against its scenario, without changing it.

The reference is the scenario's lab after its steps 1..N, built in a shadow lab (or
read from the cache, see reference.py). Meanwhile the learner's lab is inspected and
the scenario's probes of that point (probes.py) run on it, read-only; those that do not
hold at N in the reference are dropped. Each probe that fails is explained from the
state difference (state/explain.py).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from simlab.checks.capture import Capture, Spot, packet_path, start_captures, stop_captures
from simlab.engines.client import Engine
from simlab.errors import InputError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs.lab import (
    LABEL_FILE,
    LABEL_LAB,
    LABEL_NODE,
    LABEL_ROLE,
    Lab,
    deferred_interrupts,
    in_background,
    open_lab,
)
from simlab.model.scenario import Scenario, load_scenario, resolve_scenario
from simlab.results import StepResult
from simlab.runs.probes import probes_until, run_probes
from simlab.runs.reference import Reference, reference_state
from simlab.state.collect import inspect_lab
from simlab.state.explain import (
    Origin,
    Probe,
    ProbeCheck,
    VerifyReport,
    compare,
    explain_probe,
    probe_address,
    sysctl_difference,
)
from simlab.state.model import LabState
from simlab.state.sysctls import SYSCTL_W, read_sysctls, scenario_sysctls, sysctl_differences
from simlab.steps import Step, kind_of

SENDS_PACKETS = {"ping", "connect", "http", "trace"}  # route and neigh only ask the kernel
EXPECTED_FAILURES = {"no-reply", "unreachable", "refused", "blackhole", "prohibit", "failed", "absent"}


def step_count(scenario: Scenario, until: str | None) -> int:
    """The number of steps ``until`` (N, or a section: through its last step) names; all
    steps when None. InputError for a number out of range or an unknown section."""
    steps = scenario.steps
    if until is None:
        return len(steps)
    if not steps:
        raise InputError(f"{scenario.file}: {scenario.name} has no steps to run or verify up to {until!r}")
    if until.strip().isdigit():
        n = int(until)
        if n > len(steps):
            raise InputError(f"{scenario.file}: step {n} does not exist; {scenario.name} has steps 1..{len(steps)}")
        return n
    wanted = until.strip().casefold()
    last = [i for i, step in enumerate(steps, 1) if step.section.casefold() == wanted]
    if not last:
        sections = ", ".join(dict.fromkeys(repr(s.section) for s in steps if s.section)) or "none"
        raise InputError(f"{scenario.file}: no section {until!r} in {scenario.name} (sections: {sections})")
    return last[-1]


def first_steps(scenario: Scenario, n: int) -> Scenario:
    """The scenario cut after step ``n``."""
    return dataclasses.replace(scenario, steps=scenario.steps[:n])


def lab_scenario(engine: Engine, lab: str, given: str | None = None) -> Scenario:
    """The scenario lab ``lab`` was made from (its containers' simlab.file label), or ``given``
    (a shipped name or a file) after checking the lab was made from it; InputError when the
    lab is not up, its file is gone, or it was made from another scenario."""
    containers = engine.containers({LABEL_LAB: lab, LABEL_ROLE: "host"})
    if not containers:
        raise InputError(f"no lab named {lab!r} is up; start one with `simlab up NAME|FILE` (`simlab ls` lists labs)")
    file = containers[0].labels.get(LABEL_FILE, "")
    hosts = {c.labels.get(LABEL_NODE, "") for c in containers}
    if given is not None:
        scenario = load_scenario(resolve_scenario(given))
        if file and Path(file).resolve() != Path(scenario.file).resolve():
            made = _name_of(file)
            if made != scenario.name:
                raise InputError(f"lab {lab!r} was made from {made} ({file}), not {scenario.name}; "
                                 f"verify it without --scenario, or start a lab of {scenario.name}")
    elif not file:
        raise InputError(f"lab {lab!r} was not started from a file; name its scenario with --scenario NAME|FILE")
    else:
        try:
            scenario = load_scenario(file)
        except OSError:
            raise InputError(f"lab {lab!r} was made from {file}, which is gone; name it with --scenario") from None
    if hosts != set(scenario.topology.hosts):
        raise InputError(f"lab {lab!r} has hosts {', '.join(sorted(hosts))}, not those of {scenario.name} "
                         f"({', '.join(sorted(scenario.topology.hosts))}): it was made from another scenario")
    if not scenario.steps:
        raise InputError(f"{scenario.file}: {scenario.name} has no steps to verify against")
    return scenario


def _name_of(file: str) -> str:
    try:
        return load_scenario(file).name
    except (SimlabError, OSError):
        return Path(file).stem


def verify_lab(engine: Engine, lab_name: str, scenario: Scenario, upto: int, emit: Emit = ignore,
               fresh: bool = False) -> VerifyReport:
    """Compare lab ``lab_name`` with ``scenario`` after its step ``upto`` (see the module's
    docstring); ``fresh``: build the reference even if one is cached (reference.py)."""
    lab = open_lab(engine, lab_name)
    emit(Event("verify.start", f"the reference of {scenario.name} through step {upto}", lab_name))
    cancel = threading.Event()
    building = in_background(lambda: reference_state(engine, scenario, upto, f"{lab_name}-ref", fresh, cancel))
    try:
        return compare_lab(lab, scenario, upto, building.result)
    except BaseException:
        cancel.set()  # the shadow lab stops at its next step and is removed before we go
        with deferred_interrupts(reraise=False):
            wait(building)
        raise


def compare_lab(lab: Lab, scenario: Scenario, upto: int, reference: Callable[[], Reference]) -> VerifyReport:
    """Compare ``lab`` with ``scenario`` after its step ``upto``: its state and sysctls are read
    and the probes of that point run on it while ``reference()`` (the reference of that
    point, or a wait for it) is had; the lab is only read."""
    started = time.monotonic()
    report = VerifyReport(lab.name, scenario.name, scenario.file, upto,
                          scenario.steps[upto - 1].section if upto else "")
    try:
        probes, report.skipped = probes_until(scenario, upto)
        keys = scenario_sysctls(scenario, upto)
        reading = in_background(lambda: read_sysctls(lab, keys))
        learner = inspect_lab(lab, scenario.topology)  # first: its interfaces are where the probes are watched
        results, captures = watched_probes(lab, probes, learner)
        values = reading.result()
        found = reference()
    finally:
        lab.close_shells()
    report.learner = learner
    report.differences = compare(found.state, learner, found.origins)
    report.differences += [sysctl_difference(host, key, mine, expected, sysctl_origin(scenario, upto, host, key))
                           for host, key, mine, expected in sysctl_differences(found.sysctls, values)]
    for (index, step), result in zip(probes, results):
        if index not in found.holds:
            report.skipped.append(f"step {index} {step.title!r}: does not hold at this point of the scenario "
                                  f"(a later step changes what it sees)")
            continue
        check = ProbeCheck(result)
        if kind_of(step).key in SENDS_PACKETS:
            check.captured = captured(captures, result.target or getattr(step, "target", ""))
        if not result.passed:
            probe = Probe(step.host, step.netns, result.target or getattr(step, "target", ""), step.section,
                          step.hint, getattr(step, "expect", None) in EXPECTED_FAILURES)
            check.why = explain_probe(probe, found.state, learner, report.differences)
        report.probes.append(check)
    report.duration = time.monotonic() - started
    return report


def watched_probes(lab: Lab, probes: list[tuple[int, Step]], state: LabState) -> tuple[list[StepResult], list[Capture]]:
    """Run the probes with a capture on every interface of the lab that is up (each host and
    namespace), so that a failing probe shows where its packets went; the results, and the
    captures stopped and read."""
    if not probes:
        return [], []
    captures = start_captures(lab, watch_spots(state))
    try:
        return run_probes(lab, probes), captures
    finally:
        stop_captures(lab, captures)


def watch_spots(state: LabState) -> list[Spot]:
    return [Spot(host.name, iface.name, ns.name or None) for host in state.hosts.values()
            for ns in host.namespaces() for iface in ns.interfaces.values() if iface.kind != "loopback" and iface.up]


def captured(captures: list[Capture], target: str) -> list[str]:
    """The path of the packets to or from ``target`` (an address, or "name (address)"), flow by
    flow, as the captures saw them; and the spots that were not watched."""
    address = probe_address(target)
    packets = [p for c in captures if not c.error for p in c.packets if address in (p.src, p.dst)]
    return packet_path(packets) + [c.error for c in captures if c.error]


def sysctl_origin(scenario: Scenario, upto: int, host: str, key: str) -> Origin:
    """The last step up to ``upto`` that sets ``key`` on ``host``, or the topology."""
    for index in range(upto, 0, -1):
        step = scenario.steps[index - 1]
        if step.host == host and not step.netns and kind_of(step).changes_lab and \
                any(key in SYSCTL_W.findall(command) for command in kind_of(step).commands(step)):
            return Origin(index, step.title, step.section)
    return Origin()


def wait(building: Future) -> None:
    """Wait for the shadow lab's run to end (it removes its lab), whatever it ended with."""
    try:
        building.result()
    except BaseException:  # noqa: BLE001 - we are already leaving on another error
        pass
