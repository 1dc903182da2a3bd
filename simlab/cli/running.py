"""Commands that run scenarios: list, run, validate, merge."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simlab import __version__
from simlab.cli.app import app
from simlab.cli.common import (
    AllowPrivileged,
    EngineName,
    HostImage,
    JsonReport,
    Untrusted,
    _check_report_folder,
    _connect,
    _connect_with_image,
    _hardened_engine,
    _print_explore_hints,
    _print_kept_labs,
    _progress,
    _run_batch,
    _scenarios_at_hand,
    _shipped_names,
    check_writable,
    reports_errors,
)
from simlab.defaults import DEFAULT_STEP_TIMEOUT, default_jobs
from simlab.errors import InputError

if TYPE_CHECKING:
    from simlab.model.scenario import Scenario, Step
    from simlab.reports.terminal import TerminalProgress


@app.command("list", rich_help_panel="Run scenarios")
@reports_errors
def list_scenarios(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False
                   ) -> None:
    """List the scenarios that come with simlab (`simlab run NAME` runs one; `simlab ls` lists running labs)."""
    from simlab.model.scenario import load_scenario, shipped_scenarios
    from simlab.reports.terminal import write_json
    from simlab.reports.visible import visible

    found = [(path, load_scenario(path)) for path in shipped_scenarios()]
    if as_json:
        write_json([{"name": path.stem, "description": s.description, "file": str(path), "hosts": len(s.topology.hosts),
                     "steps": len(s.steps)} for path, s in found], "-")
        return
    for path, scenario in found:
        typer.echo(f"{path.stem:<22} {visible(scenario.description)}")


@app.command(rich_help_panel="Run scenarios")
@reports_errors
def run(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE", autocompletion=_shipped_names,
                                                    help="A shipped scenario (see `simlab list`) or a scenario file.")],
        keep: Annotated[bool, typer.Option(help="Leave the lab up afterwards, to explore it.")] = False,
        json_out: JsonReport = None,
        step: Annotated[bool, typer.Option("--step", help="Pause before each step; Enter goes on.")] = False,
        name: Annotated[str | None, typer.Option(help="Lab name (default: the scenario's name, with a suffix "
                                                         "when another lab has it).")] = None,
        privileged: Annotated[bool, typer.Option(help="Run hosts --privileged (if the engine allows it).")] = False,
        timeout: Annotated[float | None, typer.Option(min=0.1, help="Stop the whole run after this many seconds "
                                                         "(as validate --timeout does for each scenario).")] = None,
        step_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds a command of a step may take when the "
                                                    "step sets no `timeout` of its own.")] = DEFAULT_STEP_TIMEOUT,
        untrusted: Untrusted = False,
        allow_privileged: AllowPrivileged = False,
        engine: EngineName = None,
        explain: Annotated[bool, typer.Option(help="Under each step, print what it changed in the lab.")] = False,
        html: Annotated[str | None, typer.Option("--html", metavar="FILE",
                                                    help="Write a self-contained HTML report with the lab's "
                                                         "picture at every step.")] = None,
        host_image: HostImage = False,
        ) -> None:
    """Run a scenario: start its lab, run each step, check each outcome.

    Exit 0 when every expectation held, 1 when one did not, 2 for bad input
    or an engine problem, 130 when interrupted. The lab is removed afterwards
    unless --keep, also after a failure, a timeout or Ctrl-C.
    """
    from simlab import api
    from simlab.labs.security import Trust, check_trust, require_isolation
    from simlab.reports.html import scenario_page
    from simlab.reports.terminal import summary_lines, write_json, write_text
    from simlab.state.record import StateRecorder

    scenario = api.load(scenario_ref, host_image)
    check_writable(html)
    check_trust(scenario.topology, Trust(untrusted, allow_privileged, privileged), scenario.file)
    engine = _hardened_engine(engine, untrusted)
    if untrusted:
        require_isolation(_connect(engine))  # refused before anything is printed or started
    progress = _progress(to_stderr=json_out == "-", explain=explain)
    _print_title(scenario, progress)
    recorder = StateRecorder(scenario, progress) if explain or html else None
    result = api.run(scenario, engine=_connect_with_image(progress, engine), name=name, keep=keep, emit=progress,
                     pause=_pause_for_enter if step else None, privileged=privileged, timeout=timeout,
                     step_timeout=step_timeout, watch=recorder, untrusted=untrusted,
                     allow_privileged=allow_privileged)
    lab_name = result.lab
    if recorder is not None:
        recorder.attach(result)
    if html:
        write_text(scenario_page(result, scenario.topology, scenario.description, scenario.tutorial), html)
        progress.line(f"  HTML report: {html}", dim=True)
    progress.line("")
    for line in summary_lines(result):
        progress.line(line)
    if json_out:
        write_json(result.to_dict(), json_out)
    if result.kept:
        _print_explore_hints(lab_name, sorted(scenario.topology.hosts), out=progress.out)
    if result.stopped == "interrupted":
        raise KeyboardInterrupt
    raise typer.Exit(result.exit_code)


@app.command(rich_help_panel="CI and many machines")
@reports_errors
def validate(paths: Annotated[list[str] | None, typer.Argument(
                 metavar="[PATH]...", help="Scenario files or folders (default: the shipped scenarios).")] = None,
             jobs: Annotated[int, typer.Option(min=0, show_default=False,
                                               help=f"Scenarios run at once (default here: {default_jobs()}).")] = 0,
             timeout: Annotated[float | None, typer.Option(min=0.1, help="Stop a scenario after this many "
                                                                          "seconds.")] = None,
             junit: Annotated[str | None, typer.Option(metavar="FILE", help="Write JUnit XML here.")] = None,
             json_out: JsonReport = None,
             fail_fast: Annotated[bool, typer.Option(help="Stop everything at the first failure.")] = False,
             keep_failed: Annotated[bool, typer.Option(help="Leave the labs of failed scenarios up.")] = False,
             step_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds a command of a step may take when the "
                                                         "step sets no `timeout` of its own.")] = DEFAULT_STEP_TIMEOUT,
             untrusted: Untrusted = False,
             allow_privileged: AllowPrivileged = False,
             engine: Annotated[list[str] | None, typer.Option(
                 "--engine", metavar="NAME[=SLOTS]",
                 help="Run on this engine too (repeatable): a docker context or an address; SLOTS labs at once "
                      "(default: two per CPU of that engine). Default: SIMLAB_ENGINES (comma-separated), the "
                      "engines: list of ~/.config/simlab/config.yaml, else the one default engine.")] = None,
             html: Annotated[str | None, typer.Option("--html", metavar="DIR",
                                                         help="Write an HTML report here: index.html and a page "
                                                              "per scenario.")] = None,
             shard: Annotated[str | None, typer.Option(
                 "--shard", metavar="I/N", help="Run only shard I of N (1/3, 2/3, 3/3): every machine splits the "
                                                "files found alike; `simlab merge` joins the shards' --json "
                                                "reports.")] = None,
             durations: Annotated[str | None, typer.Option(
                 "--durations", metavar="FILE", help="Balance the shards by the durations in this JSON report (of any "
                                                     "earlier validate or merge); default: by scenario size.")] = None,
             ) -> None:
    """Run many scenarios, each in its own lab, several at once, and report for CI.

    Bad files are reported and the good ones still run. With several engines,
    every free slot of every engine takes the next scenario (largest first);
    an engine that stops answering is given up and its scenarios run again
    elsewhere (a scenario that fails is never run again). Exit 0 all passed,
    1 some failed, 2 a file or the engine had a problem, 130 interrupted.

    With --shard I/N it runs only its part (a shard with nothing to run says so and
    exits 0); see docs/ci.md for CI matrices and `simlab merge`.
    """
    from simlab import api
    from simlab.engines import named as engines
    from simlab.labs.security import require_isolation
    from simlab.reports.batch import BatchReport, Destinations, write_reports
    from simlab.reports.terminal import results_table, wants_color
    from simlab.reports.visible import visible_text
    from simlab.runs import shard as sharding
    from simlab.runs.validate import Options, split_by_trust

    for report in (junit, json_out):  # a bad report path is an error before any lab starts
        check_writable(report)
    if untrusted and not engine and not os.environ.get("SIMLAB_ENGINES"):
        engine = [e] if (e := _hardened_engine(None, True)) else None
    specs = engines.configured_specs(engine)
    engines.check_names(specs)
    part = sharding.parse_shard(shard) if shard is not None else None
    recorded = sharding.read_durations(durations) if durations is not None else None
    scenarios, bad = api.load_paths(paths)
    if html:
        _check_report_folder(html)
    options = Options(jobs=jobs, timeout=timeout, fail_fast=fail_fast, keep_failed=keep_failed,
                      step_timeout=step_timeout, untrusted=untrusted, allow_privileged=allow_privileged,
                      record=bool(html))
    scenarios, refused = split_by_trust(scenarios, options.trust)
    bad += refused
    found = sharding.scenario_set([r.file for r in bad] + [s.file for s in scenarios])
    out = sys.stderr if json_out == "-" else sys.stdout
    if part is not None:
        run_part = sharding.select(part, bad, scenarios, recorded)
        bad, scenarios = run_part.errors, run_part.scenarios
        if not bad and not scenarios:
            print(f"shard {part}: nothing to run ({len(found.files)} file(s) in all, none fell to this shard)",
                  file=out)
    if untrusted:
        every: list[engines.EngineSpec | None] = [*specs] or [None]
        for spec in every if scenarios else []:  # refused before any container starts
            require_isolation(engines.connect(spec))
    for result in bad:
        print(f"ERROR   {visible_text(result.error or '')}", file=out)
    results, interrupted = _run_batch(scenarios, options, out, specs) if scenarios else ([], False)
    everything = bad + results
    print("", file=out)
    for line in results_table(everything, color=wants_color(out)):
        print(line, file=out)
    batch = BatchReport(__version__, found.to_dict(), everything, run_part.report_header() if part else None)
    write_reports(batch, Destinations(json_out, junit, html), {s.file: s for s in scenarios})
    if html:
        print(f"HTML report: {Path(html) / 'index.html'}", file=out)
    if keep_failed:
        _print_kept_labs(results, scenarios, out)
    if interrupted:
        raise KeyboardInterrupt
    if any(r.error for r in everything):
        raise typer.Exit(2)
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


@app.command(rich_help_panel="CI and many machines")
@reports_errors
def merge(reports: Annotated[list[str], typer.Argument(metavar="REPORT.json...",
                                                       help="The --json reports of every shard of one run.")],
          junit: Annotated[str | None, typer.Option(metavar="FILE", help="Write JUnit XML here.")] = None,
          json_out: Annotated[str | None, typer.Option(
              "--json", metavar="FILE", help="Write the merged JSON here ('-' for standard output).")] = None,
          html: Annotated[str | None, typer.Option("--html", metavar="DIR",
                                                      help="Write the HTML report here (pictures come from the "
                                                           "scenario files where they are found).")] = None,
          ) -> None:
    """Join the --json reports of the shards of one run (`validate --shard I/N`) into the report
    one unsharded run would have written: JSON, JUnit, HTML.

    Refused, exit 2: reports cut short, of different simlab versions, scenario sets or
    splits, one shard twice, a scenario in two reports. A missing shard's scenarios are
    errors in the reports written, and the exit code is 2. Otherwise exit 0 all passed,
    1 some failed, 2 some could not run.
    """
    from simlab.reports.batch import Destinations, write_reports
    from simlab.reports.merge import merge as merge_reports
    from simlab.reports.merge import read_report
    from simlab.reports.terminal import results_table, wants_color

    for path in (junit, json_out):
        check_writable(path)
    if html:
        _check_report_folder(html)
    merged = merge_reports([(path, read_report(path)) for path in reports])
    results = merged.report.results
    out = sys.stderr if json_out == "-" else sys.stdout
    print(f"merged {len(reports)} report(s) (shards {', '.join(merged.report.merged)}): "
          f"{len(results)} scenario(s)", file=out)
    for line in results_table(results, color=wants_color(out)):
        print(line, file=out)
    write_reports(merged.report, Destinations(json_out, junit, html), _scenarios_at_hand(results) if html else {})
    if html:
        print(f"HTML report: {Path(html) / 'index.html'}", file=out)
    if merged.missing:
        raise InputError(merged.missing)
    if any(r.error for r in results):
        raise typer.Exit(2)
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


def _print_title(scenario: Scenario, progress: TerminalProgress) -> None:
    from simlab.reports.visible import visible

    progress.line(f"simlab run {scenario.name}: {visible(scenario.description)}")
    if scenario.tutorial:
        progress.line(f"  reproduces: {visible(scenario.tutorial)}", dim=True)


def _pause_for_enter(index: int, step: Step) -> None:
    try:
        input("      press Enter to run this step (Ctrl-C stops) ")
    except EOFError:
        pass
