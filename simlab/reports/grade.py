"""`simlab grade` for people and tools: the terminal table, CSV, JUnit, HTML and JSON of the
same grades (state/grade.py), and the progress line while the labs run.

Every text from a submission or a lab (names, commands, their output, what is missing)
is shown escaped on a terminal (visible.py), escaped in HTML, made XML-safe in JUnit,
and kept from being read as a formula in CSV.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from html import escape
from typing import Any, TextIO

from simlab.reports.html.page import document
from simlab.reports.junit import junit_xml
from simlab.reports.terminal import FAIL_MARK, PASS_MARK, VERDICT_COLORS, CountingProgress, paint, write_text
from simlab.reports.visible import visible, visible_text
from simlab.results import ScenarioResult, StepResult
from simlab.state.grade import Grade

MISSING_WIDTH = 72  # characters of the MISSING column; every line is in the details below the table
DETAIL_LINES = 6  # lines of one section's explanation under the table (all of them in JSON and HTML)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


def section_lines(scenario: str, upto: int, sections: list[str]) -> list[str]:
    """The sections graded, numbered as the table's PASSED column names them."""
    lines = [f"{visible(scenario)}, graded through step {upto}: {len(sections)} section(s)"]
    return lines + [f"  {n:>2} {visible(name)}" for n, name in enumerate(sections, 1)]


def ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5'; [] -> '-'."""
    parts: list[str] = []
    for n in numbers:
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts) or "-"


def grade_table(grades: list[Grade], color: bool = False) -> list[str]:
    """STUDENT, RESULT, SECTIONS held/all, PASSED (their numbers), MISSING (the first thing
    missing); then, for each student who misses something, what and why."""
    rows = [("STUDENT", "RESULT", "SECTIONS", "PASSED", "MISSING")]
    for g in grades:
        first = visible(g.error or g.stopped or g.first_missing())
        if len(first) > MISSING_WIDTH:
            first = first[:MISSING_WIDTH - 1] + "…"
        held = f"{len(g.passed_sections)}/{len(g.sections)}" if g.sections else "-"
        rows.append((visible(g.student), g.verdict, held, ranges(g.passed_sections) if g.sections else "-", first))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        if color and n > 0:
            cells[1] = paint(cells[1], True, fg=VERDICT_COLORS[row[1]])
        lines.append("  ".join(cells).rstrip())
    for g in grades:
        lines += detail_lines(g)
    return lines


def detail_lines(grade: Grade) -> list[str]:
    """What a student misses, section by section, and the commands that failed."""
    name = visible(grade.student)
    if grade.error or grade.stopped:
        return [f"{name}: {'error' if grade.error else 'stopped'}: {visible_text(grade.error or grade.stopped)}"]
    lines = []
    for number, section in enumerate(grade.sections, 1):
        if section.passed:
            continue
        lines.append(f"{name}: {FAIL_MARK} {number} {visible(section.name)}")
        lines += [f"{name}:     {visible(line)}" for line in section.missing[:DETAIL_LINES]]
        if len(section.missing) > DETAIL_LINES:
            lines.append(f"{name}:     ... {len(section.missing) - DETAIL_LINES} more line(s) (--json, --html)")
    lines += [f"{name}: {FAIL_MARK} the lab: {visible(line)}" for line in grade.elsewhere]
    for command in grade.failed_commands:
        said = visible(command.output.splitlines()[0]) if command.output else "(no output)"
        lines.append(f"{name}: command failed: {visible(grade.file)}:{command.line} ({visible(command.where)}) "
                     f"`{visible(command.command)}` exited {command.exit_code}: {said}")
    return lines


