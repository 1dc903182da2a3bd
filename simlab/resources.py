"""Folders that ship inside the package: the scenarios and the image build contexts.

They live at the top of the checkout (scenarios/, images/) and are installed as
the packages ``simlab.scenarios`` and ``simlab.images`` (see pyproject.toml), so
an installed simlab needs no path outside itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def shipped_folder(name: str) -> Path:
    """The folder of package ``simlab.<name>``, or ``<checkout>/<name>`` when simlab runs
    from a source tree that is not installed (PYTHONPATH pointing at a checkout)."""
    spec = importlib.util.find_spec(f"simlab.{name}")
    if spec is None or not spec.submodule_search_locations:
        return CHECKOUT / name
    # These folders have no __init__.py: each is a namespace package of exactly one folder, and
    # docker builds from a real folder, so its path is what we want (not a Traversable).
    return Path(next(iter(spec.submodule_search_locations)))
