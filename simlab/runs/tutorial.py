"""`simlab tutorial`: a scenario as lessons a learner builds by hand, one section at a time.

A lesson is one section of the scenario: the steps that share its `section`. The learner
builds it in a lab of their own (started like `simlab up`), then asks for a check: the lab
is verified against the scenario at the end of that section (verify.py), and a lab that
matches moves the learner on. Where the learner is survives leaving: it is kept in a small
file per lab (progress_dir()), and a lab that is gone is rebuilt up to there from the
scenario's own steps.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from simlab.engines.client import Engine
from simlab.events import Emit, ignore
from simlab.labs.lab import LABEL_LAB, LABEL_ROLE, open_lab
from simlab.model.lessons import Lesson
from simlab.model.scenario import Scenario
from simlab.runs.verify import verify_lab
from simlab.state.explain import VerifyReport


def progress_dir() -> Path:
    """Where each tutorial lab's progress is kept: $SIMLAB_STATE, else $XDG_STATE_HOME/simlab,
    else ~/.local/state/simlab; one `tutorial/LAB.json` per lab."""
    override = os.environ.get("SIMLAB_STATE")
    base = Path(override) if override else \
        Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "simlab"
    return base / "tutorial"


@dataclass
class Progress:
    """Where a learner is in a tutorial lab: the lesson they are on, and the ones checked done."""

    lab: str
    scenario: str  # the scenario file
    lesson: int = 1
    done: list[int] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return progress_dir() / f"{self.lab}.json"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"lab": self.lab, "scenario": self.scenario, "lesson": self.lesson,
                                         "done": sorted(set(self.done))}) + "\n")
        temporary.replace(self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def saved_progress(lab: str, scenario: Scenario) -> Progress | None:
    """The progress kept for ``lab`` if it is a tutorial of ``scenario``; None otherwise (none
    kept, unreadable, or of another scenario: a new start)."""
    path = Progress(lab, scenario.file).path
    try:
        data = json.loads(path.read_text())
        lesson, done = int(data["lesson"]), [int(n) for n in data.get("done", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if Path(str(data.get("scenario", ""))).resolve() != Path(scenario.file).resolve():
        return None
    return Progress(lab, scenario.file, max(1, lesson), done)


def lab_is_up(engine: Engine, lab: str) -> bool:
    return bool(engine.containers({LABEL_LAB: lab, LABEL_ROLE: "host"}))


def check_lesson(engine: Engine, lab: str, scenario: Scenario, lesson: Lesson, emit: Emit = ignore,
                 ) -> VerifyReport:
    """Verify the learner's lab at the end of ``lesson`` (read-only)."""
    return verify_lab(engine, lab, scenario, lesson.last_step, emit=emit)


def solve_lesson(engine: Engine, lab: str, lesson: Lesson) -> list[tuple[str, int, str]]:
    """Run the lesson's commands on the learner's lab, as the scenario would: (command, exit
    code, output) of each, stopping at the first that fails."""
    running = open_lab(engine, lab)
    done = []
    try:
        for step, commands in lesson.solution():
            for command in commands:
                result = running.exec(step.host, command, step.netns)
                done.append((command, result.exit_code, result.output))
                if result.exit_code != 0 and getattr(step, "expect", "success") == "success":
                    return done
    finally:
        running.close_shells()
    return done
