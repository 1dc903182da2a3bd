"""A grade: a learner's lab held against its scenario, section by section (`simlab grade`).

The lab is verified once, against the scenario's end (or the point graded up to): one
reference for every student. Each section then holds when nothing the scenario makes in
it is missing from the lab and every probe of it that holds at that point holds in the
lab too. A missing fact belongs to the section of the step that makes it (the origins
of explain.py); a difference of what the lab starts with (a learner who turned
forwarding off) belongs to the sections whose failing probes it explains, or else to
the lab as a whole. What a learner has beyond the scenario fails no section unless it
breaks a probe: a complete lab is ahead of every section but the last, which is no fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.model.scenario import Scenario
from simlab.results import verdict_of
from simlab.state.explain import Difference, ProbeCheck, VerifyReport

NO_SECTION = "(steps without a section)"
MAX_WHY = 4  # explanation lines of a failing probe kept in a section's list (all of them are in the JSON)


def sections_of(scenario: Scenario, upto: int) -> list[str]:
    """The sections of steps 1..``upto``, in order (NO_SECTION for steps that have none)."""
    return list(dict.fromkeys(step.section or NO_SECTION for step in scenario.steps[:upto]))


@dataclass
class CommandDone:
    """One command of a submission as it ran in the learner's lab."""

    where: str
    line: int
    command: str
    exit_code: int
    output: str = ""

    def to_dict(self) -> dict:
        return {"where": self.where, "line": self.line, "command": self.command, "exit_code": self.exit_code,
                "output": self.output}


@dataclass
class SectionGrade:
    name: str
    passed: bool
    missing: list[str] = field(default_factory=list)  # what is missing or wrong, and why, in the learner's words

    def to_dict(self) -> dict:
        return {"section": self.name, "passed": self.passed, "missing": self.missing}


@dataclass
class Grade:
    """One student's lab against the scenario: each section, what the whole lab lacks beyond
    them, the commands as they ran, and the verify report it all comes from."""

    student: str
    file: str  # the submission (or the lab's name, for a live lab)
    lab: str = ""
    sections: list[SectionGrade] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # differences no section explains
    commands: list[CommandDone] = field(default_factory=list)
    report: VerifyReport | None = None
    error: str | None = None
    stopped: str = ""
    duration: float = 0.0
    engine: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None and not self.stopped and self.report is not None and self.report.passed

    @property
    def verdict(self) -> str:
        return verdict_of(self.error, self.stopped, self.passed)

    @property
    def passed_sections(self) -> list[int]:
        """The numbers (from 1) of the sections that hold."""
        return [n for n, section in enumerate(self.sections, 1) if section.passed]

    @property
    def failed_commands(self) -> list[CommandDone]:
        return [c for c in self.commands if c.exit_code != 0]

    def first_missing(self) -> str:
        """The first thing missing: of the first section that does not hold, else of the lab."""
        for number, section in enumerate(self.sections, 1):
            if section.missing:
                return f"{number}: {section.missing[0]}"
        return self.elsewhere[0] if self.elsewhere else ""

    def to_dict(self) -> dict:
        return {"student": self.student, "file": self.file, "lab": self.lab, "result": self.verdict,
                "passed": self.passed, "sections_passed": len(self.passed_sections),
                "sections": [s.to_dict() for s in self.sections], "elsewhere": self.elsewhere,
                "commands": [c.to_dict() for c in self.commands], "error": self.error, "stopped": self.stopped,
                "duration": round(self.duration, 3), "engine": self.engine,
                "verify": self.report.to_dict() if self.report is not None else None}


def grade_sections(report: VerifyReport, sections: list[str]) -> tuple[list[SectionGrade], list[str]]:
    """Split ``report`` by section (see the module's docstring): each section's grade, and
    the differences that no section explains."""
    missing: dict[str, list[str]] = {name: [] for name in sections}
    failing = [p for p in report.probes if not p.result.passed]
    elsewhere = []
    for difference in report.wrong:
        homes = _homes(difference, failing, missing)
        for home in homes:
            missing[home].append(difference.text)
        if not homes:
            elsewhere.append(difference.text)
    for probe in failing:
        result = probe.result
        lines = missing.setdefault(result.section or NO_SECTION, [])
        why = [line for line in probe.why if not _said(line, lines, result.section)]
        lines += [f"{result.index}. {result.title}: expected {result.expected}, got {result.got}",
                  *(f"  why: {line}" for line in why[:MAX_WHY])]
    return [SectionGrade(name, not lines, lines) for name, lines in missing.items()], elsewhere


def _said(line: str, lines: list[str], section: str) -> bool:
    """Whether a probe's explanation line repeats what its section's list says already: a
    difference listed there, or the advice to reread that very section."""
    return any(said in line for said in lines) or line == f"reread the section {section!r}"


def _homes(difference: Difference, failing: list[ProbeCheck], sections: dict[str, list[str]]) -> list[str]:
    """The sections a difference belongs to: its step's, or those of the failing probes it explains."""
    origin = difference.origin
    if origin.index:
        return [origin.section or NO_SECTION] if (origin.section or NO_SECTION) in sections else []
    explained = [p.result.section or NO_SECTION for p in failing
                 if any(difference.text in line for line in p.why)]
    return [name for name in dict.fromkeys(explained) if name in sections]
