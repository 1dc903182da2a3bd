"""`simlab merge`: the JSON reports of the shards of one run, read, checked against each other
and combined into the report one unsharded run would have written (results in the same
order, the scenario set the same). Anything that would make the merged report lie is an
InputError of one line: a report cut short, reports of different simlab versions, scenario
sets or splits, one shard twice, a scenario in two reports. A shard whose report is missing
leaves its scenarios as errors in the merged report, and the merge says so.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from simlab.errors import InputError
from simlab.reports.batch import REPORT_FORMAT, BatchReport
from simlab.results import ScenarioResult

SHOWN = 5  # names listed in a one-line message before "and N more"


@dataclass
class Merged:
    report: BatchReport
    missing: str = ""  # why the merged report is incomplete; "" when it is whole


def read_report(path: str) -> BatchReport:
    """A shard's (or a whole run's) JSON report; InputError naming the file and what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a JSON report of simlab validate (not UTF-8 text)") from None
    if not text.strip():
        raise InputError(f"{path}: empty: the job that wrote it stopped before its report; run that shard again")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or not text.rstrip().endswith(("}", "]")):  # a report ends with }
            raise InputError(f"{path}: the report ends early (line {exc.lineno}): it was cut short; "
                             f"run that shard again") from None
        raise InputError(f"{path}:{exc.lineno}: not JSON ({exc.msg}): not a report of simlab validate --json") from None
    return _parse(path, data)


def _parse(path: str, data: object) -> BatchReport:
    if isinstance(data, list):
        raise InputError(f"{path}: a report without its scenario set and shard (an older simlab wrote it); "
                         f"run the shards again with this simlab")
    if not isinstance(data, dict) or "simlab" not in data or "results" not in data:
        raise InputError(f"{path}: not a report of simlab validate --json")
    if data.get("format") != REPORT_FORMAT:
        raise InputError(f"{path}: report format {data.get('format')!r} (simlab {data['simlab']}); this simlab "
                         f"reads format {REPORT_FORMAT}: merge with the simlab that ran the shards")
    try:
        scenarios, shard = data["scenarios"], data["shard"]
        scenario_set = {"digest": str(scenarios["digest"]), "files": list(scenarios["files"])}
        report = BatchReport(str(data["simlab"]), scenario_set,
                             [ScenarioResult.from_dict(r) for r in data["results"]],
                             None if shard is None else {"index": int(shard["index"]), "total": int(shard["total"]),
                                                         "split": str(shard["split"])},
                             list(data.get("merged", [])))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a complete report of simlab validate --json ({type(exc).__name__}: {exc})") \
            from None
    return report


def shard_name(report: BatchReport) -> str:
    return f"{report.shard['index']}/{report.shard['total']}" if report.shard else "1/1"


def merge(reports: list[tuple[str, BatchReport]]) -> Merged:
    """One report from the shards' ones (path, report); InputError when they do not belong together."""
    if not reports:
        raise InputError("give the JSON reports of the shards: simlab merge shard-*.json --junit all.xml")
    _check_alike(reports)
    expected = reports[0][1].scenario_set["files"]
    pool: dict[str, list[ScenarioResult]] = {}
    seen_in: dict[str, list[str]] = {}
    for path, report in reports:
        for result in report.results:
            pool.setdefault(result.file, []).append(result)
            seen_in.setdefault(result.file, []).append(path)
    _refuse_duplicates(expected, pool, seen_in)
    missing = _missing_shards(reports)
    results = []
    for file in expected:
        if pool.get(file):
            results.append(pool[file].pop(0))
        else:
            results.append(ScenarioResult(Path(file).stem, file, error=f"not reported: {missing or 'no shard ran it'}"))
    absent = [r.file for r in results if r.error and r.error.startswith("not reported: ")]
    first = reports[0][1]
    merged = BatchReport(first.version, first.scenario_set, results, None,
                         sorted((shard_name(r) for _, r in reports), key=lambda n: int(n.split("/")[0])))
    problem = ""
    if absent:
        problem = (f"{len(absent)} scenario(s) are in no report ({_names(absent)})"
                   + (f": {missing}" if missing else ""))
    return Merged(merged, problem)


def _check_alike(reports: list[tuple[str, BatchReport]]) -> None:
    first_path, first = reports[0]
    by_shard: dict[str, str] = {}
    for path, report in reports:
        if report.version != first.version:
            raise InputError(f"{path} was written by simlab {report.version}, {first_path} by simlab {first.version}: "
                             f"run every shard with the same simlab")
        if report.scenario_set["digest"] != first.scenario_set["digest"]:
            raise InputError(f"{path} ran another scenario set than {first_path} "
                             f"({_set_difference(first.scenario_set['files'], report.scenario_set['files'])}): "
                             f"run every shard on the same files, from the same commit")
        total, first_total = _total(report), _total(first)
        if total != first_total:
            raise InputError(f"{path} is shard {shard_name(report)}, {first_path} shard {shard_name(first)}: "
                             f"the shards of one run share their N")
        if report.shard and first.shard and report.shard["split"] != first.shard["split"]:
            raise InputError(f"{path} split the scenarios unlike {first_path} (another --durations file?): "
                             f"give every shard the same --durations")
        name = shard_name(report)
        if name in by_shard:
            raise InputError(f"{by_shard[name]} and {path} are both shard {name}")
        by_shard[name] = path


def _total(report: BatchReport) -> int:
    return report.shard["total"] if report.shard else 1


def _set_difference(first: list[str], other: list[str]) -> str:
    extra, lacking = sorted(set(other) - set(first)), sorted(set(first) - set(other))
    if not extra and not lacking:
        return "the same files, with other contents" if Counter(first) == Counter(other) else "other copies"
    parts = ([f"also {_names(extra)}"] if extra else []) + ([f"not {_names(lacking)}"] if lacking else [])
    return ", ".join(parts)


def _refuse_duplicates(expected: list[str], pool: dict[str, list[ScenarioResult]],
                       seen_in: dict[str, list[str]]) -> None:
    wanted = Counter(expected)
    strangers = [file for file in pool if file not in wanted]
    if strangers:
        raise InputError(f"{', '.join(sorted(set(seen_in[strangers[0]])))} holds results of files outside its "
                         f"scenario set ({_names(strangers)}): not a report simlab wrote as it is")
    twice = [file for file, results in pool.items() if len(results) > wanted[file]]
    if twice:
        where = ", ".join(sorted(set(seen_in[twice[0]])))
        raise InputError(f"{len(twice)} scenario(s) are in more than one report ({_names(twice)}; "
                         f"{twice[0]} in {where}): the shards were not split alike")


def _missing_shards(reports: list[tuple[str, BatchReport]]) -> str:
    total = _total(reports[0][1])
    present = {r.shard["index"] if r.shard else 1 for _, r in reports}
    absent = [f"{i}/{total}" for i in range(1, total + 1) if i not in present]
    if not absent:
        return ""
    return f"the report of shard {', '.join(absent)} is missing" if len(absent) == 1 else \
        f"the reports of shards {', '.join(absent)} are missing"


def _names(files: list[str]) -> str:
    shown = ", ".join(files[:SHOWN])
    return shown + (f" and {len(files) - SHOWN} more" if len(files) > SHOWN else "")
