"""Every problem with a file names the column as well as the line, `FILE:LINE:COL: key: ...`
(GCC's form, which editors and CI annotators parse): a wrong value where the value starts,
an unknown key at the key, a missing key where its mapping is."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from conftest import DATA, simlab
from simlab.errors import InputError
from simlab.model.problems import Problems
from simlab.model.scenario import load_scenario
from simlab.model.yamlsource import Source, parse_yaml
from simlab.reports.problems import github_annotation, problem_record

WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): ")


def problems(tmp_path: Path, text: str, name: str = "f.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(InputError) as raised:
        load_scenario(path)
    return [line.removeprefix(f"{path}:") for line in str(raised.value).splitlines()]


def test_a_wrong_value_deep_in_a_step_is_pointed_at(tmp_path):
    assert problems(tmp_path, """\
        hosts:
          a: {interfaces: {eth0: 10.0.0.1/24}}
          b: {interfaces: {eth0: 10.0.0.2/24}}
        links: [[a:eth0, b:eth0]]
        steps:
          - title: watch
            host: a
            ping: 10.0.0.2
            seen:
              - at: a:eth0
              - at: b:eth0
                proto: sctp
        """) == ["12:16: steps[0].seen[1].proto: proto is one of icmp, icmp6, tcp, udp, not 'sctp'"]


def test_an_unknown_key_points_at_the_key_and_a_bad_value_at_the_value(tmp_path):
    assert problems(tmp_path, """\
        hosts:
          a:
            imgae: alpine
            privileged: maybe
        """) == [
        "3:5: hosts.a.imgae: unknown key 'imgae' in host 'a'; known keys: image, interfaces, privileged, routes, "
        "setup, sysctls",
        "4:17: hosts.a.privileged: privileged must be true or false (yes and no are text in YAML 1.2)"]


def test_a_missing_key_points_where_its_mapping_is(tmp_path):
    found = problems(tmp_path, """\
        hosts:
          a: {}
        steps:
          - host: a
            run: ip link
          - {title: t, host: a}
        """)
    assert found == ["4:5: steps[0]: every step needs a title",
                     "6:5: steps[1]: step 't' needs exactly one of run, ping, connect, serve, route, trace, http, "
                     "neigh"]


def test_columns_count_characters_not_bytes(tmp_path):
    found = problems(tmp_path, "hosts:\n  a: {interfaces: {éth0: 10.0.0.1}}\n")  # é is two bytes
    assert [problem.split(": ")[0] for problem in found] == ["2:20", "2:26", "2:20"]  # name, prefix, unwired


def test_a_key_with_an_empty_value_or_a_block_below_points_at_the_key(tmp_path):
    assert problems(tmp_path, "hosts:\n  a:\n    image:\n") == [
        "3:5: hosts.a.image: image a NoneType is not a valid image reference: lowercase name[:tag], like "
        "ubuntu_with_basic_net or registry.example.com/team/image:1.0 (at most 255)"]
    assert problems(tmp_path, "hosts:\n  a:\n    interfaces:\n      - eth0\n") == [
        "3:5: hosts.a.interfaces: interfaces must map interface names to addresses, like eth0: 10.0.0.1/24"]


@pytest.mark.parametrize("text, where", [
    ("hosts:\n\ta: {}\n", "2:1"),
    ("hosts:\n  a:\n  \timage: x\n", "3:3"),  # after two spaces: at the tab
    ("hosts:\n  a: {}\nsteps:\n  -\t{title: t, host: a, run: x}\n", "4:4"),
])
def test_a_tab_in_the_indentation_is_pointed_at(text, where):
    with pytest.raises(InputError) as raised:
        parse_yaml(text, "t.yaml")
    assert str(raised.value) == (f"t.yaml:{where}: YAML syntax error: a tab in the indentation: YAML indents with "
                                 f"spaces only (replace the tab by spaces)")


def test_a_containerlab_refusal_points_at_what_is_refused(tmp_path):
    found = problems(tmp_path, """\
        name: c
        topology:
          nodes:
            a:
              kind: linux
              image: alpine:3
              binds: [a.conf:/etc/a.conf]
            b: {kind: ceos, image: ceos:4}
        """, "lab.clab.yml")
    assert found == [
        "7:7: topology.nodes.a.binds: node 'a': binds: files from the engine host are not mounted into hosts; "
        "write them with exec lines",
        "8:15: topology.nodes.b.kind: node 'b' is of kind 'ceos': simlab takes kind linux (a host) and kind "
        "bridge (a segment) only"]


def test_every_column_of_the_bad_corpus_points_at_text():
    for path in sorted((DATA / "bad").glob("*.yaml")):
        lines = path.read_text().splitlines()
        with pytest.raises(InputError) as raised:
            load_scenario(path)
        for problem in str(raised.value).splitlines():
            found = WHERE.match(problem)
            if found is None:
                assert problem == f"{path}:1: the file is empty"
                continue
            line = lines[int(found["line"]) - 1]
            assert line[int(found["column"]) - 1:].strip(), (problem, line)


def test_only_a_line_or_no_place_at_all_is_said_as_it_is():
    assert Problems(Source("f.yaml", {("a",): 3})).at(("a",)) == "f.yaml:3"  # lines found another way
    by_line = Problems(Source("f.yaml", {("a",): 3}))
    by_line.add(("a", "b"), "wrong")
    built = Problems(Source("lab built in code"))
    built.add(("hosts",), "wrong")
    assert by_line.messages == ["f.yaml:3: a.b: wrong"] and built.messages == ["lab built in code: hosts: wrong"]


def test_problem_records_carry_the_column_and_github_annotations_col():
    record = problem_record("lab.yaml:7:14: links[0][1]: unknown host 'c'")
    assert record == {"file": "lab.yaml", "line": 7, "column": 14, "level": "error",
                      "message": "links[0][1]: unknown host 'c'"}
    assert github_annotation(record) == "::error file=lab.yaml,line=7,col=14::links[0][1]: unknown host 'c'"
    line_only = problem_record("lab.yaml:1: the file is empty", "warning")
    assert line_only == {"file": "lab.yaml", "line": 1, "column": 0, "level": "warning",
                         "message": "the file is empty"}
    assert github_annotation(line_only) == "::warning file=lab.yaml,line=1::the file is empty"
    assert problem_record("a:1:b.yaml:2:3: x")["file"] == "a:1:b.yaml"


def test_check_json_and_github_name_the_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  a: {}\nsteps:\n  - title: t\n    host: b\n    run: ip link\n")
    as_json = json.loads(simlab("check", str(bad), "--format", "json").stdout)
    assert as_json["problems"] == [{"file": str(bad), "line": 5, "column": 11, "level": "error",
                                    "message": "steps[0].host: step 't': unknown host 'b' (hosts: a)"}]
    github = simlab("check", str(bad), "--format", "github").stdout
    assert github == f"::error file={bad},line=5,col=11::steps[0].host: step 't': unknown host 'b' (hosts: a)\n"
