"""The simlab command line. It parses options, calls the core, and renders the core's
events and results; it holds no lab logic of its own.

Owns: one module per panel of `simlab --help`: running.py (list, run, validate, merge),
labs.py (up, verify, down, ls, exec, shell, capture, inspect, graph), learning.py
(tutorial, grade), writing.py (new, schema, export, check, mutate), engine_commands.py
(engines, engine, image); common.py holds what they share, app.py the typer applications.
A command imports the core when it runs, so that `simlab --help` loads none of it.
May import: everything below it (the API first, then the core's packages for what the API
does not offer), signals.py and tutor.py; nothing imports the CLI but entry.py.

Exit codes: 0 success; 1 a scenario's expectation did not hold; 2 bad input or an engine
problem; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from typing import Annotated

import typer

from simlab.cli import engine_commands, labs, learning, running, writing  # noqa: F401 - they register the commands
from simlab.cli.app import app

# `simlab --help` lists the commands in the order a user meets them.
PANELS = ["Run scenarios", "Labs: up, explore, down", "Learn and teach", "Write scenarios", "CI and many machines",
          "Engines"]
app.registered_commands.sort(key=lambda command: PANELS.index(command.rich_help_panel or "Engines"))


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


__all__ = ["app", "run_app"]
