"""The simlab command line. It parses options, calls the core, and renders
the core's events and results; it holds no lab logic of its own.

Exit codes: 0 success; 1 a scenario's expectation did not hold; 2 bad input
or an engine problem; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import enum
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TextIO

import typer

from simlab import __version__, api
from simlab import graph as pictures
from simlab.engines import isolated as isolated_engine
from simlab.engines import named as engines
from simlab.engines.client import Engine
from simlab.errors import EngineError, InputError, SimlabError
from simlab.labs import capture as lab_capture
from simlab.labs import export as exporting
from simlab.labs import readiness
from simlab.labs.fabric import helper_image
from simlab.labs.images import DEFAULT_BASE, copy_image, ensure_image, prune_helper_images
from simlab.labs.lab import container_name, destroy_lab, list_labs, open_lab, run_parallel
from simlab.labs.security import Trust, check_trust, require_isolation
from simlab.model.scenario import (
    Scenario,
    Step,
    load_scenario,
    resolve_scenario,
    shipped_scenarios,
    shipped_scenarios_dir,
)
from simlab.model.schema import scenario_schema
from simlab.model.starter import SCHEMA_FILE, starter
from simlab.model.topology import DEFAULT_IMAGE, valid_name
from simlab.mutate import report as mutation_report
from simlab.mutate import run as mutation
from simlab.reports.batch import BatchReport, Destinations, write_reports
from simlab.reports.grade import (
    GradeHeader,
    GradeProgress,
    grade_table,
    section_lines,
    summary_line,
    write_grade_reports,
)
from simlab.reports.html import scenario_page
from simlab.reports.html.verify import verify_page
from simlab.reports.merge import merge as merge_reports
from simlab.reports.merge import read_report
from simlab.reports.problems import github_annotation, problem_record
from simlab.reports.terminal import (
    BatchProgress,
    TerminalProgress,
    results_table,
    summary_lines,
    wants_color,
    write_json,
    write_text,
)
from simlab.reports.verify import verify_lines
from simlab.reports.visible import visible, visible_text
from simlab.results import ScenarioResult
from simlab.runs import grade as grading
from simlab.runs import shard as sharding
from simlab.runs import verify
from simlab.runs.script import DEFAULT_STEP_TIMEOUT
from simlab.runs.validate import EngineSlots, Options, default_jobs, split_by_trust
from simlab.signals import EXIT_INTERRUPTED, live_signals
from simlab.state.collect import declared_topology, inspect_lab
from simlab.state.grade import sections_of
from simlab.state.record import StateRecorder
from simlab.state.text import state_lines

app = typer.Typer(
    help="Build sealed multi-host network labs from Docker containers and check, step by step, "
         "that they behave as a scenario says.\n\n"
         "Start with `simlab list`, then `simlab run gateway-nat`.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="markdown")
image_app = typer.Typer(help="The host image ubuntu_with_basic_net.", no_args_is_help=True)
app.add_typer(image_app, name="image", rich_help_panel="Engines")
engine_app = typer.Typer(help="simlab's own isolated engine for --untrusted: start, status, stop (Linux, root).",
                         no_args_is_help=True)
app.add_typer(engine_app, name="engine", rich_help_panel="Engines")
PictureFormat = enum.Enum("PictureFormat", {name: name for name in ("svg", "mermaid", "dot")}, type=str)
ExportFormat = enum.Enum("ExportFormat", {name: name for name in exporting.FORMATS}, type=str)
CheckFormat = enum.Enum("CheckFormat", {name: name for name in ("text", "json", "github")}, type=str)
API_SECONDS = 120  # an image copy into the isolated engine is one long call
Isolated = Annotated[bool, typer.Option("--isolated", help="The user-namespace-remapped dockerd of simlab's own "
                                                          "(the only engine simlab manages).")]





def run_app() -> None:
    """Run the command line; it exits with the command's code (entry.py comes before)."""
    app()


def _print_version(value: bool) -> None:
    if value:
        from simlab import __version__
        typer.echo(f"simlab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print simlab's version and exit.")] = False) -> None:
    """Options before any command."""


