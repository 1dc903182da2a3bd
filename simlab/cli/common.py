"""What the commands share: option types, error handling, progress, connecting to an engine, report paths,
running a batch."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from simlab.defaults import DEFAULT_IMAGE
from simlab.errors import EngineError, InputError, SimlabError
from simlab.signals import EXIT_INTERRUPTED, live_signals

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from simlab.engines import named as engines
    from simlab.engines.client import Engine
    from simlab.model.scenario import Scenario
    from simlab.reports.terminal import TerminalProgress
    from simlab.results import ScenarioResult
    from simlab.runs.validate import EngineSlots, Options


API_SECONDS = 120  # an image copy into the isolated engine is one long call


Isolated = Annotated[bool, typer.Option("--isolated", help="The user-namespace-remapped dockerd of simlab's own "
                                                          "(the only engine simlab manages).")]


def reports_errors(command: Callable) -> Callable:
    """Turn SimlabError into one clear line on stderr and its exit code; Ctrl-C into 130."""
    from simlab.reports.visible import visible_text

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
    from simlab.reports.terminal import TerminalProgress

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
    from simlab.engines import isolated as isolated_engine

    if untrusted and engine is None and not os.environ.get("DOCKER_HOST") and isolated_engine.status().running:
        return isolated_engine.ADDRESS
    return engine


def _connect(engine: str | None = None) -> Engine:
    """The engine named by --engine, or the default one."""
    from simlab.engines import named as engines
    from simlab.engines.client import Engine

    if engine is None:
        return Engine.connect()
    spec = engines.parse_specs([engine], "--engine")[0]
    engines.check_names([spec])
    return engines.connect(spec)


def _connect_with_image(progress: TerminalProgress, engine: str | None = None) -> Engine:
    from simlab.labs.images import ensure_image

    connected = _connect(engine)
    ensure_image(connected, progress)
    return connected


def _shipped_names(incomplete: str) -> list[str]:
    """Shell completion of `simlab run`: the shipped scenarios (files complete as files)."""
    from simlab.model.scenario import shipped_scenarios

    return [p.stem for p in shipped_scenarios() if p.stem.startswith(incomplete)]


def _shell_argv(lab: str, host: str, ns: str | None, engine: str | None) -> list[str]:
    """The docker CLI's `exec` of an interactive bash on ``host`` (in ``ns``): the CLI owns the
    terminal (raw mode, window size) as no SDK stream does."""
    from simlab.labs.lab import container_name

    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise InputError("simlab shell needs the docker CLI for an interactive terminal; "
                         f"`simlab exec {lab} {host} -- CMD` works without it")
    inner = ["ip", "netns", "exec", ns, "bash"] if ns else ["bash"]
    terminal = "-it" if sys.stdin.isatty() else "-i"  # piped commands work too
    where = [] if engine is None else ["--host", engine] if ":" in engine else ["--context", engine]
    return [docker_cli, *where, "exec", terminal, container_name(lab, host), *inner]


def _scenarios_at_hand(results: list[ScenarioResult]) -> dict[str, Scenario]:
    """The scenario files of ``results`` that are here and load (for the HTML's pictures)."""
    from simlab.model.scenario import load_scenario

    found = {}
    for result in results:
        try:
            found[result.file] = load_scenario(result.file)
        except SimlabError:
            continue
    return found


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
    from simlab import api
    from simlab.reports.terminal import BatchProgress, TerminalProgress
    from simlab.results import ScenarioResult

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
    from simlab.engines import named as engines
    from simlab.reports.terminal import TerminalProgress
    from simlab.runs.validate import EngineSlots, default_jobs

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


def _print_explore_hints(lab: str, hosts: list[str], out=None) -> None:
    first = hosts[0]
    lines = [f"The lab {lab} is up. Explore it:",
             f"  simlab exec {lab} {first} -- ip -br addr",
             f"  simlab exec {lab} {first} --ns NETNS -- ip route",
             f"  simlab shell {lab} {first}",
             f"and remove it with:  simlab down {lab}"]
    for line in lines:
        print(line, file=out or sys.stdout)
