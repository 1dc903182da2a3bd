"""The mutants of a scenario, each one small change to what sets its lab up.

For every setup command (``hosts: NAME: setup:``) and every step that changes the lab (a
run step expected to succeed whose commands do more than look, or a serve step): a
mutant without it, and, for each of its commands with an obvious key argument, a mutant
with that argument altered (commands.py). A mutant is an edit at a YAML path, applied to
the loaded ``Scenario`` to run it (``mutant_scenario``) and to the file's data to write it
out (``mutant_data``): both from one description, so the file and the run are the same.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simlab.errors import InputError
from simlab.model.scenario import Scenario, Step, load_scenario
from simlab.model.yamlsource import Path_, Source, load_yaml
from simlab.mutate.commands import Used, alterations, changes_lab
from simlab.steps import is_run, kind_of


@dataclass(frozen=True)
class Mutant:
    """One change to a scenario. ``path`` is the YAML path of what changed: a setup command
    (``hosts, NAME, setup, I``), a whole step (``steps, I``) or a step's command (``steps, I,
    run[, K]``); ``replacement`` is the new command, None when the thing is left out."""

    number: int
    line: int
    title: str  # the step's title, or "setup of HOST"
    change: str  # what was changed, for people
    path: Path_
    replacement: str | None = None

    @property
    def step_index(self) -> int | None:
        """The index (from 0) of the step this mutant changes; None for a setup command."""
        return int(self.path[1]) if self.path[0] == "steps" else None

    @property
    def removes_step(self) -> bool:
        return self.path[0] == "steps" and len(self.path) == 2

    def to_dict(self) -> dict:
        return {"number": self.number, "line": self.line, "title": self.title, "change": self.change,
                "path": list(self.path), "replacement": self.replacement}


def read(path: str | Path) -> tuple[Scenario, Any, Source]:
    """The scenario in ``path``, the file's data and where each part of it was written."""
    scenario = load_scenario(path)
    data, source = load_yaml(path)
    return scenario, data, source


def generate(scenario: Scenario, source: Source, data: Any) -> list[Mutant]:
    """Every mutant of ``scenario`` (loaded from ``data``, read with ``source``), in file order."""
    used = _used(data)
    found: list[tuple[int, str, str, Path_, str | None]] = []
    for name, host in scenario.topology.hosts.items():
        raw = data["hosts"][name].get("setup") if isinstance(data["hosts"][name], dict) else None
        for i, command in enumerate(host.setup):
            path: Path_ = ("hosts", name, "setup", i) if isinstance(raw, list) else ("hosts", name, "setup")
            found.append((source.line(path), f"setup of {name}", f"left out `{command}`", path, None))
            found += [(source.line(path), f"setup of {name}", f"`{command}`: {alt.describe()}", path, alt.command)
                      for alt in alterations(command, used)]
    for i, step in enumerate(scenario.steps):
        if not step_changes_lab(step):
            continue
        found.append((source.line(("steps", i)), step.title, f"left out the {step.KIND} step", ("steps", i), None))
        if is_run(step):
            listed = isinstance(data["steps"][i]["run"], list)
            for k, command in enumerate(step.commands):
                path = ("steps", i, "run", k) if listed else ("steps", i, "run")
                found += [(source.line(path), step.title, f"`{command}`: {alt.describe()}", path, alt.command)
                          for alt in alterations(command, used)]
    found.sort(key=lambda entry: entry[0])
    return [Mutant(n, line, title, change, path, replacement)
            for n, (line, title, change, path, replacement) in enumerate(found, 1)]


def step_changes_lab(step: Step) -> bool:
    """A step later steps build on (its kind stops the story when it fails: run, serve): a
    serve step, or a run step expected to succeed with a command that does more than look."""
    if not kind_of(step).stops_story:
        return False  # a probe: it only looks
    if not is_run(step):
        return True
    return step.expect == "success" and any(changes_lab(c) for c in step.commands)


def is_check(step: Step) -> bool:
    """Whether a step checks something: a probe, a run step that expects a failure or an
    output, or any step with packet evidence."""
    if step.evidence:
        return True
    if is_run(step):
        return step.expect != "success" or any(v is not None for v in (step.output, step.match, step.not_output))
    return not kind_of(step).stops_story


def only_line(mutants: list[Mutant], scenario: Scenario, line: int) -> list[Mutant]:
    """The mutants of one line: of the setup command or command written there, or of the
    step that starts there. InputError for a line with nothing to mutate."""
    starts = {step.line: i for i, step in enumerate(scenario.steps)}
    chosen = [m for m in mutants if m.line == line or (line in starts and m.step_index == starts[line])]
    if not chosen:
        lines = ", ".join(str(n) for n in sorted({m.line for m in mutants})) or "none"
        raise InputError(f"{scenario.file}:{line}: --only {line}: nothing to mutate on this line "
                         f"(lines with mutants: {lines})")
    return chosen


def mutant_scenario(scenario: Scenario, mutant: Mutant) -> Scenario:
    """A copy of ``scenario`` with ``mutant``'s change; every other step keeps its line."""
    changed = copy.deepcopy(scenario)
    if mutant.path[0] == "hosts":
        setup = changed.topology.hosts[str(mutant.path[1])].setup
        index = int(mutant.path[3]) if len(mutant.path) > 3 else 0
        _put(setup, index, mutant.replacement)
    elif mutant.removes_step:
        del changed.steps[int(mutant.path[1])]
    else:
        step = changed.steps[int(mutant.path[1])]
        assert is_run(step)
        _put(step.commands, int(mutant.path[3]) if len(mutant.path) > 3 else 0, mutant.replacement)
    return changed


def mutant_data(data: Any, mutant: Mutant) -> Any:
    """A copy of the file's data with ``mutant``'s change, to write out as YAML."""
    changed = copy.deepcopy(data)
    *parent_path, last = mutant.path
    parent = changed
    for key in parent_path:
        parent = parent[key]
    if mutant.replacement is not None:
        parent[last] = mutant.replacement
    else:
        del parent[last]
    return changed


def mutant_yaml(data: Any, mutant: Mutant, file: str) -> str:
    """The text of a mutant file: what changed, then the changed scenario."""
    header = (f"# A mutant made by `simlab mutate` from {file}\n"
              f"# mutant {mutant.number}, line {mutant.line} ({mutant.title}): {mutant.change}\n"
              f"# Run it with: simlab run THIS_FILE (a check should fail)\n")
    return header + yaml.safe_dump(mutant_data(data, mutant), sort_keys=False, allow_unicode=True, width=110)


def _put(commands: list[str], index: int, replacement: str | None) -> None:
    if replacement is None:
        del commands[index]
    else:
        commands[index] = replacement


def _used(data: Any) -> Used:
    used = Used()
    for text in _strings(data):
        used.add_text(text)
    return used


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in _strings(key) + _strings(value)]
    if isinstance(data, list):
        return [s for item in data for s in _strings(item)]
    return []