def reports_errors(command: Callable) -> Callable:
    """Turn SimlabError into one clear line on stderr and its exit code; Ctrl-C into 130."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            live_signals()
            return command(*args, **kwargs)
        except SimlabError as exc:
            typer.echo(f"simlab: error: {visible_text(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("simlab: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    return wrapper


def _progress(to_stderr: bool = False, **kwargs) -> TerminalProgress:
    return TerminalProgress(sys.stderr if to_stderr else sys.stdout, **kwargs)


JsonReport = Annotated[str | None, typer.Option(
    "--json", metavar="FILE", help="Write the results as JSON ('-' for standard output).")]
Untrusted = Annotated[bool, typer.Option(
    help="Hardened mode for files you did not write: refuse unless the engine keeps container root apart from host "
         "root (userns-remap, rootless; `simlab engine start --isolated`), and refuse privileged hosts and other "
         "images.")]
AllowPrivileged = Annotated[bool, typer.Option(
    help="Honour `privileged: true` in the file (such a host is root on the engine host); without it, refused.")]
HostImage = Annotated[bool, typer.Option(
    "--host-image", help=f"Run every host on simlab's host image {DEFAULT_IMAGE}, whatever image the file names "
                         f"(a containerlab topology's alpine, say, where the engine cannot get it).")]
EngineName = Annotated[str | None, typer.Option(
    "--engine", metavar="NAME", help="A docker context name or an engine address (unix://..., tcp://HOST:PORT, "
                                     "ssh://USER@HOST). Default: DOCKER_HOST, the current context, the local socket.")]


def _hardened_engine(engine: str | None, untrusted: bool) -> str | None:
    """--untrusted without --engine or DOCKER_HOST: simlab's isolated engine where it runs."""
    if untrusted and engine is None and not os.environ.get("DOCKER_HOST") and isolated_engine.status().running:
        return isolated_engine.ADDRESS
    return engine


def _connect(engine: str | None = None) -> Engine:
    """The engine named by --engine, or the default one."""
    if engine is None:
        return Engine.connect()
    spec = engines.parse_specs([engine], "--engine")[0]
    engines.check_names([spec])
    return engines.connect(spec)


def _connect_with_image(progress: TerminalProgress, engine: str | None = None) -> Engine:
    connected = _connect(engine)
    ensure_image(connected, progress)
    return connected


def _shipped_names(incomplete: str) -> list[str]:
    """Shell completion of `simlab run`: the shipped scenarios (files complete as files)."""
    return [p.stem for p in shipped_scenarios() if p.stem.startswith(incomplete)]


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def up(scenario_ref: Annotated[str, typer.Argument(metavar="NAME|FILE",
                                                   help="A shipped scenario (see `simlab list`) or a topology or "
                                                        "scenario file.")],
       name: Annotated[str | None, typer.Option(help="Lab name (default: the file's name).")] = None,
       until: Annotated[str | None, typer.Option(metavar="N|SECTION", help="Run the scenario's steps 1..N (or "
                                                    "through the last step of SECTION) once the lab is up, then leave "
                                                    "it up: start the tutorial in the middle.")] = None,
       privileged: Annotated[bool, typer.Option(help="Run hosts --privileged (if the engine allows it).")] = False,
       engine: EngineName = None,
       untrusted: Annotated[bool, typer.Option(help="Hardened mode for files you did not write (see run --help).")
                            ] = False,
       allow_privileged: AllowPrivileged = False,
       host_image: HostImage = False,
       ) -> None:
    """Start a lab and leave it up, to build the rest by hand and `simlab verify` it; steps
    are not run unless --until. Exit 1 when a step up to N does not go as expected.

    A containerlab topology (`*.clab.yml`, kind linux nodes) starts too: docs/containerlab.md."""
    scenario = api.load(scenario_ref, host_image)
    count = verify.step_count(scenario, until) if until is not None else 0
    check_trust(scenario.topology, Trust(untrusted, allow_privileged, privileged), scenario.file)
    engine = _hardened_engine(engine, untrusted)
    if untrusted:
        require_isolation(_connect(engine))
    progress = _progress()
    trust = dict(privileged=privileged, untrusted=untrusted, allow_privileged=allow_privileged)
    if not count:
        lab = api.start(scenario, engine=_connect_with_image(progress, engine), name=name or scenario.name,
                        emit=progress, **trust)
        _print_explore_hints(lab.name, lab.hosts)
        return
    result = api.run(verify.first_steps(scenario, count), engine=_connect_with_image(progress, engine),
                     name=name or scenario.name, keep=True, emit=progress, **trust)
    for line in summary_lines(result):
        progress.line(line)
    if result.kept:
        _print_explore_hints(result.lab, sorted(scenario.topology.hosts), out=progress.out)
    raise typer.Exit(result.exit_code)


