"""`simlab tutorial` without an engine: lessons from sections, progress kept, the prompt's commands.

The session's checks are replaced by scripted verify reports; tests/runs/test_tutorial_lab.py
types into the real command on the real engine.
"""

from __future__ import annotations

import pytest

from simlab import tutor
from simlab.errors import InputError
from simlab.model.lessons import lesson_named, lessons
from simlab.model.scenario import load_scenario, resolve_scenario
from simlab.results import StepResult
from simlab.runs.tutorial import Progress, saved_progress
from simlab.state.diff import Change
from simlab.state.explain import Difference, ProbeCheck, VerifyReport


@pytest.fixture
def scenario():
    return load_scenario(resolve_scenario("gateway-nat"))


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLAB_STATE", str(tmp_path / "state"))


def test_the_lessons_are_the_sections_in_order(scenario):
    found = lessons(scenario)
    assert [lesson.title for lesson in found][:3] == [
        "Create Network Namespaces", "Create a Network Bridge", "Attach Interfaces to the Bridge"]
    assert [lesson.title for lesson in found][-2:] == ["Network Gateways and NAT", "Internet Access"]
    nat = lesson_named(found, "network gateways and nat")
    assert [i for i, _ in nat.steps] == [9, 10, 11, 12, 13] and nat.last_step == 13
    assert [step.title for step, builds in nat.story() if builds] == [
        "Route 172.17.0.0/16 from red via the bridge address", "Masquerade red and blue behind container-a"]
    assert nat.solution()[1][1] == ["iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE"]
    assert lesson_named(found, "5").title == "Test Communication" and not lesson_named(found, "5").to_build


def test_an_unknown_lesson_names_the_choices(scenario):
    with pytest.raises(InputError, match=r"no lesson 'NAT'.*7 'Network Gateways and NAT'"):
        lesson_named(lessons(scenario), "NAT")
    with pytest.raises(InputError, match="no lesson '9'"):
        lesson_named(lessons(scenario), "9")


def test_progress_survives_and_belongs_to_its_scenario(scenario, tmp_path):
    Progress("lab1", scenario.file, 4, [1, 2, 3]).save()
    kept = saved_progress("lab1", scenario)
    assert (kept.lesson, kept.done) == (4, [1, 2, 3])
    other = load_scenario(resolve_scenario("bridge"))
    assert saved_progress("lab1", other) is None  # a lab of another scenario starts over
    kept.path.write_text("{not json")
    assert saved_progress("lab1", scenario) is None


def report(passed: bool, upto: int) -> VerifyReport:
    made = VerifyReport("lab1", "gateway-nat", "x.yaml", upto, "Network Gateways and NAT")
    if not passed:
        change = Change(True, "rule", "container-a", "", "POSTROUTING nat -A POSTROUTING -s 192.168.15.0/24 "
                        "-j MASQUERADE")
        made.differences.append(Difference(change, "no MASQUERADE for 192.168.15.0/24 on container-a", True))
        result = StepResult(13, "The outside host replies", "ping", "container-a/red", [], "reply", "no-reply", False)
        made.probes.append(ProbeCheck(result, ["the reply leaves outside:eth0 for 172.17.0.1"]))
    return made


class Learner:
    """A scripted learner: what they type, and everything the session says."""

    def __init__(self, lines: list[str]) -> None:
        self.lines, self.said, self.shells = list(lines), [], []

    def ask(self, prompt: str) -> str:
        self.said.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def text(self) -> str:
        return "\n".join(self.said)


def session(scenario, learner: Learner, verdicts: list[bool], monkeypatch, lesson: int = 7) -> tutor.Session:
    checks = []

    def check_lesson(engine, lab, scenario, lesson):
        checks.append(lesson.number)
        return report(verdicts.pop(0), lesson.last_step)

    monkeypatch.setattr(tutor, "check_lesson", check_lesson)
    progress = Progress("lab1", scenario.file, lesson)
    made = tutor.Session(None, scenario, progress, say=learner.said.append, ask=learner.ask,
                         open_shell=lambda host, netns: learner.shells.append((host, netns)),
                         again="simlab tutorial gateway-nat --lab lab1")
    made.checks = checks
    return made


def test_a_wrong_lesson_is_explained_and_a_right_one_moves_on(scenario, monkeypatch):
    learner = Learner(["goal", "shell", "check", "hint", "check", "quit"])
    made = session(scenario, learner, [False, True], monkeypatch)
    made.run()
    said = learner.text()
    assert "Lesson 7/8: Network Gateways and NAT" in said
    assert "• Route 172.17.0.0/16 from red via the bridge address  [on container-a]" in said
    assert "→ you should see: The outside host replies" in said
    assert "ip netns exec red ip route add" not in said.split("Lesson 8/8")[0]  # the goal never shows commands
    assert learner.shells == [("container-a", None)]
    assert "✘ no MASQUERADE for 192.168.15.0/24 on container-a" in said
    assert "why: the reply leaves outside:eth0 for 172.17.0.1" in said
    assert "hint: outside answers only addresses it can route back to" in said
    assert "your last check found: no MASQUERADE for 192.168.15.0/24 on container-a" in said
    assert "✔ Lesson 7 (Network Gateways and NAT) is done" in said
    assert "Lesson 8/8: Internet Access" in said and "tutorial lab1 [8/8]> " in said
    assert "Come back with:  simlab tutorial gateway-nat --lab lab1" in said
    assert made.checks == [7, 7]
    kept = saved_progress("lab1", scenario)
    assert (kept.lesson, kept.done) == (8, [7])


def test_solution_lessons_go_and_mistyped_commands(scenario, monkeypatch):
    learner = Learner(["solution", "lessons", "go 2", "go nowhere", "chek", "shell nohost", "shell container-a red",
                       "'unclosed"])
    made = session(scenario, learner, [], monkeypatch)
    made.run()
    said = learner.text()
    assert "# Masquerade red and blue behind container-a  (on container-a)\n" \
           "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE" in said
    assert "  ▶ 7. Network Gateways and NAT" in said
    assert "Lesson 2/8: Create a Network Bridge" in said
    assert "error: no lesson 'nowhere'" in said
    assert "no command 'chek'; type `help`" in said
    assert "error: no host 'nohost' in this lab" in said
    assert learner.shells == [("container-a", "red")]
    assert "cannot read that line" in said
    assert saved_progress("lab1", scenario).lesson == 2  # input ended: left where the learner was


def test_the_last_lesson_done_says_so(scenario, monkeypatch):
    learner = Learner(["check", "quit"])
    session(scenario, learner, [True], monkeypatch, lesson=8).run()
    assert "You have built the whole lab." in learner.text()
