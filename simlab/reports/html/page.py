"""The HTML of a scenario's report and of the index of a validate run."""

from __future__ import annotations

import base64
import re
from html import escape

from simlab.graph import from_state, from_topology, render_svg
from simlab.model.topology import Topology
from simlab.results import ScenarioResult, StepResult
from simlab.state.diff import Change
from simlab.state.model import LabState

CSS = """
:root { --pass: #2b8a3e; --fail: #c92a2a; --skip: #868e96; --accent: #e8590c; --ink: #212529; --muted: #6c757d;
        --line: #dee2e6; --bg: #f8f9fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
header.top { background: #1b1f24; color: #fff; padding: 22px 28px; }
header.top .inner { max-width: 1180px; margin: 0 auto; }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 2px 0; color: #ced4da; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 12px; font-weight: 700;
         letter-spacing: .04em; color: #fff; vertical-align: middle; }
.badge.PASSED, .badge.pass { background: var(--pass); }
.badge.FAILED, .badge.fail, .badge.ERROR { background: var(--fail); }
.badge.STOPPED, .badge.skip { background: var(--skip); }
.counts { display: flex; gap: 12px; margin: 18px 0; flex-wrap: wrap; }
.counts div { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; }
.counts b { font-size: 20px; display: block; }
.counts .jump { border-color: #ffc9c9; background: #fff5f5; display: flex; align-items: center; }
.counts .jump a { color: var(--fail); font-weight: 600; }
.toolbar { margin: 8px 0 14px; } button { font: inherit; padding: 4px 12px; border-radius: 6px;
  border: 1px solid var(--line); background: #fff; cursor: pointer; } button:hover { background: #e9ecef; }
details.step { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--pass);
               border-radius: 8px; margin: 10px 0; }
details.step.fail { border-left-color: var(--fail); } details.step.skip { border-left-color: var(--skip); opacity: .8; }
details.step > summary { cursor: pointer; padding: 10px 16px; list-style: none; display: flex; gap: 12px;
                         align-items: baseline; }
details.step > summary::-webkit-details-marker { display: none; }
summary .num { font-weight: 700; color: var(--muted); min-width: 2em; text-align: right; }
summary .title { font-weight: 600; flex: 1; } summary .section { color: var(--muted); font-size: 13px; }
summary .mark { font-weight: 700; } .pass .mark { color: var(--pass); } .fail .mark { color: var(--fail); }
.skip .mark { color: var(--skip); }
.body { padding: 0 18px 16px 56px; }
.note { color: #495057; border-left: 3px solid var(--line); padding-left: 10px; margin: 4px 0 10px; }
pre { background: #1b1f24; color: #e9ecef; padding: 10px 12px; border-radius: 6px; overflow-x: auto;
      font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 6px 0; }
pre .prompt { color: #69db7c; }
.verdict { margin: 8px 0; } .verdict.fail { background: #fff5f5; border: 1px solid #ffc9c9; border-radius: 6px;
  padding: 8px 12px; } .verdict .label { color: var(--muted); display: inline-block; min-width: 6em; }
ul.changes { margin: 6px 0; padding-left: 0; list-style: none; font: 13px ui-monospace, Menlo, Consolas, monospace; }
ul.changes li.added { color: var(--pass); } ul.changes li.removed { color: var(--fail); }
.picture { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; background: #fff; margin-top: 8px; }
.picture svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
h2 { margin: 28px 0 8px; font-size: 18px; } p.caption { margin: 0 0 4px; color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); }
th { background: #e9ecef; } a { color: #1864ab; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
"""

SCRIPT = """
document.addEventListener("DOMContentLoaded", function () {
  var steps = document.querySelectorAll("details.step");
  function all(open) { steps.forEach(function (d) { d.open = open; }); }
  var expand = document.getElementById("expand"), collapse = document.getElementById("collapse");
  if (expand) expand.addEventListener("click", function () { all(true); });
  if (collapse) collapse.addEventListener("click", function () { all(false); });
});
"""