@app.command("verify", rich_help_panel="Labs: up, explore, down")
@reports_errors
def verify_command(
        lab: Annotated[str, typer.Argument(help="Name of a lab that is up (see `simlab ls`).")],
        upto: Annotated[str | None, typer.Option(metavar="N|SECTION", help="Compare with the scenario after its "
                                                    "step N, or after the last step of SECTION (default: all "
                                                    "steps).")] = None,
        scenario_ref: Annotated[str | None, typer.Option("--scenario", metavar="NAME|FILE", help="The scenario "
                                                            "to verify against (default: the file the lab was "
                                                            "started from).")] = None,
        json_out: JsonReport = None,
        html: Annotated[str | None, typer.Option("--html", metavar="FILE", help="Write the report as a "
                                                    "self-contained HTML page, with a picture of your lab.")] = None,
        fresh: Annotated[bool, typer.Option(help="Build the reference again even if one is cached "
                                                 "(see docs/verify.md).")] = False,
        engine: EngineName = None) -> None:
    """Tell how a lab you built by hand differs from where its scenario would be, and why its
    probes fail, without changing the lab: its state (namespaces, links, addresses, routes,
    forwarding, NAT and filter rules) is compared with a reference built in a shadow lab,
    and the scenario's probes up to that point run on it.

    Start with `simlab up gateway-nat --until 8 --name lab1`, build the next section by hand,
    then `simlab verify lab1 --upto "Network Gateways and NAT"`.

    Exit 0 when the lab matches, 1 when it differs, 2 for bad input (lab not up, made from another
    scenario, unknown section)."""
    for target in (json_out, html):
        check_writable(target)
    connected = _connect(engine)
    scenario = verify.lab_scenario(connected, lab, scenario_ref)
    count = verify.step_count(scenario, upto)
    progress = _progress(to_stderr=json_out == "-")
    progress.line(f"verifying {lab} against {scenario.name} through step {count}", dim=True)
    ensure_image(connected, progress)
    report = verify.verify_lab(connected, lab, scenario, count, fresh=fresh)
    for line in verify_lines(report):
        progress.line(line)
    if json_out:
        write_json(report.to_dict(), json_out)
    if html:
        write_text(verify_page(report, scenario.topology), html)
    raise typer.Exit(0 if report.passed else 1)


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
    from simlab import tutor

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


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def down(lab: Annotated[str | None, typer.Argument(help="Name of the lab to remove.")] = None,
         all_labs: Annotated[bool, typer.Option("--all", help="Remove every simlab lab on the engine.")] = False,
         engine: EngineName = None,
         ) -> None:
    """Remove a lab: every container labelled with its name, and with them its wires.

    After an engine was lost in the middle of a batch and came back, `simlab down --all
    --engine NAME` removes what the batch left there (found by label).
    """
    if (lab is None) == (not all_labs):
        raise InputError("give a lab name or --all (`simlab ls` lists the labs)")
    engine = _connect(engine)
    removed = destroy_lab(engine, None if all_labs else lab, _progress())
    if lab and not removed:
        raise InputError(f"no lab named {lab!r} is up; `simlab ls` lists the labs")
    typer.echo(f"removed {removed} container(s)" + (f" of lab {lab}" if lab else ""))


@app.command("ls", rich_help_panel="Labs: up, explore, down")
@reports_errors
def list_running(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
                 engine: EngineName = None) -> None:
    """List the labs that are up, with their hosts and container states."""
    labs = list_labs(_connect(engine))
    if as_json:
        write_json([{"lab": lab.name, "file": lab.file, "hosts": lab.hosts} for lab in labs], "-")
        return
    if not labs:
        typer.echo("no labs are up")
        return
    rows = [("LAB", "HOSTS", "STATE", "FILE")]
    for lab in labs:
        states = sorted(set(lab.hosts.values()))
        rows.append((lab.name, ",".join(sorted(lab.hosts)), "/".join(states), lab.file))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])


