"""`simlab validate --shard` and `simlab merge` through the CLI, on files that cannot run (so
no engine is needed): the merge equals one run, and every bad input is one line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import DATA, simlab

BAD = DATA / "bad"


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """Three shard reports and one whole run's of the same broken files."""
    out = tmp_path_factory.mktemp("shards")
    for i in (1, 2, 3):
        done = simlab("validate", str(BAD), "--shard", f"{i}/3", "--json", str(out / f"s{i}.json"))
        assert done.returncode == 2, done.stderr
    simlab("validate", str(BAD), "--json", str(out / "whole.json"), "--junit", str(out / "whole.xml"),
           "--html", str(out / "whole-html"))
    return out


def one_line_error(done, *says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simlab: error: "), done.stderr
    for text in says:
        assert text in lines[0], lines[0]


def test_the_merge_equals_one_run(shards, tmp_path):
    parts = [json.loads((shards / f"s{i}.json").read_text()) for i in (1, 2, 3)]
    assert sorted(len(p["results"]) for p in parts) == [14, 14, 14]  # errors weigh nothing: spread by count
    done = simlab("merge", *(str(shards / f"s{i}.json") for i in (3, 1, 2)), "--json", str(tmp_path / "m.json"),
                  "--junit", str(tmp_path / "m.xml"), "--html", str(tmp_path / "html"))
    assert done.returncode == 2  # as the whole run's: these files cannot run
    assert "merged 3 report(s) (shards 1/3, 2/3, 3/3): 42 scenario(s)" in done.stdout
    merged, whole = json.loads((tmp_path / "m.json").read_text()), json.loads((shards / "whole.json").read_text())
    assert merged["merged"] == ["1/3", "2/3", "3/3"] and whole["merged"] == [] and whole["shard"] is None
    assert {**merged, "merged": []} == whole
    assert (tmp_path / "m.xml").read_text() == (shards / "whole.xml").read_text()
    for page in (shards / "whole-html").iterdir():
        assert (tmp_path / "html" / page.name).read_text() == page.read_text(), page.name


def test_a_shard_with_nothing_to_run_says_so_and_passes(tmp_path):
    done = simlab("validate", str(BAD / "empty.yaml"), "--shard", "2/2", "--json", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    assert "shard 2/2: nothing to run (1 file(s) in all, none fell to this shard)" in done.stdout
    assert json.loads((tmp_path / "s.json").read_text())["results"] == []


@pytest.mark.parametrize("value", ["0/3", "4/3", "a/b", "1/0"])
def test_a_bad_shard_option(value):
    one_line_error(simlab("validate", str(BAD), "--shard", value), f"--shard {value}:")


def test_a_missing_shard_is_named_and_its_scenarios_are_errors(shards, tmp_path):
    done = simlab("merge", str(shards / "s1.json"), str(shards / "s3.json"), "--json", str(tmp_path / "m.json"))
    one_line_error(done, "14 scenario(s) are in no report", "the report of shard 2/3 is missing")
    results = json.loads((tmp_path / "m.json").read_text())["results"]
    assert sum(r["error"] == "not reported: the report of shard 2/3 is missing" for r in results) == 14


def test_the_same_shard_twice(shards, tmp_path):
    copy = tmp_path / "again.json"
    shutil.copy(shards / "s2.json", copy)
    one_line_error(simlab("merge", str(shards / "s1.json"), str(shards / "s2.json"), str(copy)),
                   f"{shards / 's2.json'} and {copy} are both shard 2/3")


def test_a_scenario_in_two_reports(shards, tmp_path):
    data = json.loads((shards / "s2.json").read_text())
    data["results"].append(json.loads((shards / "s1.json").read_text())["results"][0])
    (tmp_path / "s2.json").write_text(json.dumps(data))
    one_line_error(simlab("merge", str(shards / "s1.json"), str(tmp_path / "s2.json"), str(shards / "s3.json")),
                   "1 scenario(s) are in more than one report")


def test_reports_of_another_simlab(shards, tmp_path):
    data = json.loads((shards / "s2.json").read_text())
    (tmp_path / "s2.json").write_text(json.dumps({**data, "simlab": "0.0.9"}))
    one_line_error(simlab("merge", str(shards / "s1.json"), str(tmp_path / "s2.json")),
                   "was written by simlab 0.0.9", "run every shard with the same simlab")


def test_reports_of_another_scenario_set(shards, tmp_path):
    folder = tmp_path / "other"
    shutil.copytree(BAD, folder)
    (folder / "empty.yaml").unlink()
    simlab("validate", str(folder), "--shard", "2/3", "--json", str(tmp_path / "o2.json"))
    one_line_error(simlab("merge", str(shards / "s1.json"), str(tmp_path / "o2.json")),
                   "ran another scenario set than", "run every shard on the same files")


def test_a_report_cut_short(shards, tmp_path):
    text = (shards / "s2.json").read_text()
    (tmp_path / "s2.json").write_text(text[: len(text) // 2])
    one_line_error(simlab("merge", str(shards / "s1.json"), str(tmp_path / "s2.json")),
                   "the report ends early", "run that shard again")


def test_shards_split_another_way(shards, tmp_path):
    """As a shard given another --durations file writes it (durations move only scenarios that
    run, which need an engine: the split's digest is changed here by hand)."""
    data = json.loads((shards / "s2.json").read_text())
    data["shard"]["split"] = "sha256:another"
    (tmp_path / "s2.json").write_text(json.dumps(data))
    one_line_error(simlab("merge", str(shards / "s1.json"), str(tmp_path / "s2.json")),
                   "split the scenarios unlike", "same --durations")


def test_not_a_report(tmp_path):
    (tmp_path / "list.json").write_text("[]")
    one_line_error(simlab("merge", str(tmp_path / "list.json")), "an older simlab wrote it")
    one_line_error(simlab("merge", str(tmp_path / "none.json")), "none.json: no such file")
