"""Commands for learners and teachers: tutorial, grade."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from simlab import __version__
from simlab.cli.app import app
from simlab.cli.common import (
    EngineName,
    JsonReport,
    _batch_engines,
    _connect,
    _hardened_engine,
    _progress,
    _shell_argv,
    _shipped_names,
    check_writable,
    reports_errors,
)
from simlab.errors import InputError


@app.command(rich_help_panel="Learn and teach")
@reports_errors
def tutorial(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE", autocompletion=_shipped_names,
                                                         help="A shipped scenario (see `simlab list`) or a file.")],
             lab: Annotated[str | None, typer.Option(help="Your lab's name (default: the scenario's name).")
                            ] = None,
             at: Annotated[str | None, typer.Option(metavar="N|SECTION", help="Start at this lesson: the "
                                                    "lessons before it are built for you.")] = None,
             restart: Annotated[bool, typer.Option(help="Remove your lab and progress, and start over.")
                                ] = False,
             engine: EngineName = None) -> None:
    """Do a scenario by hand, one lesson (section) at a time, and be told what is missing and why.

    simlab starts a lab with the scenario's hosts and wires and nothing else, shows each
    lesson's goal (the tutorial's words, not its commands), opens a shell on the right host
    (`shell`), and checks your lab when you say so (`check`): what differs from where the
    scenario would be, and why a ping fails. `hint` and `solution` on request. `quit` leaves
    the lab up: `simlab tutorial NAME` again takes you back to where you were.

    Example: simlab tutorial gateway-nat
    """
    from simlab import api, tutor
    from simlab.labs.images import ensure_image

    scenario = api.load(scenario_ref)
    name = lab or scenario.name
    connected = _connect(engine)
    progress_out = _progress()
    ensure_image(connected, progress_out)
    where = tutor.prepare(connected, scenario, name, at, restart, emit=progress_out)
    again = f"simlab tutorial {scenario_ref}" + ("" if lab is None else f" --lab {lab}")

    def open_shell(host: str, netns: str | None) -> None:
        subprocess.run(_shell_argv(name, host, netns, engine), check=False)

    tutor.Session(connected, scenario, where, say=typer.echo, ask=input, open_shell=open_shell,
                  again=again).run()


@app.command(rich_help_panel="Learn and teach")
@reports_errors
def grade(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE", autocompletion=_shipped_names,
                                                      help="The scenario the learners did (see `simlab list`).")],
          submissions: Annotated[list[str] | None, typer.Argument(
              metavar="SUBMISSION...", help="Learners' files of commands, `# host: NAME` lines saying where they "
                                            "run (docs/grade.md), or folders of them; the file's name is the "
                                            "student's.")] = None,
          labs: Annotated[str | None, typer.Option(metavar="PATTERN", help="Grade the labs up on the engine whose "
                                                      "names match this glob instead ('student-*'), read-only.")
                          ] = None,
          upto: Annotated[str | None, typer.Option(metavar="N|SECTION", help="Grade up to step N or through "
                                                      "SECTION (default: the whole scenario).")] = None,
          jobs: Annotated[int, typer.Option(min=0, show_default=False, help="Labs at once (default: as validate)."
                                            )] = 0,
          timeout: Annotated[float | None, typer.Option(min=0.1, help="Stop one submission after this many "
                                                                       "seconds.")] = None,
          engine: Annotated[list[str] | None, typer.Option(
              "--engine", metavar="NAME[=SLOTS]", help="Run on this engine too (repeatable), as validate does.")
                            ] = None,
          csv_out: Annotated[str | None, typer.Option("--csv", metavar="FILE", help="Write CSV here.")] = None,
          junit: Annotated[str | None, typer.Option(metavar="FILE", help="Write JUnit XML here.")] = None,
          html: Annotated[str | None, typer.Option(metavar="FILE", help="Write an HTML page here.")] = None,
          json_out: JsonReport = None,
          trust_submissions: Annotated[bool, typer.Option(
              "--trust-submissions", help="Run submissions in the default mode on an engine that does not isolate "
                                          "root (they run as root on the engine host): only for files you would "
                                          "run yourself.")] = False,
          ) -> None:
    """Grade many learners against one scenario: each submission runs in its own sealed lab
    (hardened mode: an engine that isolates root, see `simlab engine start --isolated`), its
    commands on their hosts in order, then the lab is verified section by section as `simlab
    verify` does. Shows who holds which sections, what is missing and why.

    Example: `simlab grade gateway-nat submissions/*.sh --csv grades.csv`; a classroom on one
    machine: `simlab grade gateway-nat --labs 'student-*'`.

    Exit 0 every submission holds every section, 1 some miss something, 2 bad input or a lab
    that could not be graded (nothing starts when a submission is bad), 130 interrupted."""
    from simlab import api
    from simlab.engines import named as engines
    from simlab.labs.images import ensure_image
    from simlab.reports.grade import (
        GradeHeader,
        GradeProgress,
        grade_table,
        section_lines,
        summary_line,
        write_grade_reports,
    )
    from simlab.reports.terminal import TerminalProgress, wants_color
    from simlab.runs import grade as grading
    from simlab.runs import verify
    from simlab.runs.validate import Options
    from simlab.state.grade import sections_of

    for path in (csv_out, junit, html, json_out):
        check_writable(path)
    scenario = api.load(scenario_ref)
    count = verify.step_count(scenario, upto)
    if bool(labs) == bool(submissions):
        raise InputError("name the submissions (files or folders) or --labs PATTERN, not both nor neither")
    out = sys.stderr if json_out == "-" else sys.stdout
    if labs:
        connected = _connect(engine[0] if engine else None)
        names = grading.matching_labs(connected, labs)
        ensure_image(connected, TerminalProgress(sys.stderr))
        progress = GradeProgress(len(names))
        grades = grading.grade_labs(connected, scenario, count, names, emit=progress)
    else:
        found = grading.read_submissions(submissions or [], scenario)
        if not engine and not trust_submissions and not os.environ.get("SIMLAB_ENGINES"):
            engine = [e] if (e := _hardened_engine(None, True)) else None  # simlab's isolated engine, when up
        specs = engines.configured_specs(engine)
        engines.check_names(specs)
        if not trust_submissions:
            every: list[engines.EngineSpec | None] = [*specs] or [None]
            for spec in every:  # refused before any container starts
                grading.require_hardened(engines.connect(spec))
        progress = GradeProgress(len(found))
        slots = _batch_engines(specs, Options(jobs=jobs), sys.stderr)
        grades = grading.grade_submissions(slots, scenario, count, found, grading.GradeOptions(
            jobs, timeout, untrusted=not trust_submissions), emit=progress)
    progress.finish()
    sections = sections_of(scenario, count)
    for line in ["", *section_lines(scenario.name, count, sections), "", *grade_table(grades, wants_color(out)), "",
                 summary_line(grades)]:
        print(line, file=out)
    write_grade_reports(grades, {"csv": csv_out, "junit": junit, "html": html, "json": json_out},
                        GradeHeader(__version__, scenario.name, scenario.file, count, sections))
    raise typer.Exit(2 if any(g.error for g in grades) else 0 if all(g.passed for g in grades) else 1)
