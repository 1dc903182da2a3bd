"""The package's layers, as each subpackage's docstring states them: what it may import.

A new import across a layer (a reporter reaching for the engine, the model importing
docker) fails here with the file and the line, before it becomes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "simlab"
SHARED = {"errors", "events", "resources", "results", "defaults"}  # small modules every layer may use
ALLOWED = {
    "model": {"model", "steps", "checks", "errors", "resources", "defaults"},
    "steps": {"steps", "checks", "errors", "results", "defaults"},
    "engines": {"engines", "errors", "events"},
    "labs": {"labs", "engines", "model", "errors", "events", "resources", "defaults"},
    "checks": {"checks", "errors", "results"},
    "runs": {"runs", "labs", "engines", "model", "steps", "checks", "state", *SHARED},
    "state": {"state", "labs", "model", "steps", "errors", "events", "results"},
    "graph": {"graph", "model", "state"},
    "reports": {"reports", "graph", "state", "model", "errors", "events", "results"},
    "mutate": {"mutate", "model", "steps", "runs", "reports", "errors", "events", "results"},
    "cli": {"cli", "api", "tutor", "signals", "engines", "graph", "labs", "model", "mutate", "reports", "runs", "state",
            *SHARED},
}
# The modules at the top: the way in (entry, __main__), what every layer may use, and the
# front ends (the CLI, the Python API, the tutorial's prompt, the pytest plugin).
TOP = {
    "__main__": {"entry"},
    "__init__": {"api", "errors", "engines", "events", "model", "results"},
    "entry": {"cli", "signals"},
    "signals": set(),
    "errors": set(), "events": set(), "resources": set(), "results": set(), "defaults": set(),
    "api": {"engines", "labs", "model", "runs", "state", "steps", *SHARED},
    "tutor": {"api", "engines", "labs", "model", "reports", "runs", "state", *SHARED},
    "pytest_plugin": {"api", "reports", *SHARED},
}
DOCKER_ONLY_IN = {"engines/lazy.py"}  # imported on first use, for engines/client.py alone


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``, function-level ones included;
    `from simlab import api` counts as simlab.api."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "simlab" and node.level == 0:
            found += [(node.lineno, f"simlab.{alias.name}") for alias in node.names
                      if alias.name != "__version__"]  # the version: every layer may say it
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def part_of(module: str) -> str | None:
    """The subpackage or top-level module of simlab that ``module`` is in (None: not simlab's)."""
    parts = module.split(".")
    if parts[0] != "simlab" or len(parts) == 1:
        return None
    return parts[1]


def simlab_imports(path: Path) -> list[tuple[int, str]]:
    return [(line, part) for line, module in imports(path) if (part := part_of(module)) is not None]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_subpackage_imports_only_what_its_docstring_allows(package):
    wrong = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for line, module in imports(path):
            parts = module.split(".")
            if parts[0] == "simlab" and len(parts) > 1 and parts[1] not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: imports {module}")
    assert not wrong, "\n".join(wrong)


def test_every_subpackage_says_what_it_owns_and_may_import():
    for package in ALLOWED:
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text())) or ""
        assert "Owns" in doc and "May import" in doc, f"simlab/{package}/__init__.py: docstring lacks Owns/May import"


def test_only_the_engine_client_imports_docker():
    """docker-py and requests are imported in engines/lazy.py, on first use, and used by
    engines/client.py alone."""
    users = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if any(module.split(".")[0] in ("docker", "requests") for _, module in imports(path)))
    assert set(users) == DOCKER_ONLY_IN, users


def test_only_the_engine_client_uses_the_lazy_docker():
    users = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if any(module == "simlab.engines.lazy" for _, module in imports(path)))
    assert users == ["engines/client.py"], users


def test_every_module_is_in_a_layer():
    tops = {path.stem for path in PACKAGE.glob("*.py")}
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert tops == set(TOP), f"top-level modules without a layer here: {sorted(tops ^ set(TOP))}"
    assert packages == set(ALLOWED), f"subpackages without a layer here: {sorted(packages ^ set(ALLOWED))}"


@pytest.mark.parametrize("module", sorted(TOP))
def test_a_top_level_module_imports_only_its_layer(module):
    path = PACKAGE / f"{module}.py"
    wrong = [f"{module}.py:{line}: imports simlab.{part}" for line, part in simlab_imports(path)
             if part not in TOP[module] and part != module]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_layers():
    """The graph of subpackages and top-level modules, by what their files import, has no cycle."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        node = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        edges.setdefault(node, set()).update(part for _, part in simlab_imports(path) if part != node)
    edges.pop("__init__", None)  # the package's lazy re-exports of the API, for users

    def cycle_from(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return trail[trail.index(node):] + [node]
        for nxt in sorted(edges.get(node, ())):
            found = cycle_from(nxt, trail + [node])
            if found:
                return found
        return None

    for start in sorted(edges):
        found = cycle_from(start, [])
        assert found is None, " -> ".join(found)
