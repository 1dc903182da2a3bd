"""The command line as users of containerlab, netlab and CI expect it: shipped names
everywhere, machine-readable check and list, bad paths refused before any lab starts,
a starter scenario, and help in the order a user works."""

from __future__ import annotations

import json
import os

from conftest import simlab

NO_ENGINE = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}


def test_new_writes_a_scenario_that_checks_and_runs(tmp_path, engine, no_leftovers):
    done = simlab("new", "hello", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "simlab.schema.json").read_text())["title"] == "simlab scenario"
    assert simlab("check", str(tmp_path / "hello.yaml")).returncode == 0
    ran = simlab("run", str(tmp_path / "hello.yaml"), "--name", f"hello-{os.getpid()}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    again = simlab("new", "hello", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr


def test_check_speaks_json_and_github(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  a: {}\nsteps:\n  - {title: t, host: a, ping: 10.0.0.2, expcet: reply}\n")
    as_json = simlab("check", str(bad), "--format", "json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["problems"] == [
        {"file": str(bad), "line": 4, "column": 41, "level": "error",
         "message": "steps[0].expcet: unknown key 'expcet' in step; did you mean 'expect'?"}]
    github = simlab("check", str(bad), "--format", "github")
    assert github.stdout == (f"::error file={bad},line=4,col=41::steps[0].expcet: unknown key 'expcet' in step; "
                             f"did you mean 'expect'?\n")


def test_a_shipped_name_works_where_a_file_does():
    assert simlab("check", "gateway-nat").stdout == "1 scenario file(s) OK\n"
    done = simlab("graph", "gateway-nat", "--format", "mermaid", env=NO_ENGINE)
    assert done.returncode == 0 and done.stdout.startswith("flowchart")
    listed = json.loads(simlab("list", "--json").stdout)
    assert "gateway-nat" in [entry["name"] for entry in listed]


def test_a_mistyped_file_is_no_such_file_without_asking_an_engine():
    done = simlab("graph", "scenarios/gatway-nat.yaml", env=NO_ENGINE)
    assert done.returncode == 2
    assert done.stderr.startswith("simlab: error: scenarios/gatway-nat.yaml: no such file")
    assert simlab("graph", "gateway-nat", "--format", "png").returncode == 2


def test_a_report_path_that_cannot_be_written_stops_validate_before_any_lab():
    done = simlab("validate", "gateway-nat", "--junit", "/no-such-folder/x.xml", env=NO_ENGINE)
    assert done.returncode == 2
    assert done.stderr == "simlab: error: cannot write /no-such-folder/x.xml: no folder /no-such-folder\n"
    assert done.stdout == ""


def test_help_lists_commands_in_the_order_a_user_works():
    text = simlab("--help").stdout
    panels = ["Run scenarios", "Labs: up, explore, down", "Write scenarios", "CI and many machines", "Engines"]
    assert [text.index(panel) for panel in panels] == sorted(text.index(panel) for panel in panels)


def test_the_batch_table_is_coloured_on_a_terminal_or_when_forced(tmp_path):
    from simlab.reports.terminal import results_table, wants_color
    from simlab.results import ScenarioResult

    results = [ScenarioResult("ok", "ok.yaml"), ScenarioResult("bad", "bad.yaml", error="bad.yaml:1: no")]
    plain, colored = results_table(results), results_table(results, color=True)
    assert "\x1b[" not in "".join(plain) and "\x1b[32mPASSED" in colored[1] and "\x1b[33mERROR" in colored[2]
    assert [line.replace("\x1b[32m", "").replace("\x1b[33m", "").replace("\x1b[0m", "") for line in colored] == plain
    with open(tmp_path / "log", "w") as log:
        env = dict(os.environ)
        try:
            os.environ.pop("NO_COLOR", None)
            os.environ["FORCE_COLOR"] = "1"
            assert wants_color(log)
            os.environ["NO_COLOR"] = "1"
            assert not wants_color(log)
            del os.environ["NO_COLOR"], os.environ["FORCE_COLOR"]
            assert not wants_color(log)  # a file, not a terminal
        finally:
            os.environ.clear()
            os.environ.update(env)
    forced = simlab("validate", str(tmp_path / "none.yaml"), env={**NO_ENGINE, "FORCE_COLOR": "1"})
    assert "\x1b[33mERROR" in forced.stdout
