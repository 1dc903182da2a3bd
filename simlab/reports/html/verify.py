"""`simlab verify --html`: a learner's lab against its scenario, as one self-contained page."""

from __future__ import annotations

from html import escape

from simlab.graph import from_state, render_svg
from simlab.model.topology import Topology
from simlab.reports.html.page import document
from simlab.state.explain import ProbeCheck, VerifyReport


def verify_page(report: VerifyReport, topology: Topology | None = None) -> str:
    """What differs (each with the step that makes it), each probe (a failing one with why and
    the path its packets took), the notes, and the lab as verify found it."""
    verdict, badge = ("matches", "PASSED") if report.passed else ("differs", "FAILED")
    point = f"step {report.upto}" + (f", section “{report.section}”" if report.section else "")
    header = (f'<h1>{escape(report.lab)} <span class="badge {badge}">{verdict.upper()}</span></h1>'
              f"<p>against {escape(report.scenario)} after {escape(point)}</p><p>{escape(report.file)}</p>")
    failed = [p for p in report.probes if not p.result.passed]
    counts = [("differences", len(report.wrong)), ("probes failed", len(failed)),
              ("probes held", len(report.probes) - len(failed)), ("duration", f"{report.duration:.1f}s")]
    body = ['<div class="counts">' + "".join(f"<div><b>{v}</b>{escape(k)}</div>" for k, v in counts) + "</div>",
            "<h2>What differs from the reference</h2>"]
    if report.wrong:
        body.append('<ul class="changes">' + "".join(
            f'<li class="removed">✘ {escape(d.text)} <span class="section">[{escape(d.source())}]</span></li>'
            for d in report.wrong) + "</ul>")
    else:
        body.append("<p>✔ the state matches the reference (namespaces, links, addresses, routes, forwarding, "
                    "rules)</p>")
    body.append("<h2>Probes of the scenario, on your lab</h2>")
    body += [_probe(probe) for probe in report.probes] or ["<p>none up to this point</p>"]
    if report.skipped:
        body.append("<p>Not run:</p><ul>" + "".join(f"<li>{escape(s)}</li>" for s in report.skipped) + "</ul>")
    if report.notes:
        body.append("<h2>Notes</h2><p class=\"caption\">extra, changes no outcome the scenario checks</p><ul>"
                    + "".join(f"<li>{escape(d.text)}</li>" for d in report.notes) + "</ul>")
    if report.learner is not None:
        body.append("<h2>Your lab as verify found it</h2>")
        body.append(f'<div class="picture">{render_svg(from_state(report.learner, topology))}</div>')
    return document(f"simlab verify: {report.lab}", header, "\n".join(body))


def _probe(probe: ProbeCheck) -> str:
    result = probe.result
    status = "pass" if result.passed else "fail"
    summary = (f'<summary><span class="num">{result.index}.</span><span class="title">{escape(result.title)}</span>'
               f'<span class="section">{escape(result.where)}</span>'
               f'<span class="mark">{"✔" if result.passed else "✘"} {escape(result.got)}</span></summary>')
    parts = [f'<div class="verdict {status}"><div><span class="label">expected</span> <b>{escape(result.expected)}'
             f'</b></div><div><span class="label">got</span> <b>{escape(result.got)}</b></div></div>']
    if probe.why:
        parts.append("<b>Why</b><ul>" + "".join(f"<li>{escape(line)}</li>" for line in probe.why) + "</ul>")
    if not result.passed and probe.captured is not None:
        seen = probe.captured or ["no packet of it on any interface of the lab"]
        parts.append("<b>What the captures on every interface saw</b><ul>"
                     + "".join(f"<li>{escape(line)}</li>" for line in seen) + "</ul>")
    opened = " open" if not result.passed else ""
    return (f'<details class="step {status}" id="probe-{result.index}"{opened}>{summary}'
            f'<div class="body">{"".join(parts)}</div></details>')
