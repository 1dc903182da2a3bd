"""The reference a learner's lab is verified against: the scenario's lab after step N.

It is built in a shadow lab that runs the scenario's lab-changing steps 1..N and is
removed at once; a StateRecorder records the state after each step, which also tells
the step that makes each fact. Building it costs seconds, and it depends only on the
scenario file, N, simlab and its host image: it is cached (as JSON, under
SIMLAB_CACHE or ~/.cache/simlab/reference) so that the learner's next verify costs
only what their own lab does.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from simlab import __version__
from simlab.engines.client import Engine
from simlab.errors import SimlabError
from simlab.model.scenario import Scenario
from simlab.runs.runner import run_scenario
from simlab.state.explain import Origin, origins_of
from simlab.state.model import LabState
from simlab.state.record import StateRecorder
from simlab.steps import kind_of

Reference = tuple[LabState, dict[tuple, Origin]]


def cache_dir() -> Path:
    override = os.environ.get("SIMLAB_CACHE")
    base = Path(override) if override else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simlab"
    return base / "reference"


def reference_state(engine: Engine, scenario: Scenario, upto: int, shadow_name: str, fresh: bool = False,
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


def build_reference(engine: Engine, scenario: Scenario, upto: int, name: str,
                    cancel: threading.Event | None = None) -> Reference:
    """Run the lab-changing steps 1..``upto`` in a shadow lab (removed afterwards, also on
    failure or when ``cancel`` is set) and record the state after each."""
    steps = [(i, step) for i, step in enumerate(scenario.steps[:upto], 1) if kind_of(step).changes_lab]
    shadow = Scenario(scenario.topology, [step for _, step in steps], scenario.file, scenario.tutorial)
    recorder = StateRecorder(shadow)
    result = run_scenario(engine, shadow, name, exact_name=False, watch=recorder, cancel=cancel)
    if result.error or result.stopped or not result.passed:
        failed = next((s for s in result.steps if not s.passed), None)
        why = result.error or result.stopped or (f"step {steps[failed.index - 1][0]} {failed.title!r} got "
                                                  f"{failed.got}" if failed else "it failed")
        raise SimlabError(f"the reference lab of {scenario.name} could not be built: {why}")
    final = recorder.after[len(steps)][0] if steps else recorder.initial
    changes = {index: (step.title, step.section, recorder.after[n][1])
               for n, (index, step) in enumerate(steps, 1) if n in recorder.after}
    return LabState.from_dict(final or {"lab": name}), origins_of(changes)


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
    state, origins = reference
    data = {"state": state.to_dict(),
            "origins": [[list(key), origin.index, origin.title, origin.section] for key, origin in origins.items()]}
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
    return LabState.from_dict(data["state"]), origins

