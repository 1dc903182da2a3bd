"""Commands for scenario authors: new, schema, export, check, mutate."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from simlab.cli.app import app
from simlab.cli.common import JsonReport, _batch_engines, _shipped_names, check_writable, reports_errors
from simlab.defaults import DEFAULT_STEP_TIMEOUT, default_jobs
from simlab.errors import InputError


class ExportFormat(enum.StrEnum):
    """`simlab export --format` (labs/export.py FORMATS)."""

    sh = "sh"
    clab = "clab"


class CheckFormat(enum.StrEnum):
    text = "text"
    json = "json"
    github = "github"


@app.command(rich_help_panel="Write scenarios")
@reports_errors
def new(name: Annotated[str, typer.Argument(help="The scenario's name: NAME.yaml is written.")],
        folder: Annotated[Path, typer.Option("--dir", help="Where to write it.")] = Path("."),
        ) -> None:
    """Write a small scenario to start from (two hosts, one link, a ping that answers, one that
    cannot), and the JSON Schema beside it for your editor. `simlab run NAME.yaml` runs it."""
    from simlab.model.schema import scenario_schema
    from simlab.model.starter import SCHEMA_FILE, starter
    from simlab.model.topology import valid_name

    if not valid_name(name):
        raise InputError(f"{name!r}: a scenario name is letters, digits, '_', '.' or '-'")
    file = folder / f"{name}.yaml"
    if file.exists():
        raise InputError(f"{file} exists already: pick another name, or remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    file.write_text(starter(name, str(file)))
    schema_file = folder / SCHEMA_FILE
    if not schema_file.exists():
        schema_file.write_text(json.dumps(scenario_schema(), indent=2) + "\n")
    typer.echo(f"wrote {file}; `simlab check {file}` checks it, `simlab run {file}` runs it")


@app.command(rich_help_panel="Write scenarios")
@reports_errors
def schema() -> None:
    """Print the JSON Schema of scenario files (point your editor's YAML plugin at it)."""
    from simlab.model.schema import scenario_schema
    from simlab.reports.terminal import write_json

    write_json(scenario_schema(), "-")


@app.command("export", rich_help_panel="Write scenarios")
@reports_errors
def export_command(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A shipped scenario or a "
                                                                   "scenario (or containerlab) file.")],
                   fmt: Annotated[ExportFormat, typer.Option("--format", help="sh: a shell script (docker CLI and "
                                                             "ip); clab: a containerlab topology.")] = ExportFormat.sh,
                   output: Annotated[str | None, typer.Option("-o", "--output", metavar="FILE",
                                                                 help="Write here (default: standard output).")] = None,
                   ) -> None:
    """Write a scenario's lab for use without simlab: `sh`, a POSIX script that builds the same
    lab by hand with the docker CLI and ip, runs the steps' commands and removes it (`down`);
    `clab`, a containerlab topology of it. No engine needed.

    Example: `simlab export gateway-nat -o lab.sh && sudo sh lab.sh up mylab` (docs/containerlab.md)."""
    from simlab import api
    from simlab.labs import export as exporting
    from simlab.reports.terminal import write_text

    check_writable(output)
    write_text(exporting.export(api.load(scenario_ref), fmt.value), output or "-")


@app.command(rich_help_panel="Write scenarios")
@reports_errors
def check(paths: Annotated[list[str] | None, typer.Argument(
        metavar="[PATH]...", help="Scenario files, folders or shipped names (default: the shipped scenarios).")] = None,
          fmt: Annotated[CheckFormat, typer.Option("--format", help="text; json (a list of problems); github "
                                                                    "(workflow annotations).")] = CheckFormat.text,
          ) -> None:
    """Check scenario files without an engine, every problem in one pass, as file:line:col.

    Schema, references, names, addresses, namespaces used before they are made, probe
    targets. Exit 0 when every file is fine (warnings allowed), 2 otherwise."""
    from simlab import api
    from simlab.reports.problems import github_annotation, problem_record
    from simlab.reports.terminal import write_json

    scenarios, bad = api.load_paths(paths, topologies=True)
    warnings = [w for s in scenarios for w in s.topology.warnings]
    errors = [line for result in bad for line in (result.error or "").splitlines()]
    if fmt is not CheckFormat.text:
        problems = [problem_record(line, "warning") for line in warnings] + [problem_record(line) for line in errors]
        if fmt is CheckFormat.json:
            write_json({"files": len(scenarios) + len(bad), "problems": problems}, "-")
        else:
            for problem in problems:
                typer.echo(github_annotation(problem))
        raise typer.Exit(2 if bad else 0)
    for warning in warnings:
        typer.echo(warning, err=True)
    for result in bad:
        typer.echo(result.error, err=True)
    if bad:
        raise typer.Exit(2)
    topologies = sum(1 for s in scenarios if not s.steps)
    typer.echo(f"{len(scenarios)} scenario file(s) OK" + (f" ({topologies} topology-only)" if topologies else ""))