def page_name(result: ScenarioResult) -> str:
    """The file name of a scenario's page in a validate report."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", result.scenario) + ".html"


def document(title: str, header: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>"
            f'<header class="top"><div class="inner">{header}</div></header>\n<main>{body}'
            f"<footer>Made by simlab. This page is self-contained: it needs no network.</footer></main>"
            f"<script>{SCRIPT}</script></body></html>\n")


def scenario_page(result: ScenarioResult, topology: Topology | None, description: str = "",
                  tutorial: str = "") -> str:
    """One scenario's report: summary, the lab as built, then every step."""
    done = [s for s in result.steps if not s.skipped]
    passed = sum(s.passed for s in done)
    header = (f'<h1>{escape(result.scenario)} <span class="badge {result.verdict}">{result.verdict}</span></h1>'
              + (f"<p>{escape(description)}</p>" if description else "")
              + (f"<p>reproduces: {escape(tutorial)}</p>" if tutorial else "")
              + f"<p>{escape(result.file)}</p>")
    counts = [("passed", passed), ("failed", len(done) - passed), ("skipped", len(result.steps) - len(done)),
              ("duration", f"{result.duration:.1f}s")]
    first_failure = next((s for s in result.steps if not s.passed and not s.skipped), None)
    jump = (f'<div class="jump"><a href="#step-{first_failure.index}">first failure: step {first_failure.index}, '
            f'{escape(first_failure.title)}</a></div>' if first_failure else "")
    body = ['<div class="counts">' + "".join(f"<div><b>{v}</b>{k}</div>" for k, v in counts) + jump + "</div>"]
    if result.error:
        body.append(f'<div class="verdict fail"><b>error:</b> {escape(result.error)}</div>')
    if result.stopped:
        body.append(f'<div class="verdict fail"><b>stopped:</b> {escape(result.stopped)}</div>')
    body.append("<h2>The lab as built</h2>")
    body.append(_end_picture(result, topology))
    body.append('<h2>Steps</h2><div class="toolbar"><button id="expand">open all</button> '
                '<button id="collapse">close all</button></div>')
    body += [_step(step, topology) for step in result.steps]
    return document(f"simlab: {result.scenario}", header, "\n".join(body))


def _end_picture(result: ScenarioResult, topology: Topology | None) -> str:
    """The lab as it ended: the state after the last step that ran (what steps made included),
    else as it was before step 1, else as the file declares it."""
    last = next((s for s in reversed(result.steps) if s.state is not None), None)
    if last is None:
        return _picture(result.lab_state, topology, [])
    caption = f'<p class="caption">as it was after step {last.index}, the last step that ran</p>'
    return caption + _picture(last.state, topology, [])


def _picture(state: dict | None, topology: Topology | None, changes: list[Change]) -> str:
    if state is not None:
        picture = from_state(LabState.from_dict(state), topology, changes)
    elif topology is not None:
        picture = from_topology(topology)
    else:
        return ""
    return f'<div class="picture">{render_svg(picture)}</div>'


def _step(step: StepResult, topology: Topology | None) -> str:
    status = "skip" if step.skipped else "pass" if step.passed else "fail"
    mark = {"pass": "✔", "fail": "✘", "skip": "–"}[status]
    outcome = "skipped" if step.skipped else step.got
    summary = (f'<summary><span class="num">{step.index}.</span><span class="title">{escape(step.title)}</span>'
               f'<span class="section">{escape(step.section)}</span>'
               f'<span class="mark">{mark} {escape(outcome)}</span></summary>')
    parts = []
    if step.note:
        parts.append(f'<p class="note">{escape(step.note)}</p>')
    parts.append(_transcript(step))
    parts.append(_verdict(step, status))
    for reason in step.why:
        parts.append(f'<p class="note"><b>Why:</b> {escape(reason)}</p>')
    if step.hint and status == "fail":
        parts.append(f'<p class="note"><b>Hint:</b> {escape(step.hint)}</p>')
    if step.evidence:
        parts.append(_packets(step))
    changes = [Change.from_dict(c) for c in step.changes or []]
    shown_changes = [c for c in changes if c.what != "host"]
    if shown_changes:
        items = "".join(f'<li class="{"added" if c.added else "removed"}">{escape(c.text())}</li>'
                        for c in shown_changes)
        parts.append(f'<div><b>What changed in the lab</b><ul class="changes">{items}</ul></div>')
    if step.state is not None:
        parts.append(_picture(step.state, topology, changes))
    opened = " open" if status == "fail" else ""
    return (f'<details class="step {status}" id="step-{step.index}"{opened}>{summary}'
            f'<div class="body">{"".join(parts)}</div></details>')


