"""The `simlab tutorial` session: a prompt where a learner asks for a lesson's goal, a shell,
a check, a hint or the solution, and moves on when a check says the lesson is done.

It reads what the learner types through ``ask`` and shows everything through ``say`` (the
CLI passes input() and print; tests pass a script), opens shells through ``open_shell``,
and keeps where the learner is after every move (runs/tutorial.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from simlab import api
from simlab.engines.client import Engine
from simlab.errors import InputError, SimlabError
from simlab.events import Emit, ignore
from simlab.labs.lab import destroy_lab
from simlab.model.lessons import Lesson, lesson_named, lessons
from simlab.model.scenario import Scenario
from simlab.reports import tutorial as text
from simlab.reports.visible import visible
from simlab.runs import verify
from simlab.runs.tutorial import Progress, check_lesson, lab_is_up, saved_progress, solve_lesson
from simlab.state.explain import VerifyReport

Say = Callable[[str], None]
Ask = Callable[[str], str]
OpenShell = Callable[[str, "str | None"], None]


def prepare(engine: Engine, scenario: Scenario, lab: str, at: str | None = None, restart: bool = False,
            emit: Emit = ignore) -> Progress:
    """The learner's lab, up, and where they are in it: kept progress when the lab is a
    tutorial of ``scenario``; a lab that is gone is started again and built by the scenario's
    own steps up to the lesson the learner is on (or ``at``)."""
    all_lessons = lessons(scenario)
    if restart:
        destroy_lab(engine, lab)
        Progress(lab, scenario.file).forget()
    up = lab_is_up(engine, lab)
    if up:
        verify.lab_scenario(engine, lab, scenario.file)  # InputError when the lab is of another scenario
    progress = saved_progress(lab, scenario) or Progress(lab, scenario.file)
    if at is not None:
        progress.lesson = lesson_named(all_lessons, at).number
    progress.lesson = min(progress.lesson, len(all_lessons))
    if not up:
        _start(engine, scenario, lab, all_lessons[progress.lesson - 1], emit)
    progress.save()
    return progress


def _start(engine: Engine, scenario: Scenario, lab: str, lesson: Lesson, emit: Emit) -> None:
    before = lesson.steps[0][0] - 1  # the steps of the lessons before this one
    if not before:
        api.start(scenario, engine=engine, name=lab, emit=emit)
        return
    result = api.run(verify.first_steps(scenario, before), engine=engine, name=lab, keep=True, emit=emit)
    if result.exit_code != 0:
        destroy_lab(engine, lab)
        raise SimlabError(f"{scenario.file}: the scenario's own steps 1..{before} did not go as expected "
                          f"(`simlab run {scenario.file}` shows which); the lab was removed")


class Session:
    """One learner at the prompt (see the module's docstring)."""

    def __init__(self, engine: Engine, scenario: Scenario, progress: Progress, say: Say, ask: Ask,
                 open_shell: OpenShell, again: str = "") -> None:
        self.engine, self.scenario, self.progress = engine, scenario, progress
        self.again = again or f"simlab tutorial {scenario.file} --lab {progress.lab}"  # how to come back
        self.say, self.ask, self.open_shell = say, ask, open_shell
        self.lessons = lessons(scenario)
        self.last: VerifyReport | None = None
        self.actions: dict[str, Callable[[list[str]], bool]] = {
            "shell": self.shell, "check": self.check, "hint": self.hint, "solution": self.solution,
            "solve": self.solve, "goal": self.goal, "lessons": self.list_lessons, "go": self.go,
            "help": self.help, "quit": self.quit, "exit": self.quit}

    @property
    def lesson(self) -> Lesson:
        return self.lessons[self.progress.lesson - 1]

    def run(self) -> None:
        """The prompt, until the learner quits (or their input ends)."""
        self.goal([])
        while True:
            try:
                line = self.ask(f"tutorial {self.progress.lab} [{self.lesson.number}/{len(self.lessons)}]> ")
            except (EOFError, KeyboardInterrupt):  # Ctrl-D, Ctrl-C at the prompt: leave as `quit` does
                self.say("")
                line = "quit"
            try:
                words = shlex.split(line)
            except ValueError as exc:
                self.say(f"cannot read that line: {exc}")
                continue
            if words and not self.one(words):
                return

    def one(self, words: list[str]) -> bool:
        """Do one command; False when it ends the session."""
        action = self.actions.get(words[0].lower())
        if action is None:
            self.say(visible(f"no command {words[0]!r}; type `help` for the commands"))
            return True
        try:
            return action(words[1:])
        except KeyboardInterrupt:
            self.say("interrupted")
        except SimlabError as exc:  # a lab removed meanwhile, an engine that went away: say it, stay
            self.say(visible(f"error: {exc}"))
        return True

    def lines(self, lines: list[str]) -> None:
        for line in lines:
            self.say(line)

    def goal(self, _: list[str]) -> bool:
        self.lines(text.goal_lines(self.lesson, len(self.lessons), self.progress.lab))
        return True

    def shell(self, args: list[str]) -> bool:
        hosts = [step.host for _, step in self.lesson.to_build or self.lesson.steps]
        host = args[0] if args else hosts[0]
        if host not in self.scenario.topology.hosts:
            raise InputError(f"no host {host!r} in this lab (hosts: {', '.join(sorted(self.scenario.topology.hosts))})")
        netns = args[1] if len(args) > 1 else None
        self.say(f"shell on {host}" + (f" in netns {netns}" if netns else "") + "; `exit` brings you back here")
        self.open_shell(host, netns)
        return True

    def check(self, _: list[str]) -> bool:
        self.say(f"checking lesson {self.lesson.number} ({self.lesson.title}) ...")
        self.last = check_lesson(self.engine, self.progress.lab, self.scenario, self.lesson)
        self.lines(text.check_lines(self.last, self.lesson))
        if self.last.passed:
            self.progress.done.append(self.lesson.number)
            if self.lesson.number == len(self.lessons):
                self.say("You have built the whole lab. `quit` to leave it up, then `simlab down "
                         f"{self.progress.lab}` to remove it.")
            else:
                self._move(self.lesson.number + 1)
        self.progress.save()
        return True

    def hint(self, _: list[str]) -> bool:
        self.lines(text.hint_lines(self.lesson, self.last))
        return True

    def solution(self, _: list[str]) -> bool:
        self.lines(text.solution_lines(self.lesson))
        return True

    def solve(self, _: list[str]) -> bool:
        for command, exit_code, output in solve_lesson(self.engine, self.progress.lab, self.lesson):
            self.say(visible(f"{'✔' if exit_code == 0 else '✘'} {command}"))
            self.lines([visible(f"    {line}") for line in output.splitlines()])
        self.say("now `check` it")
        return True

    def list_lessons(self, _: list[str]) -> bool:
        self.lines(text.lessons_lines(self.lessons, self.lesson.number, self.progress.done))
        return True

    def go(self, args: list[str]) -> bool:
        if not args:
            raise InputError("go to which lesson? `go N` or `go SECTION` (`lessons` lists them)")
        self._move(lesson_named(self.lessons, " ".join(args)).number)
        self.progress.save()
        return True

    def _move(self, number: int) -> None:
        self.progress.lesson = number
        self.last = None
        self.goal([])

    def help(self, _: list[str]) -> bool:
        self.lines(text.help_lines())
        return True

    def quit(self, _: list[str]) -> bool:
        self.progress.save()
        self.lines([f"Your lab {self.progress.lab} stays up, and you are on lesson {self.lesson.number}.",
                    f"Come back with:  {self.again}",
                    f"Remove it with:  simlab down {self.progress.lab}"])
        return False