@app.command("exec", rich_help_panel="Labs: up, explore, down")
@reports_errors
def exec_command(lab: Annotated[str, typer.Argument(help="Lab name.")],
                 host: Annotated[str, typer.Argument(help="Host in the lab.")],
                 command: Annotated[list[str], typer.Argument(help="Command and its arguments (after --).")],
                 ns: Annotated[str | None, typer.Option(
                     "--ns", help="Run inside this network namespace of the host.")] = None,
                 engine: EngineName = None,
                 ) -> None:
    """Run a command on a lab host and pass its exit code through.

    Example: simlab exec gateway-nat container-a --ns red -- ping -c1 172.17.0.3
    """
    engine = _connect(engine)
    container = open_lab(engine, lab).container(host)
    argv = ["ip", "netns", "exec", ns, *command] if ns else list(command)
    stream, exit_code = engine.exec_stream(container, argv)
    for out, err in stream:
        if out:
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
        if err:
            sys.stderr.buffer.write(err)
            sys.stderr.flush()
    raise typer.Exit(exit_code())


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def shell(lab: Annotated[str, typer.Argument(help="Lab name.")],
          host: Annotated[str, typer.Argument(help="Host in the lab.")],
          ns: Annotated[str | None, typer.Option("--ns", help="Open the shell inside this network namespace.")] = None,
          engine: EngineName = None,
          ) -> None:
    """Open an interactive shell on a lab host (uses the docker CLI for the terminal)."""
    open_lab(_connect(engine), lab).container(host)  # a clear error for a wrong lab or host
    argv = _shell_argv(lab, host, ns, engine)
    os.execv(argv[0], argv)


