"""Render progress events and results: for a terminal, and as JSON for tools."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
import threading
from typing import Any, TextIO

import typer

from simlab.errors import InputError
from simlab.events import Event
from simlab.reports.progress import LabStatus
from simlab.reports.visible import visible, visible_lines, visible_text
from simlab.results import ScenarioResult, StepResult

PASS_MARK, FAIL_MARK, SKIP_MARK = "✔", "✘", "-"


class TerminalProgress:
    """An Emit that prints what the core does, as it happens."""

    def __init__(self, out: TextIO | None = None, explain: bool = False) -> None:
        self.out = out or sys.stdout
        self.color = wants_color(self.out)
        self.explain = explain  # print what each step changed in the lab (recorded states)
        self.status = LabStatus(self.out, live_line(self.out))
        self._lock = threading.RLock()  # a lab's containers start in threads of their own

    def __call__(self, event: Event) -> None:
        with self._lock:
            if not self.status.take(event):
                self._show(event)

    def _show(self, event: Event) -> None:
        if event.kind == "step.start":
            index, step = event.payload
            self._header(index, visible(step.title), visible(step.section))
            if step.note:
                for line in textwrap.wrap(step.note, 74):
                    self.line(f"      {visible(line)}", dim=True)
        elif event.kind == "step.done":
            for line in step_lines(event.payload, color=self.color):
                self.line(line)
        elif event.kind == "step.state":
            if self.explain:
                self._changes(*event.payload)
        elif event.kind == "image.line":
            self.line(f"  | {visible(event.message)}", dim=True)
        else:
            self.line(f"  {visible_text(event.message)}", dim=True)

    def _header(self, index: int, title: str, section: str) -> None:
        self.line("")
        suffix = paint(f"  [{section}]", self.color, dim=True) if section else ""
        self.line(f"{index:>3}. {paint(title, self.color, bold=True)}{suffix}")

    def _changes(self, index: int, changes: list) -> None:
        shown = [c for c in changes if c.what != "host"]
        if not shown:
            return
        self.line("      changed in the lab:", dim=True)
        for change in shown:
            color = "green" if change.added else "red"
            self.line(f"        {paint(change.text(), self.color, fg=color)}")

    def line(self, text: str, dim: bool = False) -> None:
        if dim:
            text = paint(text, self.color, dim=True)
        with self._lock:
            self.status.clear()
            print(text, file=self.out, flush=True)


def live_line(stream: TextIO) -> bool:
    """Whether a line may update itself in place: a terminal that is not a dumb one."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


