"""Commands on engines: engines, engine start|status|stop, image build|prune."""

from __future__ import annotations

from typing import Annotated

import typer

from simlab.cli.app import app, engine_app, image_app
from simlab.cli.common import API_SECONDS, Isolated, _connect, _progress, reports_errors
from simlab.defaults import DEFAULT_BASE
from simlab.errors import InputError


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
    from simlab.defaults import DEFAULT_IMAGE
    from simlab.engines.client import Engine
    from simlab.labs.images import copy_image, ensure_image

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
    from simlab.engines import named as engines
    from simlab.labs import readiness
    from simlab.labs.lab import run_parallel
    from simlab.reports.terminal import write_json

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
    from simlab.defaults import DEFAULT_IMAGE
    from simlab.engines import isolated as isolated_engine
    from simlab.engines.client import Engine
    from simlab.labs.fabric import helper_image
    from simlab.labs.images import ensure_image

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
    from simlab.engines import isolated as isolated_engine

    _isolated_only(isolated)
    state = isolated_engine.status()
    typer.echo(str(state))
    if not state.running:
        raise typer.Exit(1)


@engine_app.command("stop")
@reports_errors
def engine_stop(isolated: Isolated = False) -> None:
    """Stop simlab's isolated engine and remove its data, bridge and files."""
    from simlab.engines import isolated as isolated_engine

    _isolated_only(isolated)
    typer.echo("stopped the isolated engine" if isolated_engine.stop() else "the isolated engine was not running")


@image_app.command("prune")
@reports_errors
def image_prune() -> None:
    """Remove the fabric helper images (simlab-fabric:*) of other simlab or pyroute2 versions."""
    from simlab.engines.client import Engine
    from simlab.labs.images import prune_helper_images

    removed, freed = prune_helper_images(Engine.connect())
    for tag, deleted in removed:
        typer.echo(f"removed {tag}" + ("" if deleted else " (only the tag: another tag holds the same image)"))
    typer.echo(f"freed {freed / 1e6:.1f} MB" if removed else "no old helper images")
