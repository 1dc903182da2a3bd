"""Commands on labs: up, verify, down, ls, exec, shell, capture, inspect, graph."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from simlab.cli.app import app
from simlab.cli.common import (
    AllowPrivileged,
    EngineName,
    HostImage,
    JsonReport,
    _connect,
    _connect_with_image,
    _hardened_engine,
    _print_explore_hints,
    _progress,
    _shell_argv,
    check_writable,
    reports_errors,
)
from simlab.errors import InputError


class PictureFormat(enum.StrEnum):
    svg = "svg"
    mermaid = "mermaid"
    dot = "dot"


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
    from simlab import api
    from simlab.labs.security import Trust, check_trust, require_isolation
    from simlab.reports.terminal import summary_lines
    from simlab.runs import verify

    scenario = api.load(scenario_ref, host_image)
    count = verify.step_count(scenario, until) if until is not None else 0
    check_trust(scenario.topology, Trust(untrusted, allow_privileged, privileged), scenario.file)
    engine = _hardened_engine(engine, untrusted)
    if untrusted:
        require_isolation(_connect(engine))
    progress = _progress()
    if not count:
        lab = api.start(scenario, engine=_connect_with_image(progress, engine), name=name or scenario.name,
                        emit=progress, privileged=privileged, untrusted=untrusted, allow_privileged=allow_privileged)
        _print_explore_hints(lab.name, lab.hosts)
        return
    result = api.run(verify.first_steps(scenario, count), engine=_connect_with_image(progress, engine),
                     name=name or scenario.name, keep=True, emit=progress, privileged=privileged, untrusted=untrusted,
                     allow_privileged=allow_privileged)
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
    from simlab.labs.images import ensure_image
    from simlab.reports.html.verify import verify_page
    from simlab.reports.terminal import write_json, write_text
    from simlab.reports.verify import verify_lines
    from simlab.runs import verify

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
    from simlab.labs.lab import destroy_lab

    if (lab is None) == (not all_labs):
        raise InputError("give a lab name or --all (`simlab ls` lists the labs)")
    removed = destroy_lab(_connect(engine), None if all_labs else lab, _progress())
    if lab and not removed:
        raise InputError(f"no lab named {lab!r} is up; `simlab ls` lists the labs")
    typer.echo(f"removed {removed} container(s)" + (f" of lab {lab}" if lab else ""))


@app.command("ls", rich_help_panel="Labs: up, explore, down")
@reports_errors
def list_running(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
                 engine: EngineName = None) -> None:
    """List the labs that are up, with their hosts and container states."""
    from simlab.labs.lab import list_labs
    from simlab.reports.terminal import write_json

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
    from simlab.labs.lab import open_lab

    connected = _connect(engine)
    container = open_lab(connected, lab).container(host)
    argv = ["ip", "netns", "exec", ns, *command] if ns else list(command)
    stream, exit_code = connected.exec_stream(container, argv)
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
    from simlab.labs.lab import open_lab

    open_lab(_connect(engine), lab).container(host)  # a clear error for a wrong lab or host
    argv = _shell_argv(lab, host, ns, engine)
    os.execv(argv[0], argv)


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
    from simlab.labs import capture as lab_capture

    found = lab_capture.find_lab(_connect(engine), lab)
    wanted = [lab_capture.parse_tap(tap) for tap in taps]
    lab_capture.check_taps(found, wanted)
    with lab_capture.destination(write) as out:
        lab_capture.capture(found, wanted, out, lab_capture.Limits(count, duration), bpf, _progress(to_stderr=True))


@app.command(rich_help_panel="Labs: up, explore, down")
@reports_errors
def inspect(lab: Annotated[str, typer.Argument(help="Name of a lab that is up (see `simlab ls`).")],
            as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON (stable, see "
                                                                  "docs/pictures.md).")] = False,
            engine: EngineName = None) -> None:
    """Show a running lab's live state: per host and namespace, interfaces (state, addresses,
    bridge master, veth peer), routes, forwarding, NAT and filter rules."""
    from simlab.labs.lab import open_lab
    from simlab.reports.terminal import write_json
    from simlab.state.collect import declared_topology, inspect_lab
    from simlab.state.text import state_lines

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
    from simlab import graph as pictures
    from simlab.labs.lab import open_lab
    from simlab.model.scenario import load_scenario
    from simlab.reports.terminal import write_text
    from simlab.state.collect import declared_topology, inspect_lab

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
    from simlab.model.scenario import shipped_scenarios_dir

    path = Path(source)
    if path.is_file():
        return path
    if "/" in source or path.suffix in (".yaml", ".yml"):
        raise InputError(f"{source}: no such file (a lab's name has no '/' or .yaml; `simlab ls` lists labs)")
    shipped = shipped_scenarios_dir() / f"{source}.yaml"
    return shipped if shipped.is_file() else None
