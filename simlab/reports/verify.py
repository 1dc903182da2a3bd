"""`simlab verify` for a terminal: what is right, what is missing, and why."""

from __future__ import annotations

from simlab.reports.visible import visible
from simlab.state.explain import VerifyReport


def verify_lines(report: VerifyReport) -> list[str]:
    """The report as lines: the differences, each probe (a failing one with its why), notes, the
    verdict; every character that could move the cursor shown escaped (visible.py)."""
    point = f"step {report.upto}" + (f" (section {report.section!r})" if report.section else "")
    lines = [f"lab {report.lab} against {report.scenario} after {point}", ""]
    if report.wrong:
        lines.append("What differs from the reference:")
        lines += [f"  ✘ {d.text}  [{d.source()}]" for d in report.wrong]
    else:
        lines.append("✔ the state matches the reference (namespaces, links, addresses, routes, forwarding, rules)")
    if report.probes:
        lines += ["", "Probes of the scenario, on your lab:"]
    for probe in report.probes:
        result = probe.result
        mark = "✔" if result.passed else "✘"
        lines.append(f"  {mark} {result.index:>2}. {result.title}  ({result.where}: expected {result.expected}, "
                     f"got {result.got})")
        lines += [f"       why: {line}" if n == 0 else f"            {line}" for n, line in enumerate(probe.why)]
        if not result.passed and probe.captured is not None:
            seen = probe.captured or ["no packet of it on any interface of the lab"]
            lines += [f"       seen: {line}" if n == 0 else f"             {line}" for n, line in enumerate(seen)]
    lines += [f"  - not run: {text}" for text in report.skipped]
    if report.notes:
        lines += ["", "Notes (extra, changes no outcome the scenario checks):"]
        lines += [f"  · {d.text}" for d in report.notes]
    verdict = "your lab matches" if report.passed else "your lab differs"
    lines += ["", f"{verdict} ({report.duration:.1f}s)"]
    return [visible(line) for line in lines]  # titles, hints and names come from a file
