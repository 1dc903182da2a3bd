"""The typer applications of the command line: the commands, and the groups `image` and `engine`."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Build sealed multi-host network labs from Docker containers and check, step by step, "
         "that they behave as a scenario says.\n\n"
         "Start with `simlab list`, then `simlab run gateway-nat`.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="markdown")


image_app = typer.Typer(help="The host image ubuntu_with_basic_net.", no_args_is_help=True)


engine_app = typer.Typer(help="simlab's own isolated engine for --untrusted: start, status, stop (Linux, root).",
                         no_args_is_help=True)
app.add_typer(image_app, name="image", rich_help_panel="Engines")
app.add_typer(engine_app, name="engine", rich_help_panel="Engines")
