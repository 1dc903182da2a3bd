"""The reference a learner's lab is verified against: the scenario's lab after step N.

It is built in a shadow lab that runs the scenario's steps 1..N (as `simlab run` would)
and is removed at once; a StateRecorder records the state after each step, which also
tells the step that makes each fact, and the probes of that point run on it at the
end: those that pass there are the ones that hold at N. Building it costs seconds, and it depends only on the
scenario file, N, simlab and its host image: it is cached (as JSON, under
SIMLAB_CACHE or ~/.cache/simlab/reference) so that the learner's next verify costs
only what their own lab does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from simlab import __version__
from simlab.engines.interface import EngineAPI
from simlab.errors import SimlabError
from simlab.labs.lab import Lab
from simlab.model.scenario import Scenario
from simlab.runs.probes import probes_until, run_probes
from simlab.runs.runner import run_scenario
from simlab.state.explain import Origin, origins_of
from simlab.state.model import LabState
from simlab.state.record import StateRecorder
from simlab.state.sysctls import Sysctls, read_sysctls, scenario_sysctls
from simlab.steps import Step, StepRun, kind_of


@dataclass
class Reference:
    """The scenario's lab after step N: its state, the step that makes each fact
    (explain.origins_of), and the probes (by step index) that hold there."""

    state: LabState
    origins: dict[tuple, Origin] = field(default_factory=dict)
    holds: set[int] = field(default_factory=set)
    sysctls: Sysctls = field(default_factory=dict)  # the values of the keys the scenario sets (sysctls.py)


class _Watch:
    """The StateRecorder, and at the last step the probes of that point run on the shadow lab."""

    def __init__(self, recorder: StateRecorder, last: int, probes: list[tuple[int, Step]],
                 keys: dict[str, list[str]]) -> None:
        self.recorder, self.last, self.probes, self.keys = recorder, last, probes, keys
        self.holds: set[int] = set()
        self.sysctls: Sysctls = {}

    def after_step(self, step: Step) -> str | None:
        return self.recorder.after_step(step)

    def __call__(self, lab: Lab, index: int, run: StepRun | None) -> None:
        self.recorder(lab, index, run)
        if index == self.last:
            results = run_probes(lab, self.probes)
            self.holds = {index for (index, _), result in zip(self.probes, results) if result.passed}
            self.sysctls = read_sysctls(lab, self.keys)


def cache_dir() -> Path:
    override = os.environ.get("SIMLAB_CACHE")
    base = Path(override) if override else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simlab"
    return base / "reference"


def reference_state(engine: EngineAPI, scenario: Scenario, upto: int, shadow_name: str, fresh: bool = False,
                    cancel: threading.Event | None = None) -> Reference:
    """The state after step ``upto`` and each fact's step (explain.origins_of): from the cache
    unless ``fresh``, else from a shadow lab named after ``shadow_name``."""
    path = _cache_file(scenario, upto)
    if path is not None and path.is_file() and not fresh:
        try:
            return _load(path)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged entry is built again
    found = build_reference(engine, scenario, upto, shadow_name, cancel)
    if path is not None:
        _save(path, found)
    return found


def build_reference(engine: EngineAPI, scenario: Scenario, upto: int, name: str,
                    cancel: threading.Event | None = None) -> Reference:
    """Run steps 1..``upto`` in a shadow lab (removed afterwards, also on failure or when
    ``cancel`` is set), record the state after each, and run the probes of that point."""
    shadow = dataclasses.replace(scenario, steps=scenario.steps[:upto])
    recorder = StateRecorder(shadow)
    watch = _Watch(recorder, upto, probes_until(scenario, upto)[0], scenario_sysctls(scenario, upto))
    result = run_scenario(engine, shadow, name, exact_name=False, watch=watch, cancel=cancel)
    failed = next((s for s in result.steps if not s.passed and kind_of(shadow.steps[s.index - 1]).stops_story),
                  None)
    why = result.error or result.stopped or (f"step {failed.index} {failed.title!r} got {failed.got}"
                                             if failed else "")
    if why:
        raise SimlabError(f"the reference lab of {scenario.name} could not be built: {why}")
    final = recorder.after[upto][0] if upto in recorder.after else recorder.initial
    changes = {index: (step.title, step.section, recorder.after[index][1])
               for index, step in enumerate(shadow.steps, 1) if index in recorder.after}
    return Reference(LabState.from_dict(final or {"lab": name}), origins_of(changes), watch.holds, watch.sysctls)


def _cache_file(scenario: Scenario, upto: int) -> Path | None:
    try:
        content = Path(scenario.file).read_bytes()
    except OSError:
        return None  # built in code: nothing stable to key it by
    key = hashlib.sha256(b"\0".join([content, str(upto).encode(), __version__.encode(),
                                     repr(sorted((h.name, h.image) for h in scenario.topology.hosts.values()))
                                     .encode()])).hexdigest()[:32]
    return cache_dir() / f"{scenario.name}-{upto}-{key}.json"


def _save(path: Path, reference: Reference) -> None:
    origins = [[list(key), origin.index, origin.title, origin.section] for key, origin in reference.origins.items()]
    data = {"state": reference.state.to_dict(), "origins": origins, "holds": sorted(reference.holds),
            "sysctls": reference.sysctls}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)  # another verify reading it sees all of it or nothing
    except OSError:
        pass  # no cache: the next verify builds it again


def _load(path: Path) -> Reference:
    data = json.loads(path.read_text())
    origins = {tuple(key): Origin(index, title, section) for key, index, title, section in data["origins"]}
    return Reference(LabState.from_dict(data["state"]), origins, set(data["holds"]), data["sysctls"])
