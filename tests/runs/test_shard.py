"""The split of `simlab validate --shard I/N` (simlab/runs/shard.py), without an engine."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from conftest import DATA
from simlab.errors import InputError
from simlab.model.scenario import load_scenario
from simlab.results import ScenarioResult, StepResult
from simlab.runs import shard as sharding
from simlab.runs.validate import collect


@pytest.mark.parametrize("text, says", [
    ("0/3", "counted from 1 to 3"), ("4/3", "counted from 1 to 3"), ("a/b", "expected I/N"),
    ("1/0", "at least 1"), ("2", "expected I/N"), ("-1/3", "expected I/N"), ("", "expected I/N")])
def test_a_bad_shard_is_one_clear_line(text, says):
    with pytest.raises(InputError, match=says) as caught:
        sharding.parse_shard(text)
    assert str(caught.value).startswith(f"--shard {text}:") and "\n" not in str(caught.value)


def test_a_good_shard():
    assert sharding.parse_shard("2/3") == sharding.Shard(2, 3) and str(sharding.Shard(2, 3)) == "2/3"


def test_every_item_lands_in_exactly_one_shard_whatever_the_listing_order():
    keys = [f"s/{i:03d}.yaml" for i in range(50)]
    rng = random.Random(7)
    weights = [rng.lognormvariate(1, 0.6) for _ in keys]
    shard_of = dict(zip(keys, sharding.split(keys, weights, 4)))
    assert set(shard_of.values()) == {1, 2, 3, 4}
    order = list(range(len(keys)))
    rng.shuffle(order)  # another file system lists them otherwise
    shuffled = [keys[i] for i in order]
    assert dict(zip(shuffled, sharding.split(shuffled, [weights[i] for i in order], 4))) == shard_of
    assert sharding.split_digest(shuffled, [shard_of[k] for k in shuffled]) == \
        sharding.split_digest(keys, [shard_of[k] for k in keys])


def test_recorded_durations_balance_the_shards():
    rng = random.Random(3)
    for count, total in ((24, 3), (100, 5), (1000, 8)):
        weights = [rng.lognormvariate(1, 0.8) for _ in range(count)]
        shard_of = sharding.split([f"{i}" for i in range(count)], weights, total)
        assert sharding.imbalance(weights, shard_of, total) <= 1.2, (count, total)


def test_more_shards_than_scenarios_leaves_some_empty():
    assert sorted(sharding.split(["a", "b"], [1.0, 2.0], 4)) == [1, 2]


def test_weights_by_file_then_name_then_the_mean_else_size():
    scenarios = [load_scenario(DATA / "shards" / name) for name in ("pair.yaml", "alone.yaml", "wrong.yaml")]
    by_file = {scenarios[0].file: 4.0, "name:sh-alone": 2.0}
    assert sharding.weights(scenarios, by_file) == [4.0, 2.0, 3.0]
    sizes = sharding.weights(scenarios, None)
    assert sizes[0] > sizes[1]  # two hosts weigh more than one
    assert sharding.weights(scenarios, {}) == sizes


def test_durations_come_from_any_json_report(tmp_path):
    step = StepResult(1, "t", "run", "a", [], "", "", True)
    result = ScenarioResult("pair", "x/pair.yaml", duration=3.5, steps=[step])
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps({"simlab": "0", "results": [result.to_dict()]}))
    older = tmp_path / "older.json"
    older.write_text(json.dumps([result.to_dict()]))
    for path in (whole, older):
        assert sharding.read_durations(str(path)) == {"x/pair.yaml": 3.5, "name:pair": 3.5}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match=r"--durations .*bad.json: not a JSON report"):
        sharding.read_durations(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match="cannot read it"):
        sharding.read_durations(str(tmp_path / "none.json"))


def test_a_shard_selects_its_part_and_records_the_whole(tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(DATA / "shards", folder)
    files, _ = collect([str(folder)])
    scenarios = [load_scenario(f) for f in files if f.stem != "broken"]
    errors = [ScenarioResult("broken", str(folder / "broken.yaml"), error="bad")]
    parts = [sharding.select(sharding.Shard(i, 2), errors, scenarios) for i in (1, 2)]
    assert sorted(s.file for p in parts for s in p.scenarios) == sorted(s.file for s in scenarios)
    assert sum(len(p.errors) for p in parts) == 1
    assert parts[0].scenario_set == parts[1].scenario_set and parts[0].split == parts[1].split
    assert list(parts[0].scenario_set.files) == [errors[0].file] + [s.file for s in scenarios]
    before = parts[0].scenario_set.digest
    (folder / "alone.yaml").write_text((folder / "alone.yaml").read_text() + "\n# changed\n")
    assert sharding.scenario_set(list(parts[0].scenario_set.files)).digest != before  # contents count


def test_a_result_survives_its_json():
    step = StepResult(1, "t", "ping", "a", ["ping"], "reply", "reply", True, duration=0.5, hops=["x"],
                      state={"hosts": {}}, changes=[])
    result = ScenarioResult("s", "s.yaml", "lab", [step], duration=1.25, engine="e", retries=["r"])
    data = json.loads(json.dumps(result.to_dict()))
    assert ScenarioResult.from_dict(data).to_dict() == data


def test_other_durations_make_another_split_and_another_digest():
    keys = ["a", "b", "c", "d"]
    by_size = sharding.split(keys, [1.0, 1.0, 1.0, 1.0], 2)
    by_time = sharding.split(keys, [9.0, 1.0, 1.0, 1.0], 2)
    assert by_size != by_time
    assert sharding.split_digest(keys, by_size) != sharding.split_digest(keys, by_time)