def _shell_argv(lab: str, host: str, ns: str | None, engine: str | None) -> list[str]:
    """The docker CLI's `exec` of an interactive bash on ``host`` (in ``ns``): the CLI owns the
    terminal (raw mode, window size) as no SDK stream does."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise InputError("simlab shell needs the docker CLI for an interactive terminal; "
                         f"`simlab exec {lab} {host} -- CMD` works without it")
    inner = ["ip", "netns", "exec", ns, "bash"] if ns else ["bash"]
    terminal = "-it" if sys.stdin.isatty() else "-i"  # piped commands work too
    where = [] if engine is None else ["--host", engine] if ":" in engine else ["--context", engine]
    return [docker_cli, *where, "exec", terminal, container_name(lab, host), *inner]


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def capture(lab: Annotated[str, typer.Argument(help="Lab name.")],
            taps: Annotated[list[str], typer.Argument(
                metavar="HOST[/NETNS]:IFACE...",
                help="Interfaces to capture on, e.g. outside:eth0 container-a/red:veth-red.")],
            write: Annotated[str, typer.Option(
                "-w", "--write", metavar="FILE|-", help="Write the packets to FILE, or to standard output with '-'.")
                             ] = "-",
            count: Annotated[int | None, typer.Option("-c", "--count", min=1, help="Stop after this many packets.")
                             ] = None,
            duration: Annotated[float | None, typer.Option(metavar="SECONDS", min=0.001,
                                                           help="Stop after this many seconds.")] = None,
            bpf: Annotated[str | None, typer.Option("-f", "--filter", metavar="BPF",
                                                    help="A tcpdump filter, e.g. 'icmp and host 10.0.0.2'.")] = None,
            engine: EngineName = None,
            ) -> None:
    """Capture the packets crossing interfaces of a running lab, as pcap (pcapng with one named
    interface each when there are several), until Ctrl-C, -c, --duration or the reader quits.

    Example: simlab capture gateway-nat outside:eth0 -w - | wireshark -k -i -
    """
    found = lab_capture.find_lab(_connect(engine), lab)
    wanted = [lab_capture.parse_tap(tap) for tap in taps]
    lab_capture.check_taps(found, wanted)
    with lab_capture.destination(write) as out:
        lab_capture.capture(found, wanted, out, lab_capture.Limits(count, duration), bpf, _progress(to_stderr=True))


@image_app.command("build")
@reports_errors
def image_build(base: Annotated[str, typer.Option(help="Base image for the Dockerfile's FROM.")] = DEFAULT_BASE,
                if_missing: Annotated[bool, typer.Option(
                    "--if-missing", help="Build only if the engine lacks the image.")] = False,
                copy_from: Annotated[str | None, typer.Option(
                    "--copy-from", metavar="ENGINE", help="Copy the image from another engine that has it "
                    "(docker save | load through the API), e.g. from Docker into Podman, instead of building.")] = None,
                ) -> None:
    """Build ubuntu_with_basic_net from images/, showing the build as it runs.

    When the base cannot be pulled (no registry), a local Debian base is made
    with debootstrap (Linux, root) and used instead.
    """
    engine = Engine.connect()
    if if_missing and engine.image_exists(DEFAULT_IMAGE):
        typer.echo(f"{DEFAULT_IMAGE} is already built (`simlab image build` rebuilds it)")
        return
    if copy_from:
        copy_image(_connect(copy_from), engine, _progress())
        return
    ensure_image(engine, _progress(), rebuild=True, base=base)


@app.command("engines", rich_help_panel="Engines")
@reports_errors
def list_engines(engine: Annotated[list[str] | None, typer.Option(
                     "--engine", metavar="NAME[=SLOTS]", help="An engine to check (repeatable); default as for "
                                                              "validate.")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
                 ) -> None:
    """Check the engines a batch would use: reachable, version, OS/arch, CPUs, images, whether
    the kernel can make veths and bridges (and which of vlan, vxlan, macvlan, ipvlan, dummy,
    gre, bond, wireguard and netem it lacks), slots. Exit 2 when none is reachable."""
    specs = engines.configured_specs(engine)
    engines.check_names(specs)
    found = run_parallel(readiness.status, specs or [None])
    if as_json:
        write_json([s.to_dict() for s in found], "-")
    else:
        for s in found:
            if not s.reachable:
                typer.echo(f"{s.name}: UNREACHABLE: {s.error}")
                continue
            yes = {True: "yes", False: "no"}
            typer.echo(f"{s.name}: reachable, {s.product} {s.version} ({s.mode}), {s.os_arch}, {s.cpus} CPU(s), "
                       f"host image {yes[s.host_image]}, fabric helper {yes[s.helper_image]}, "
                       f"veth/bridge {yes[s.veth_bridge] if s.host_image else 'not probed (no host image)'}, "
                       f"{s.slots} slot(s)")
            typer.echo(f"{s.name}: {s.untrusted}")
            lacks = [feature for feature, has in s.kernel.items() if not has]
            if lacks:
                typer.echo(f"{s.name}: its kernel has no {', '.join(lacks)}: steps that use them fail there")
    if not any(s.reachable for s in found):
        raise typer.Exit(2)


def _isolated_only(isolated: bool) -> None:
    if not isolated:
        raise InputError("simlab manages only its isolated engine: add --isolated (`make engine` starts the "
                         "default one)")


@engine_app.command("start")
@reports_errors
def engine_start(isolated: Isolated = False) -> None:
    """Start simlab's isolated engine (its own socket, data root and bridge; container root is an
    unprivileged user here) and copy the host and fabric images into it from the default
    engine. `--untrusted` then uses it without --engine."""
    _isolated_only(isolated)
    state = isolated_engine.start()
    target, source = isolated_engine.connect(timeout=API_SECONDS), Engine.connect()
    progress = _progress()
    ensure_image(source, progress)
    for image in (DEFAULT_IMAGE, helper_image(source, progress)):
        if not target.image_exists(image):
            source.copy_image_to(image, target)
    typer.echo(str(state))


@engine_app.command("status")
@reports_errors
def engine_status(isolated: Isolated = False) -> None:
    """Whether simlab's isolated engine runs, and where. Exit 1 when it does not."""
    _isolated_only(isolated)
    state = isolated_engine.status()
    typer.echo(str(state))
    if not state.running:
        raise typer.Exit(1)


@engine_app.command("stop")
@reports_errors
def engine_stop(isolated: Isolated = False) -> None:
    """Stop simlab's isolated engine and remove its data, bridge and files."""
    _isolated_only(isolated)
    typer.echo("stopped the isolated engine" if isolated_engine.stop() else "the isolated engine was not running")


