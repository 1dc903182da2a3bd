"""The lab's state after every step of a run, for `simlab run --explain` and `--html`.

A ``StateRecorder`` is the runner's StepWatch. Before the first step it inspects
every host; after each step that changes the lab (run), the inspect script runs in the step's own exec
(runs/script.py), so recording costs no exec of its own, and its output replaces that
host's part of the state. A ping changes nothing worth showing: its state is the
one before. Each step gets the state after it and the changes since the step
before; ``attach`` puts them on the results.
"""

from __future__ import annotations

from simlab.events import Emit, Event, ignore
from simlab.labs.lab import Lab
from simlab.model.scenario import Scenario
from simlab.results import ScenarioResult
from simlab.state.collect import SCRIPT, host_state, inspect_lab, match_peers
from simlab.state.diff import Change, diff_states
from simlab.state.model import LabState
from simlab.steps import Step, StepRun, kind_of


class StateRecorder:
    def __init__(self, scenario: Scenario, emit: Emit = ignore) -> None:
        self.scenario = scenario
        self.emit = emit
        self.initial: dict | None = None
        self.after: dict[int, tuple[dict, list[Change]]] = {}  # step index -> (state, changes)
        self._current: LabState | None = None
        self._current_dict: dict | None = None

    def after_step(self, step: Step) -> str | None:
        return SCRIPT if kind_of(step).changes_lab else None

    def __call__(self, lab: Lab, index: int, run: StepRun | None) -> None:
        if self._current is None or run is None:
            self._current = inspect_lab(lab, self.scenario.topology)
            self._current_dict = self.initial = self._current.to_dict()
            if run is None:
                return
        changes: list[Change] = []
        if kind_of(run.step).changes_lab:
            host = run.step.host
            # A step stopped by a failing command has no after-output: look at its host once more.
            fresh = host_state(host, run.after) if run.after else inspect_lab(lab, None, [host]).hosts[host]
            before = self._current
            self._current = LabState(lab.name, {**before.hosts, host: fresh})
            match_peers(self._current, self.scenario.topology)
            changes = diff_states(before, self._current)
            if changes:
                self._current_dict = self._current.to_dict()
        assert self._current_dict is not None  # set with self._current, on the first call
        self.after[index] = (self._current_dict, changes)
        self.emit(Event("step.state", f"state after step {index}", lab.name, payload=(index, changes)))

    def attach(self, result: ScenarioResult) -> None:
        """Put the recorded states and changes on the results of the steps that ran."""
        result.lab_state = self.initial
        for step in result.steps:
            if not step.skipped and step.index in self.after:
                state, changes = self.after[step.index]
                step.state, step.changes = state, [c.to_dict() for c in changes]
