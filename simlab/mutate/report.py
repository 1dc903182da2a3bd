"""A mutation report for people (terminal lines, an HTML page in `run --html`'s style) and
for tools (``MutationReport.to_dict``); and the progress line while the mutants run."""

from __future__ import annotations

import sys
import threading
from html import escape
from pathlib import Path
from typing import TextIO

from simlab.events import Event
from simlab.mutate.run import CAUGHT, ERROR, SURVIVED, MutantResult, MutationReport
from simlab.reports.html.page import document
from simlab.reports.terminal import FAIL_MARK, PASS_MARK, paint
from simlab.reports.visible import visible

MARKS = {CAUGHT: (PASS_MARK, "green"), SURVIVED: (FAIL_MARK, "red"), ERROR: ("!", "yellow")}


def report_lines(report: MutationReport, color: bool = False) -> list[str]:
    """Every mutant with its verdict and why; the checks each survivor left passing; the score.
    Titles, commands and outcomes come from files and hosts: each line shows them escaped."""
    name = visible(Path(report.file).name)
    lines = []
    for judged in report.mutants:
        lines += _mutant_lines(judged, name, color)
    return lines + [""] + score_lines(report)


def _mutant_lines(judged: MutantResult, name: str, color: bool) -> list[str]:
    mutant = judged.mutant
    mark, fg = MARKS[judged.verdict]
    verdict = paint(f"{mark} {judged.verdict.upper() if judged.verdict != CAUGHT else judged.verdict:<8}", color,
                    fg=fg, bold=judged.verdict != CAUGHT)
    lines = [f"{mutant.number:>4}. {verdict} {name}:{mutant.line}  {visible(mutant.title)}",
             f"        {visible(mutant.change)}"]
    if judged.verdict == CAUGHT:
        lines.append(f"        caught: {visible(judged.how)}")
    elif judged.verdict == ERROR:
        lines.append(f"        error: {visible(judged.how)}")
    elif judged.still_passed:
        lines.append("        no check failed; these still passed:")
        lines += [f"          {PASS_MARK} {visible(check.describe())}" for check in judged.still_passed]
    else:
        lines.append("        no check comes after this change")
    if judged.written:
        lines.append(f"        file: {visible(judged.written)}")
    return lines


def score_lines(report: MutationReport) -> list[str]:
    """The score line, and the survivors by file:line."""
    if not report.mutants:
        return [f"{visible(report.scenario)}: nothing to mutate (no setup command and no step that changes the lab)"]
    line = f"{visible(report.scenario)}: score {report.score}"
    if report.survived:
        line += f", {len(report.survived)} survived"
    if report.errors:
        line += f", {len(report.errors)} could not be judged"
    lines = [line + f" in {report.duration:.1f}s"]
    for judged in report.survived:
        lines.append(visible(f"  {FAIL_MARK} survived: {report.file}:{judged.mutant.line} {judged.mutant.title}: "
                             f"{judged.mutant.change}"))
    if report.survived:
        lines.append("  add a check that a lab broken this way would fail; `simlab mutate FILE --only LINE "
                     "--write DIR` writes such a lab's file to run by hand")
    return lines


class MutateProgress:
    """An Emit for the mutants' batch: a live count on a terminal; elsewhere only what the
    engines say (images built, an engine given up)."""

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self.total = total
        self.running = self.done = 0
        self._lock = threading.Lock()  # events come from every lab's thread

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event.kind == "validate.start":
                self.running += 1
            elif event.kind == "validate.done":
                self.running -= 1
                self.done += 1
            elif event.kind in ("engine.down", "engine.image", "engine.skipped") or (
                    event.kind.startswith("image.") and event.kind != "image.line"):
                print(("\n" if self.live else "") + f"  {event.message}", file=self.out, flush=True)
            if self.live:
                print(f"\r  running: {self.done}/{self.total} labs done, {self.running} running ", end="",
                      file=self.out, flush=True)

    def finish(self) -> None:
        if self.live:
            print(file=self.out)


def html_page(report: MutationReport, description: str = "") -> str:
    """The report as one self-contained page, in the style of `simlab run --html`."""
    verdict = "PASSED" if report.exit_code == 0 else "FAILED" if report.exit_code == 1 else "ERROR"
    header = (f'<h1>simlab mutate: {escape(report.scenario)} <span class="badge {verdict}">'
              f"{escape(report.score)}</span></h1>"
              + (f"<p>{escape(description)}</p>" if description else "") + f"<p>{escape(report.file)}</p>")
    counts = [("caught", report.caught), ("survived", len(report.survived)), ("errors", len(report.errors)),
              ("mutants", len(report.mutants)), ("duration", f"{report.duration:.1f}s")]
    body = ['<div class="counts">' + "".join(f"<div><b>{v}</b>{k}</div>" for k, v in counts) + "</div>"]
    if not report.mutants:
        body.append('<div class="verdict">nothing to mutate: no setup command and no step that changes the lab'
                    "</div>")
    body.append('<h2>Mutants</h2><div class="toolbar"><button id="expand">open all</button> '
                '<button id="collapse">close all</button></div>')
    body += [_mutant_html(judged, Path(report.file).name) for judged in report.mutants]
    return document(f"simlab mutate: {report.scenario}", header, "\n".join(body))


def _mutant_html(judged: MutantResult, name: str) -> str:
    mutant = judged.mutant
    status = {CAUGHT: "pass", SURVIVED: "fail", ERROR: "skip"}[judged.verdict]
    mark = MARKS[judged.verdict][0]
    summary = (f'<summary><span class="num">{mutant.number}.</span><span class="title">{escape(mutant.title)}'
               f'</span><span class="section">{escape(name)}:{mutant.line}</span>'
               f'<span class="mark">{mark} {escape(judged.verdict)}</span></summary>')
    parts = [f"<pre>{escape(mutant.change)}</pre>"]
    if judged.verdict == SURVIVED:
        items = "".join(f'<li class="added">{PASS_MARK} {escape(c.describe())}: {escape(c.got)}</li>'
                        for c in judged.still_passed) or "<li>no check comes after this change</li>"
        parts.append(f'<div class="verdict fail"><b>survived:</b> no check after this change failed</div>'
                     f'<div><b>Checks that still passed</b><ul class="changes">{items}</ul></div>')
    else:
        parts.append(f'<div class="verdict{" fail" if judged.verdict == ERROR else ""}">'
                     f'<span class="label">{escape(judged.verdict)}</span> {escape(judged.how)}</div>')
    if judged.written:
        parts.append(f'<p class="note">mutant file: {escape(judged.written)}</p>')
    opened = " open" if judged.verdict != CAUGHT else ""
    return (f'<details class="step {status}" id="mutant-{mutant.number}"{opened}>{summary}'
            f'<div class="body">{"".join(parts)}</div></details>')