def wants_color(stream: TextIO) -> bool:
    """Colour on a terminal; never with NO_COLOR set (no-color.org), always with FORCE_COLOR set
    (for CI logs that render ANSI); NO_COLOR wins when both are."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


VERDICT_COLORS = {"PASSED": "green", "FAILED": "red", "ERROR": "yellow", "STOPPED": "yellow"}


def paint(text: str, color: bool, **style) -> str:
    """``text`` styled for a terminal, or as it is when output is not one."""
    return typer.style(text, **style) if color else text


def step_lines(step: StepResult, color: bool = False) -> list[str]:
    """The commands of a step, its outcome with a mark, and on failure expected vs. got and the output
    (every text from a file or a command with its control characters escaped)."""
    step = _visible(step)
    # A probe shows as the learner would type it; the full command is in the JSON.
    lines = [f"      {step.where} $ {command}" for command in (step.shown or step.commands)]
    if step.skipped:
        lines.append(f"      {SKIP_MARK} skipped: an earlier step did not go as expected")
        return lines
    if step.passed:
        mark = paint(PASS_MARK, color, fg="green")
        lines.append(f"      {mark} {step.got}{_as_expected(step)}  ({step.duration:.2f}s{_attempts(step)})")
        if step.kind == "run" and step.got.startswith("failure"):  # the error the learner came to see
            lines += [f"      | {line}" for line in visible_lines(step.output) if not line.startswith("$ ")]
        return lines + _evidence_lines(step)
    mark = paint(FAIL_MARK, color, fg="red", bold=True)
    lines.append(f"      {mark} expected {step.expected}, got {step.got}  ({step.duration:.2f}s{_attempts(step)})")
    lines += [f"      why: {visible(reason)}" for reason in step.why]
    if step.hint:
        lines.append(f"      hint: {step.hint}")
    lines += [f"      | {line}" for line in visible_lines(step.output or "(no output)")]
    return lines + _evidence_lines(step)


def _visible(step: StepResult) -> StepResult:
    """A copy of ``step`` whose one-line texts are safe to print (the output is escaped line by line)."""
    return dataclasses.replace(
        step, title=visible(step.title), where=visible(step.where), expected=visible(step.expected),
        got=visible(step.got), hint=visible(step.hint), commands=[visible(c) for c in step.commands],
        shown=[visible(c) for c in step.shown], evidence=[visible(e) for e in step.evidence],
        path=[visible(p) for p in step.path], packets=[visible(p) for p in step.packets])


MAX_PACKETS = 12  # a probe's packets in a sealed lab are few; a flood is cut short


def _evidence_lines(step: StepResult) -> list[str]:
    """The packet evidence: each expectation, then the packets the captures saw."""
    if not step.evidence:
        return []
    lines = [f"      {line}" for line in step.evidence]
    lines += [f"      path: {flow}" for flow in step.path]
    lines += [f"      > {packet}" for packet in step.packets[:MAX_PACKETS]]
    if len(step.packets) > MAX_PACKETS:
        lines.append(f"      > ... {len(step.packets) - MAX_PACKETS} more (all in --json)")
    if not step.packets:
        lines.append("      > (no packets captured)")
    return lines


def _attempts(step: StepResult) -> str:
    return f", {step.attempts} attempts" if step.attempts > 1 else ""


def _as_expected(step: StepResult) -> str:
    return "" if step.got.startswith(("reply", "success", "open", "ready", "route", "path")) else ", as expected"


def _cell(text: str, width: int, verdict: bool) -> str:
    """A table cell padded to ``width``; a verdict in its colour (padded first: colour takes no room)."""
    padded = text.ljust(width)
    return paint(padded, True, fg=VERDICT_COLORS[text]) if verdict and text in VERDICT_COLORS else padded


def summary_lines(result: ScenarioResult) -> list[str]:
    done = [s for s in result.steps if not s.skipped]
    passed = sum(s.passed for s in done)
    failed = len(done) - passed
    skipped = len(result.steps) - len(done)
    verdict = result.verdict + (f" ({visible(result.stopped)})" if result.stopped else "")
    lines = [f"{visible(result.scenario)}: {verdict}: {passed} passed, {failed} failed"
             + (f", {skipped} skipped" if skipped else "") + f" in {result.duration:.1f}s"]
    for step in map(_visible, result.failed_steps):
        lines.append(f"  {FAIL_MARK} step {step.index} ({visible(result.file)}:{step.line}) {step.title}: "
                     f"expected {step.expected}, got {step.got}")
    if result.error:
        lines.append(f"  error: {visible_text(result.error)}")
    return lines


def write_json(data: object, destination: str) -> None:
    """Write JSON to a file, or to standard output when ``destination`` is '-'."""
    write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", destination)


def write_text(text: str, destination: str) -> None:
    """Write a report to a file (InputError if it cannot be written), or to standard output for '-'."""
    if destination == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        except OSError as exc:
            raise InputError(f"cannot write the report to standard output: {exc.strerror or exc}") from None
        # The command line's standard output never raises (entry.py): it says when it broke.
        raw = getattr(getattr(sys.stdout, "buffer", None), "raw", None)
        if raw is not None and getattr(raw, "broken", False):
            raise InputError(f"cannot write the report to standard output: {raw.error or 'the write failed'}")
        return
    try:
        with open(destination, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {destination}: {exc.strerror}") from None


class CountingProgress:
    """An Emit for many labs at once: a live count on a terminal (``doing``: 3/8 done, 2
    running, 1 ``failing``), a line per lab elsewhere (``line``); engine and image news
    between. Subclasses name their events (``kind``.start, ``kind``.done) and their line."""

    kind, doing, failing = "validate", "validating", "failed"

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self.total = total
        self.running = self.done = self.failed = 0
        self._lock = threading.Lock()  # events come from every lab's thread

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._show(event)

    def line(self, payload: Any) -> str:
        raise NotImplementedError

    def _show(self, event: Event) -> None:
        if event.kind == f"{self.kind}.start":
            self.running += 1
        elif event.kind == f"{self.kind}.done":
            self.running = max(self.running - 1, 0)
            self.done += 1
            self.failed += not event.payload.passed
            if not self.live:
                print(self.line(event.payload), file=self.out, flush=True)
        elif event.kind in ("engine.down", "engine.image", "engine.skipped") or event.kind.startswith("image."):
            if event.kind != "image.line":
                print(("\n" if self.live else "") + f"  {visible_text(event.message)}", file=self.out, flush=True)
        if self.live:
            print(f"\r  {self.doing}: {self.done}/{self.total} done, {self.running} running, {self.failed} "
                  f"{self.failing} ", end="", file=self.out, flush=True)

    def finish(self) -> None:
        if self.live:
            print(file=self.out)


class BatchProgress(CountingProgress):
    """`simlab validate`'s: a line per scenario."""

    def line(self, payload: Any) -> str:
        result: ScenarioResult = payload
        return f"{result.verdict:<7} {visible(result.scenario)} ({result.duration:.1f}s)"


def results_table(results: list[ScenarioResult], color: bool = False) -> list[str]:
    """SCENARIO, RESULT, STEPS passed/failed, DURATION; then what went wrong, one line each
    (``color``: the RESULT of each scenario in its colour)."""
    engines = len({r.engine for r in results if r.engine}) > 1
    rows = [("SCENARIO", "RESULT", "STEPS", "DURATION") + (("ENGINE",) if engines else ())]
    for r in results:
        done = [s for s in r.steps if not s.skipped]
        passed = sum(s.passed for s in done)
        row = (visible(r.scenario), r.verdict, f"{passed} passed/{len(done) - passed} failed", f"{r.duration:.1f}s")
        rows.append(row + ((r.engine + (f" (retried {len(r.retries)}x)" if r.retries else ""),) if engines else ()))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(_cell(cell, w, color and n > 0 and i == 1) for i, (cell, w) in enumerate(zip(row, widths)))
             .rstrip() for n, row in enumerate(rows)]
    for r in results:
        name = visible(r.scenario)
        lines += [f"{name}: retried: {visible(retry)}" for retry in r.retries]
        if not r.passed:
            lines += [f"{name}: {line}" for line in summary_lines(r)[1:]]
            if r.stopped:
                lines.append(f"{name}: {visible(r.stopped)}")
    return lines