def _transcript(step: StepResult) -> str:
    """The commands as typed, each followed by what it printed."""
    prompt = f'<span class="prompt">{escape(step.where)} $</span> '
    if step.kind != "run":  # a probe: shown as the learner would type it (the full command is in the JSON)
        typed = step.shown or [f"ping {step.target}"]
        lines = [prompt + escape(command) for command in typed] + [escape(line) for line in step.output.splitlines()]
    elif step.output:  # a run step's output is its transcript: "$ command" lines, then what each printed
        lines = [prompt + escape(line[2:]) if line.startswith("$ ") else escape(line)
                 for line in step.output.splitlines()]
    else:
        lines = [prompt + escape(command) for command in step.commands]
    return "<pre>" + "\n".join(lines) + "</pre>"


def _packets(step: StepResult) -> str:
    """The packet evidence: each seen/unseen expectation, then where the captures saw packets go."""
    items = "".join(f'<li class="{"removed" if line.lstrip().startswith("✘") else "added"}">{escape(line)}</li>'
                    for line in step.evidence)
    seen = "\n".join(escape(packet) for packet in step.packets) or "(no packets captured)"
    path = "".join(f"<li>{escape(flow)}</li>" for flow in step.path)
    path = f"<b>The path they took</b><ul>{path}</ul>" if path else ""
    return f'<div><b>The packets</b><ul class="changes">{items}</ul>{path}<pre>{seen}</pre>{_download(step)}</div>'


PCAPNG = b"\n\r\r\n"  # how a pcapng file begins (its section header block); a pcap begins with its magic


def _download(step: StepResult) -> str:
    """The step's packets as a file for Wireshark, inside the page (a data: link keeps it self-contained)."""
    if not step.pcap:
        return ""
    kind = "pcapng" if base64.b64decode(step.pcap[:8]).startswith(PCAPNG) else "pcap"
    return (f'<p><a class="pcap" download="step-{step.index}.{kind}" '
            f'href="data:application/vnd.tcpdump.pcap;base64,{escape(step.pcap)}">'
            f"These packets as {kind}</a> (open in Wireshark)</p>")


def _verdict(step: StepResult, status: str) -> str:
    if status == "skip":
        return '<div class="verdict">skipped: an earlier step did not go as expected</div>'
    if status == "fail":
        return (f'<div class="verdict fail"><div><span class="label">expected</span> <b>{escape(step.expected)}</b>'
                f'</div><div><span class="label">got</span> <b>{escape(step.got)}</b></div></div>')
    return (f'<div class="verdict"><span class="label">outcome</span> <b>{escape(step.got)}</b>'
            f' as expected ({step.duration:.2f}s)</div>')


def index_page(results: list[ScenarioResult], pages: list[str]) -> str:
    """The summary table of a validate run, linking each scenario's page (``pages[i]`` for ``results[i]``)."""
    rows = []
    for r, page in zip(results, pages):
        done = [s for s in r.steps if not s.skipped]
        passed = sum(s.passed for s in done)
        name = escape(r.scenario)
        link = f'<a href="{escape(page)}">{name}</a>'
        why = escape(r.error or r.stopped or "; ".join(f"step {s.index}: expected {s.expected}, got {s.got}"
                                                         for s in r.failed_steps))
        rows.append(f'<tr><td>{link}</td><td><span class="badge {r.verdict}">{r.verdict}</span></td>'
                    f"<td>{passed} passed / {len(done) - passed} failed</td><td>{r.duration:.1f}s</td>"
                    f"<td>{why}</td></tr>")
    ok = sum(r.passed for r in results)
    header = f"<h1>simlab validate</h1><p>{ok} of {len(results)} scenario(s) passed</p>"
    body = ("<table><thead><tr><th>scenario</th><th>result</th><th>steps</th><th>duration</th><th>what went wrong"
            "</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return document("simlab validate", header, body)