@app.command(rich_help_panel="Write scenarios")
@reports_errors
def mutate(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE", autocompletion=_shipped_names,
                                                       help="A shipped scenario (see `simlab list`) or a "
                                                            "scenario file.")],
           only: Annotated[int | None, typer.Option(metavar="LINE", help="Mutate only what is written on this "
                                                       "line: a setup command, a step, or a step's command.")] = None,
           write: Annotated[str | None, typer.Option(metavar="DIR", help="Also write each mutant as a scenario "
                                                        "file here, to run by hand.")] = None,
           jobs: Annotated[int, typer.Option(min=0, help=f"Labs run at once (default here: {default_jobs()}).")] = 0,
           timeout: Annotated[float | None, typer.Option(help="Stop a lab after this many seconds.")] = None,
           step_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds a command of a step may take when the "
                                                       "step sets no `timeout` of its own.")] = DEFAULT_STEP_TIMEOUT,
           engine: Annotated[list[str] | None, typer.Option(
               "--engine", metavar="NAME[=SLOTS]",
               help="Run on this engine too (repeatable), as for validate.")] = None,
           json_out: JsonReport = None,
           html: Annotated[str | None, typer.Option("--html", metavar="FILE", help="Write the report as a "
                                                       "self-contained HTML page.")] = None,
           ) -> None:
    """Prove that a scenario's checks would catch a broken lab (mutation testing).

    A mutant is the scenario with one setup command, or one step that changes
    the lab, left out; or with a command's key argument altered (an address,
    a prefix length, a route's destination, an iptables rule's source). Each
    runs in its own lab beside the scenario as written, several at once as in
    validate. Caught: a check after the change failed (or an error stopped the
    run). Survived: every later check still passed. Exit 0 none survived,
    1 some survived, 2 bad input or an engine problem. See docs/mutate.md.
    """
    from simlab.engines import named as engines
    from simlab.model.scenario import resolve_scenario
    from simlab.mutate import report as mutation_report
    from simlab.mutate import run as mutation
    from simlab.reports.terminal import wants_color, write_json, write_text
    from simlab.reports.visible import visible
    from simlab.runs.validate import Options

    specs = engines.configured_specs(engine)
    engines.check_names(specs)
    for target in (json_out, html):
        check_writable(target)
    scenario, mutants, data = mutation.plan(resolve_scenario(scenario_ref), only)
    out = sys.stderr if json_out == "-" else sys.stdout
    print(f"simlab mutate {scenario.name}: {len(mutants)} mutant(s) of {visible(scenario.file)}", file=out)
    written = mutation.write(mutants, data, scenario, Path(write)) if write and mutants else {}
    options = Options(jobs=jobs, timeout=timeout, step_timeout=step_timeout)
    progress = mutation_report.MutateProgress(len(mutants) + 1, out)
    try:
        report = mutation.run_mutants(scenario, mutants, _batch_engines(specs, options, out) if mutants else [],
                                      options, progress)
    finally:
        progress.finish()
    for judged in report.mutants:
        judged.written = written.get(judged.mutant.number, "")
    for line in mutation_report.report_lines(report, color=wants_color(out)):
        print(line, file=out)
    if json_out:
        write_json(report.to_dict(), json_out)
    if html:
        write_text(mutation_report.html_page(report, scenario.description), html)
        print(f"HTML report: {html}", file=out)
    raise typer.Exit(report.exit_code)
