"""`simlab tutorial` for a terminal: a lesson's goal, the lessons, a solution, a check's verdict."""

from __future__ import annotations

import textwrap

from simlab.model.lessons import Lesson
from simlab.reports.verify import verify_lines
from simlab.reports.visible import visible
from simlab.state.explain import VerifyReport

COMMANDS = [
    ("shell [HOST] [NETNS]", "open a shell on the lesson's host (exit it to come back here)"),
    ("check", "verify your lab against this lesson; done moves you on"),
    ("hint", "a hint, and what your last check found missing"),
    ("solution", "the commands the scenario runs for this lesson"),
    ("solve", "run them on your lab (then check)"),
    ("goal", "this lesson's goal again"),
    ("lessons", "every lesson, with the ones done"),
    ("go N|SECTION", "move to another lesson"),
    ("quit", "leave; the lab stays up and you come back where you were"),
]


def goal_lines(lesson: Lesson, count: int, lab: str) -> list[str]:
    """What the lesson asks, in the scenario's words (titles and notes) and order, not its
    commands: what to build (•) and what to see happen on the way (→)."""
    lines = ["", f"Lesson {lesson.number}/{count}: {lesson.title}", ""]
    if not lesson.to_build:
        lines.append("Nothing to build in this lesson: check that what you built so far behaves.")
    for step, builds in lesson.story():
        if builds:
            lines += _item("•", step.title, step.host + (f" (netns {step.netns})" if step.netns else ""), step.note)
        else:
            lines += _item("→", f"you should see: {step.title}", "", step.note)
    lines += ["", f"Type `shell` to work on lab {lab}, `check` when you are done, `help` for more."]
    return [visible(line) for line in lines]


def _item(mark: str, title: str, where: str, note: str) -> list[str]:
    lines = [f"  {mark} {title}" + (f"  [on {where}]" if where else "")]
    lines += [f"      {line}" for line in textwrap.wrap(" ".join(note.split()), 72)] if note else []
    return lines


def lessons_lines(lessons: list[Lesson], current: int, done: list[int]) -> list[str]:
    lines = []
    for lesson in lessons:
        mark = "✔" if lesson.number in done else "▶" if lesson.number == current else " "
        lines.append(f"  {mark} {lesson.number}. {lesson.title}")
    return [visible(line) for line in lines]


def solution_lines(lesson: Lesson) -> list[str]:
    if not lesson.to_build:
        return ["This lesson builds nothing: `check` it."]
    lines = []
    for step, commands in lesson.solution():
        lines.append(f"# {step.title}  (on {step.host}" + (f", netns {step.netns})" if step.netns else ")"))
        lines += [f"{command}" for command in commands]
    return [visible(line) for line in lines]


def hint_lines(lesson: Lesson, last: VerifyReport | None) -> list[str]:
    lines = [f"hint: {hint}" for hint in lesson.hints()]
    if last is not None and not last.passed:
        lines += [f"your last check found: {d.text}" for d in last.wrong[:3]]
        lines += [f"and: {why}" for probe in last.probes if not probe.result.passed for why in probe.why[:1]]
    if not lines:
        lines = ["No hint written for this lesson. Reread its goal (`goal`), `check` to see what is missing, "
                 "or look at `solution`."]
    return [visible(line) for line in lines]


def check_lines(report: VerifyReport, lesson: Lesson) -> list[str]:
    """A check's verdict: the whole verify report when something is missing, a line when done."""
    if report.passed:
        return [visible(f"✔ Lesson {lesson.number} ({lesson.title}) is done: your lab matches "
                        f"({report.duration:.1f}s).")]
    lines = verify_lines(report)
    return lines[2:] + [visible(f"Reread the tutorial's section {lesson.title!r}; `hint` for more.")]


def help_lines() -> list[str]:
    width = max(len(command) for command, _ in COMMANDS)
    return [f"  {command.ljust(width)}  {text}" for command, text in COMMANDS]
