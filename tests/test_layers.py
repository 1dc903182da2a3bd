"""The package's layers, as each subpackage's docstring states them: what it may import.

A new import across a layer (a reporter reaching for the engine, the model importing
docker) fails here with the file and the line, before it becomes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "simlab"
SHARED = {"errors", "events", "resources", "results"}  # small modules every layer may use
ALLOWED = {
    "model": {"model", "steps", "checks", "errors", "resources"},
    "steps": {"steps", "checks", "errors", "results"},
    "engines": {"engines", "errors", "events"},
    "labs": {"labs", "engines", "model", "errors", "events", "resources"},
    "checks": {"checks", "errors", "results"},
    "runs": {"runs", "labs", "engines", "model", "steps", "checks", "state", *SHARED},
    "state": {"state", "labs", "runs", "model", "steps", "errors", "events", "results"},
    "graph": {"graph", "model", "state"},
    "reports": {"reports", "graph", "state", "model", "errors", "events", "results"},
    "mutate": {"mutate", "model", "steps", "runs", "reports", "errors", "events", "results"},
}
DOCKER_ONLY_IN = {"engines/lazy.py"}  # imported on first use, for engines/client.py alone


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


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
