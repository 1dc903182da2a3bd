"""The report of a batch (`simlab validate`, one shard of it, or `simlab merge`), and the one
path that writes it as JSON, JUnit and HTML from the same result objects.

The JSON is an object: which simlab wrote it, the scenario set it ran (every file, in report
order, and a digest of their contents), which shard of that set it holds (``null`` for a whole
run), which shards a merged report came from, and the results, one per file, as `simlab run
--json` writes one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from simlab.model.scenario import Scenario
from simlab.reports.html import index_page, page_name, scenario_page
from simlab.reports.junit import junit_xml
from simlab.reports.terminal import write_text
from simlab.results import ScenarioResult

REPORT_FORMAT = 1  # the JSON's layout; a merge refuses reports of another


@dataclass
class BatchReport:
    version: str  # simlab's
    scenario_set: dict  # {"digest": ..., "files": [...]}
    results: list[ScenarioResult]
    shard: dict | None = None  # {"index": I, "total": N, "split": digest of the split}
    merged: list[str] = field(default_factory=list)  # the shards a merged report came from: ["1/3", ...]

    def to_dict(self) -> dict:
        return {"simlab": self.version, "format": REPORT_FORMAT, "scenarios": self.scenario_set,
                "shard": self.shard, "merged": self.merged, "results": [r.to_dict() for r in self.results]}


def report_json(report: BatchReport) -> str:
    """The report as JSON: its header indented, then one result a line (the C encoder, which
    indenting would forgo: 1000 results take 0.1 s instead of 1.5 s)."""
    data = report.to_dict()
    results = data.pop("results")
    head = json.dumps(data, indent=2, ensure_ascii=False)
    lines = ",\n".join("    " + json.dumps(r, ensure_ascii=False) for r in results)
    return head[:-2] + (f',\n  "results": [\n{lines}\n  ]\n}}\n' if results else ',\n  "results": []\n}\n')


@dataclass
class Destinations:
    """Where the reports go; None: not asked for."""

    json: str | None = None
    junit: str | None = None
    html: str | None = None  # a folder: index.html and a page per scenario


def write_reports(report: BatchReport, to: Destinations, scenarios: dict[str, Scenario]) -> None:
    """Every report asked for, from the same results. ``scenarios`` (by file) give the HTML its
    pictures and descriptions; a result without one gets a page without them."""
    if to.json:
        write_text(report_json(report), to.json)
    if to.junit:
        write_text(junit_xml(report.results), to.junit)
    if to.html:
        write_html_report(Path(to.html), report.results, scenarios)


def write_html_report(folder: Path, results: list[ScenarioResult], scenarios: dict[str, Scenario]) -> None:
    pages: list[str] = []
    for result in results:
        scenario = scenarios.get(result.file)
        name = page_name(result)
        if name in pages:  # two scenarios of one name
            name = f"{name[:-5]}-{len(pages)}.html"
        pages.append(name)
        write_text(scenario_page(result, scenario.topology if scenario else None,
                                 scenario.description if scenario else "", scenario.tutorial if scenario else ""),
                   str(folder / name))
    write_text(index_page(results, pages), str(folder / "index.html"))