@image_app.command("prune")
@reports_errors
def image_prune() -> None:
    """Remove the fabric helper images (simlab-fabric:*) of other simlab or pyroute2 versions."""
    removed, freed = prune_helper_images(Engine.connect())
    for tag, deleted in removed:
        typer.echo(f"removed {tag}" + ("" if deleted else " (only the tag: another tag holds the same image)"))
    typer.echo(f"freed {freed / 1e6:.1f} MB" if removed else "no old helper images")


@app.command("list", rich_help_panel="Run scenarios")
@reports_errors
def list_scenarios(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False
                   ) -> None:
    """List the scenarios that come with simlab (`simlab run NAME` runs one; `simlab ls` lists running labs)."""
    found = [(path, load_scenario(path)) for path in shipped_scenarios()]
    if as_json:
        write_json([{"name": path.stem, "description": s.description, "file": str(path), "hosts": len(s.topology.hosts),
                     "steps": len(s.steps)} for path, s in found], "-")
        return
    for path, scenario in found:
        typer.echo(f"{path.stem:<22} {visible(scenario.description)}")


@app.command(rich_help_panel="Write scenarios")
@reports_errors
def new(name: Annotated[str, typer.Argument(help="The scenario's name: NAME.yaml is written.")],
        folder: Annotated[Path, typer.Option("--dir", help="Where to write it.")] = Path("."),
        ) -> None:
    """Write a small scenario to start from (two hosts, one link, a ping that answers, one that
    cannot), and the JSON Schema beside it for your editor. `simlab run NAME.yaml` runs it."""
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
    check_writable(output)
    write_text(exporting.export(api.load(scenario_ref), fmt.value), output or "-")


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
        for spec in specs or [None] if scenarios else []:  # refused before any container starts
            require_isolation(engines.connect(spec))
    for result in bad:
        print(f"ERROR   {visible_text(result.error or '')}", file=out)
    results, interrupted = _run_batch(scenarios, options, out, specs) if scenarios else ([], False)
    everything = bad + results
    print("", file=out)
    for line in results_table(everything, color=wants_color(out)):
        print(line, file=out)
    report = BatchReport(__version__, found.to_dict(), everything, run_part.report_header() if part else None)
    write_reports(report, Destinations(json_out, junit, html), {s.file: s for s in scenarios})
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
            for spec in specs or [None]:  # refused before any container starts
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


def _scenarios_at_hand(results: list[ScenarioResult]) -> dict[str, Scenario]:
    """The scenario files of ``results`` that are here and load (for the HTML's pictures)."""
    found = {}
    for result in results:
        try:
            found[result.file] = load_scenario(result.file)
        except SimlabError:
            continue
    return found


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


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def inspect(lab: Annotated[str, typer.Argument(help="Name of a lab that is up (see `simlab ls`).")],
            as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON (stable, see "
                                                                  "docs/pictures.md).")] = False,
            engine: EngineName = None) -> None:
    """Show a running lab's live state: per host and namespace, interfaces (state, addresses,
    bridge master, veth peer), routes, forwarding, NAT and filter rules."""
    running = open_lab(_connect(engine), lab)
    state = inspect_lab(running, declared_topology(running))
    if as_json:
        write_json(state.to_dict(), "-")
        return
    for line in state_lines(state):
        typer.echo(line)


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def graph(source: Annotated[str, typer.Argument(metavar="FILE|LAB",
                                                help="A topology or scenario file, or a lab that is up.")],
          fmt: Annotated[PictureFormat, typer.Option("--format", help="The picture's format.")] = PictureFormat.svg,
          output: Annotated[str | None, typer.Option("-o", "--output", metavar="FILE",
                                                        help="Write here (default: standard output).")] = None,
          engine: EngineName = None) -> None:
    """Draw a lab: from a file, the declared topology (no engine needed); from a lab that
    is up, what is there now, namespaces, bridges and veths made by steps included."""
    check_writable(output)
    file = _file_or_lab(source)
    if file is not None:
        picture = pictures.from_topology(load_scenario(file).topology)
    else:
        running = open_lab(_connect(engine), source)
        topology = declared_topology(running)
        picture = pictures.from_state(inspect_lab(running, topology), topology)
    write_text(pictures.FORMATS[fmt.value](picture), output or "-")


