"""`simlab schema` describes the files simlab accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import simlab
from simlab.model.scenario import shipped_scenarios
from simlab.model.schema import scenario_schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = scenario_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


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


def test_schema_and_loader_know_the_same_keys():
    from simlab.model.scenario import SCENARIO_KEYS, STEP_KEYS
    from simlab.model.topology import HOST_KEYS

    schema = scenario_schema()
    assert set(schema["properties"]) == SCENARIO_KEYS
    assert set(schema["properties"]["hosts"]["additionalProperties"]["properties"]) == HOST_KEYS
    assert set(schema["properties"]["steps"]["items"]["properties"]) == STEP_KEYS


@pytest.mark.parametrize("step", [
    {"title": "t", "host": "a", "run": "x", "deadline": 2},
    {"title": "t", "host": "a", "ping": "10.0.0.1", "output": "x"},
    {"title": "t", "host": "a", "run": "x", "ttl": 2},
    {"title": "t", "host": "a", "ping": "10.0.0.1", "reason": "ttl"},
    {"title": "t", "host": "a", "ping": "10.0.0.1", "expect": "unreachable", "reason": "because"},
])
def test_schema_keeps_step_keys_to_their_kind(validator, step: dict) -> None:
    assert list(validator.iter_errors({"hosts": {"a": {}}, "steps": [step]})) != []


def test_the_shipped_schema_file_is_the_schema_and_every_shipped_scenario_points_at_it():
    from simlab.model.scenario import shipped_scenarios_dir

    assert json.loads((shipped_scenarios_dir() / "simlab.schema.json").read_text()) == scenario_schema(), \
        "scenarios/simlab.schema.json is stale: `simlab schema > scenarios/simlab.schema.json`"
    for path in shipped_scenarios():
        assert path.read_text().startswith("# yaml-language-server: $schema=simlab.schema.json\n"), path
