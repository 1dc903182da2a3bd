"""`simlab schema` describes the files simlab accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from simlab.scenario import shipped_scenarios
from simlab.schema import scenario_schema

from conftest import simlab


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_schema_accepts_shipped_scenarios(validator, path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("doc", [
    {"hosts": {"a": {"adresses": {}}}},
    {"hosts": {"a": {}}, "steps": [{"title": "t", "host": "a", "run": "x", "ping": "1.1.1.1"}]},
    {"hosts": {"a": {}}, "steps": [{"title": "t", "host": "a", "ping": "10.0.0.1", "expect": "success"}]},
    {"hosts": {"a": {"interfaces": {"veth-red-bridge0": "10.0.0.1/24"}}}},
    {"steps": []},
])
def test_schema_rejects_bad_documents(validator, doc: dict) -> None:
    assert list(validator.iter_errors(doc)) != []


def test_schema_command_prints_the_schema() -> None:
    done = simlab("schema", check=True)
    assert json.loads(done.stdout) == scenario_schema()