def _file_or_lab(source: str) -> Path | None:
    """The file (or shipped scenario) ``source`` names, or None when it names a lab: a name with
    a '/' or a YAML suffix is meant as a file, and one that does not exist is said so, before
    any engine is asked."""
    path = Path(source)
    if path.is_file():
        return path
    if "/" in source or path.suffix in (".yaml", ".yml"):
        raise InputError(f"{source}: no such file (a lab's name has no '/' or .yaml; `simlab ls` lists labs)")
    shipped = shipped_scenarios_dir() / f"{source}.yaml"
    return shipped if shipped.is_file() else None


def _check_report_folder(folder: str) -> None:
    """Make the report folder now, so that a bad path is an error before any lab starts."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the HTML report into {folder}: {exc.strerror}") from None
    check_writable(str(Path(folder) / "index.html"))


def check_writable(path: str | None) -> None:
    """InputError now, before any container starts, if a report could not be written to ``path``."""
    if not path or path == "-":
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InputError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: no folder {folder}")
    if not os.access(target if target.exists() else folder, os.W_OK):
        raise InputError(f"cannot write {path}: permission denied")


def _run_batch(scenarios: list[Scenario], options: Options, out: TextIO,
               specs: list[engines.EngineSpec]) -> tuple[list[ScenarioResult], bool]:
    """Run the batch with a progress line; image builds show as in `simlab run`. When no
    engine can be reached, every scenario is an error."""
    try:
        slots = _batch_engines(specs, options, out)
    except EngineError as exc:
        return [ScenarioResult(s.name, s.file, error=str(exc)) for s in scenarios], False
    progress, building = BatchProgress(len(scenarios), out), TerminalProgress(out)
    try:
        return api.run_many(scenarios, options, slots, emit=lambda e: (
            building if e.kind.startswith("image.") else progress)(e))
    finally:
        progress.finish()


def _batch_engines(specs: list[engines.EngineSpec], options: Options, out: TextIO) -> list[EngineSlots]:
    """The engines of a batch that answer, with their slots; an unreachable one is skipped with a
    warning. EngineError when none answers."""
    if not specs:
        return [EngineSlots(_connect_with_image(TerminalProgress(out)), options.jobs or default_jobs())]
    found, problems = [], []
    for spec in specs:
        try:
            engine = engines.connect(spec, timeout=10)
            slots = spec.slots or options.jobs or engines.default_slots(engine, spec)
            engine = engines.connect(spec)  # the batch's calls get the usual, longer deadline
        except EngineError as exc:
            problems.append(str(exc))
            print(f"WARNING engine {spec.name} is skipped: {exc}", file=out)
            continue
        found.append(EngineSlots(engine, slots))
    if not found:
        raise EngineError(f"no engine answers ({'; '.join(problems)})")
    return found


def _print_kept_labs(results: list[ScenarioResult], scenarios: list[Scenario], out: TextIO) -> None:
    hosts = {s.file: sorted(s.topology.hosts) for s in scenarios}
    for result in results:
        if result.kept:
            print(f"kept lab {result.lab} (hosts: {', '.join(hosts[result.file])}): "
                  f"simlab shell {result.lab} {hosts[result.file][0]}; simlab down {result.lab}", file=out)


def _print_title(scenario: Scenario, progress: TerminalProgress) -> None:
    progress.line(f"simlab run {scenario.name}: {visible(scenario.description)}")
    if scenario.tutorial:
        progress.line(f"  reproduces: {visible(scenario.tutorial)}", dim=True)


def _pause_for_enter(index: int, step: Step) -> None:
    try:
        input("      press Enter to run this step (Ctrl-C stops) ")
    except EOFError:
        pass


def _print_explore_hints(lab: str, hosts: list[str], out=None) -> None:
    first = hosts[0]
    lines = [f"The lab {lab} is up. Explore it:",
             f"  simlab exec {lab} {first} -- ip -br addr",
             f"  simlab exec {lab} {first} --ns NETNS -- ip route",
             f"  simlab shell {lab} {first}",
             f"and remove it with:  simlab down {lab}"]
    for line in lines:
        print(line, file=out or sys.stdout)


# `simlab --help` lists the commands in the order a user meets them.
PANELS = ["Run scenarios", "Labs: up, explore, down", "Learn and teach", "Write scenarios", "CI and many machines",
          "Engines"]
app.registered_commands.sort(key=lambda command: PANELS.index(command.rich_help_panel or "Engines"))