def summary_line(grades: list[Grade]) -> str:
    passed = sum(g.passed for g in grades)
    errors = sum(g.error is not None for g in grades)
    return (f"{passed} of {len(grades)} submission(s) hold every section"
            + (f", {errors} could not be graded" if errors else ""))


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def grade_csv(grades: list[Grade], sections: list[str]) -> str:
    """One row per student: result, sections held, one column per section (pass/fail), the
    first thing missing, commands that failed, the file, the time, the error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "result", "sections_passed", "sections", *sections, "missing", "failed_commands",
                     "file", "duration", "error"])
    for g in grades:
        marks = [("pass" if s.passed else "fail") for s in g.sections] or [""] * len(sections)
        writer.writerow([_cell(str(v)) for v in (
            g.student, g.verdict, len(g.passed_sections), len(sections), *marks, g.first_missing(),
            len(g.failed_commands), g.file, f"{g.duration:.1f}", g.error or g.stopped)])
    return out.getvalue()


def grade_junit(grades: list[Grade]) -> str:
    """One testsuite per student, one testcase per section (and one for the lab as a whole
    when something missing belongs to no section)."""
    return junit_xml([_as_result(g) for g in grades], name="simlab grade")


def _as_result(grade: Grade) -> ScenarioResult:
    cases = [(section.name, section.passed, section.missing) for section in grade.sections]
    if grade.elsewhere:
        cases.append(("the lab as a whole", False, grade.elsewhere))
    steps = [StepResult(index=n, title=title, kind="section", where=grade.student, commands=[],
                        expected="the section held",
                        got="held" if passed else f"missing: {missing[0]}", passed=passed,
                        output="\n".join(missing)) for n, (title, passed, missing) in enumerate(cases, 1)]
    return ScenarioResult(grade.student, grade.file, grade.lab, steps, grade.error, grade.duration, grade.stopped,
                          engine=grade.engine)


def grade_json(grades: list[Grade], version: str, scenario: str, file: str, upto: int, sections: list[str]) -> dict:
    return {"simlab": version, "scenario": scenario, "file": file, "upto": upto, "sections": sections,
            "passed": all(g.passed for g in grades), "results": [g.to_dict() for g in grades]}


GRADE_CSS = """
td.student { white-space: nowrap; }
td.cell { text-align: center; font-weight: 700; } td.cell.pass { color: var(--pass); }
td.cell.fail { color: var(--fail); background: #fff5f5; } th.section { writing-mode: vertical-rl;
transform: rotate(180deg); font-weight: 600; font-size: 13px; max-height: 220px; }
"""


def grade_html(grades: list[Grade], scenario: str, upto: int, sections: list[str]) -> str:
    """One self-contained page: a student-by-section table, then each student's details."""
    header = (f"<h1>simlab grade: {escape(scenario)}</h1><p>{escape(summary_line(grades))}; "
              f"graded through step {upto}</p>")
    heads = "".join(f'<th class="section" title="{escape(s)}">{n}. {escape(s)}</th>'
                    for n, s in enumerate(sections, 1))
    rows = []
    for g in grades:
        cells = "".join(f'<td class="cell {"pass" if s.passed else "fail"}">{PASS_MARK if s.passed else FAIL_MARK}'
                        f"</td>" for s in g.sections) or f'<td colspan="{len(sections)}"></td>'
        rows.append(f'<tr><td class="student"><a href="#{_anchor(g)}">{escape(g.student)}</a></td>'
                    f'<td><span class="badge {g.verdict}">{g.verdict}</span></td>{cells}'
                    f"<td>{escape(g.error or g.stopped or g.first_missing())}</td></tr>")
    body = [f"<style>{GRADE_CSS}</style>",
            f"<table><thead><tr><th>student</th><th>result</th>{heads}<th>first thing missing</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>",
            '<h2>Students</h2><div class="toolbar"><button id="expand">open all</button> '
            '<button id="collapse">close all</button></div>']
    body += [_student_html(g) for g in grades]
    return document(f"simlab grade: {scenario}", header, "\n".join(body))


def _anchor(grade: Grade) -> str:
    return "student-" + "".join(c if c.isalnum() else "-" for c in grade.student)


def _student_html(grade: Grade) -> str:
    status = "pass" if grade.passed else "fail"
    held = f"{len(grade.passed_sections)}/{len(grade.sections)} sections" if grade.sections else grade.verdict
    summary = (f'<summary><span class="title">{escape(grade.student)}</span>'
               f'<span class="section">{escape(grade.file)}</span><span class="mark">{escape(held)}</span></summary>')
    parts = []
    if grade.error or grade.stopped:
        parts.append(f'<div class="verdict fail">{escape(grade.error or grade.stopped)}</div>')
    for number, section in enumerate(grade.sections, 1):
        mark = PASS_MARK if section.passed else FAIL_MARK
        lines = "".join(f"<li>{escape(line)}</li>" for line in section.missing)
        parts.append(f'<div class="verdict{"" if section.passed else " fail"}"><b>{mark} {number}. '
                     f'{escape(section.name)}</b>{f"<ul>{lines}</ul>" if lines else ""}</div>')
    if grade.elsewhere:
        items = "".join(f"<li>{escape(line)}</li>" for line in grade.elsewhere)
        parts.append(f'<div class="verdict fail"><b>{FAIL_MARK} the lab as a whole</b><ul>{items}</ul></div>')
    if grade.commands:
        shown = []
        for c in grade.commands:
            shown.append(f'<span class="prompt">{escape(c.where)} $</span> {escape(c.command)}'
                         + (f"   # exited {c.exit_code}" if c.exit_code else ""))
            shown += [escape(line) for line in c.output.splitlines()[:20]]
        parts.append(f"<b>The commands as they ran</b><pre>{chr(10).join(shown)}</pre>")
    opened = "" if grade.passed else " open"
    return (f'<details class="step {status}" id="{_anchor(grade)}"{opened}>{summary}'
            f'<div class="body">{"".join(parts)}</div></details>')


class GradeProgress(CountingProgress):
    """`simlab grade`'s, on standard error: a line per student."""

    kind, doing, failing = "grade", "grading", "missing something"

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        super().__init__(total, out or sys.stderr)

    def line(self, payload: Any) -> str:
        grade: Grade = payload
        held = f" {len(grade.passed_sections)}/{len(grade.sections)} sections" if grade.sections else ""
        return f"{grade.verdict:<7} {visible(grade.student)}{held} ({grade.duration:.1f}s)"


@dataclass
class GradeHeader:
    """What every report of one grade run says of it."""

    version: str  # simlab's
    scenario: str
    file: str
    upto: int
    sections: list[str]


def write_grade_reports(grades: list[Grade], to: dict[str, str | None], header: GradeHeader) -> None:
    """Every report asked for in ``to`` (csv, junit, html, json: a path, or '-' for standard
    output), from the same grades."""
    sections = header.sections
    writers = {"csv": lambda: grade_csv(grades, sections), "junit": lambda: grade_junit(grades),
               "html": lambda: grade_html(grades, header.scenario, header.upto, sections),
               "json": lambda: json.dumps(grade_json(grades, header.version, header.scenario, header.file,
                                                     header.upto, sections), indent=2, ensure_ascii=False) + "\n"}
    for kind, destination in to.items():
        if destination:
            write_text(writers[kind](), destination)
