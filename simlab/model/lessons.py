"""A scenario as lessons: one per section, for a learner who builds each by hand (`simlab tutorial`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.errors import InputError
from simlab.model.scenario import Scenario
from simlab.steps import Step, kind_of


@dataclass
class Lesson:
    """One section of the scenario: its steps, numbered as in the scenario (1-based)."""

    number: int
    title: str
    steps: list[tuple[int, Step]] = field(default_factory=list)

    @property
    def last_step(self) -> int:
        return self.steps[-1][0]

    @property
    def to_build(self) -> list[tuple[int, Step]]:
        """The steps that change the lab: what the learner types."""
        return [(i, step) for i, step in self.steps if kind_of(step).changes_lab]

    def story(self) -> list[tuple[Step, bool]]:
        """The steps in order, each with whether it builds (True) or probes (False)."""
        return [(step, kind_of(step).changes_lab) for _, step in self.steps]

    def solution(self) -> list[tuple[Step, list[str]]]:
        """Each step to build with the commands the scenario runs for it."""
        return [(step, kind_of(step).commands(step)) for _, step in self.to_build]

    def hints(self) -> list[str]:
        return [step.hint for _, step in self.steps if step.hint]


def lessons(scenario: Scenario) -> list[Lesson]:
    """The scenario's sections in order; steps without a section join the lesson before them
    (or a first lesson named after the scenario)."""
    found: list[Lesson] = []
    for index, step in enumerate(scenario.steps, 1):
        title = step.section or (found[-1].title if found else scenario.name)
        if not found or found[-1].title != title:
            found.append(Lesson(len(found) + 1, title))
        found[-1].steps.append((index, step))
    if not found:
        raise InputError(f"{scenario.file}: {scenario.name} has no steps: there is nothing to learn by hand")
    return found


def lesson_named(all_lessons: list[Lesson], wanted: str) -> Lesson:
    """A lesson by number (1..N) or section title (any case); InputError naming the choices."""
    if wanted.strip().isdigit() and 1 <= int(wanted) <= len(all_lessons):
        return all_lessons[int(wanted) - 1]
    for lesson in all_lessons:
        if lesson.title.casefold() == wanted.strip().casefold():
            return lesson
    choices = "; ".join(f"{lesson.number} {lesson.title!r}" for lesson in all_lessons)
    raise InputError(f"no lesson {wanted!r}: the lessons are {choices}")
