"""The README and docs/ stay true: their links lead somewhere, every complete scenario in
them passes `simlab check`, every YAML snippet parses, and every command they show exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT
from simlab.model import clab
from simlab.model.scenario import scenario_from_data
from simlab.model.yamlsource import parse_yaml

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`simlab ([a-z][a-z-]*)")  # `simlab run ...` in the text
TYPED = re.compile(r"(?:^\s*(?:\$\s*)?(?:sudo\s+)?|&&\s*|\|\s*)simlab ([a-z][a-z-]*)", re.M)  # in a shell block


def blocks(kind: str) -> list[tuple[str, str]]:
    return [(f"{page.relative_to(ROOT)}#{n}", text) for page in PAGES
            for n, (lang, text) in enumerate(BLOCK.findall(page.read_text())) if lang == kind]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_to_files_that_exist(page: Path):
    missing = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
               if not target.startswith(("http://", "https://")) and not (page.parent / target).exists()]
    assert missing == []


@pytest.mark.parametrize("where, text", blocks("yaml"), ids=[w for w, _ in blocks("yaml")])
def test_yaml_in_the_docs_is_valid(where: str, text: str):
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        return  # a comment only, like an editor's modeline
    data, source = parse_yaml(text, where)  # a fragment (some steps, a host) must at least parse
    if isinstance(data, dict) and "hosts" in data and "# error:" not in text:
        scenario_from_data(data, source, "doc")  # a whole scenario must pass check
    if clab.is_clab(where, data):  # a containerlab topology must load as one, without a warning
        translated, lines, problems = clab.translate(data, source)
        scenario = scenario_from_data(translated, lines, "doc")
        assert problems.messages + problems.warnings + scenario.topology.warnings == []


def test_the_docs_hold_whole_scenarios():
    whole = [w for w, t in blocks("yaml") if re.search(r"^hosts:", t, re.M)]
    assert len(whole) >= 2, whole  # the README's and the reference's: both pass check above


def test_every_command_the_docs_show_exists():
    from simlab.cli import app

    known = {c.name or c.callback.__name__ for c in app.registered_commands} | {
        g.name for g in app.registered_groups}
    shown = {name for page in PAGES for name in INLINE.findall(page.read_text())}
    shown |= {name for lang in ("sh", "console", "") for _, text in blocks(lang) for name in TYPED.findall(text)}
    assert shown - known == set(), f"commands in the docs that simlab does not have: {sorted(shown - known)}"


def test_problems_the_docs_show_carry_the_column():
    """simlab check prints FILE:LINE:COL: (a line alone only for a problem with the whole file)."""
    line_only = [line for page in PAGES for line in page.read_text().splitlines()
                 if re.search(r"\.ya?ml:\d+: (?!the file is)", line)]
    assert line_only == []
