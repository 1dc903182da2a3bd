"""`simlab check` finds a file's mistakes in one pass, and says what was likely meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlab.errors import InputError
from simlab.model.scenario import load_scenario
from simlab.model.yamlsource import parse_yaml


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        load_scenario(path)
    return [line.removeprefix(f"{path}:") for line in str(raised.value).splitlines()]


PAIR = """\
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24}}
  b: {interfaces: {eth0: 10.0.0.2/24}}
links: [[a:eth0, b:eth0]]
"""


def test_every_problem_at_once(tmp_path):
    found = problems(tmp_path, PAIR + """\
steps:
  - {title: a typo, host: a, ping: 10.0.0.2, expcet: reply}
  - {title: red before it exists, host: a, netns: red, run: ip link}
  - {title: a spot nobody made, host: a, ping: 10.0.0.2, seen: [{at: "a:veth-red"}]}
""")
    assert found == [
        "6:46: steps[0].expcet: unknown key 'expcet' in step; did you mean 'expect'?",
        "7:51: steps[1].netns: step 'red before it exists' uses namespace 'red' on a before any step creates it "
        "(ip netns add red)",
        "8:70: steps[2].seen[0].at: no interface 'veth-red' on a: not in the file and no step before this one creates it",
    ]


def test_a_mistyped_name_gets_the_likely_one(tmp_path):
    found = problems(tmp_path, PAIR + """\
stpes: []
steps:
  - {title: to bb, host: bb, ping: 10.0.0.2}
  - {title: ping bb, host: a, ping: bb}
""")
    assert found == ["5:1: stpes: unknown key 'stpes'; did you mean 'steps'?",
                     "7:26: steps[0].host: step 'to bb': unknown host 'bb'; did you mean 'b'?",
                     "8:37: steps[1].ping: 'bb' is neither an address nor a host of this lab; did you mean 'b'?"]


def test_a_name_the_file_itself_adds_is_a_target(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(PAIR + """\
steps:
  - {title: name web, host: a, run: echo "10.0.0.2 web" >> /etc/hosts}
  - {title: ping web, host: a, ping: web}
""")
    assert load_scenario(path).steps[1].target == "web"


def test_addresses_in_route_and_trace_steps_are_addresses(tmp_path):
    found = problems(tmp_path, PAIR + """\
steps:
  - {title: r, host: a, route: 10.0.0.2, via: 10.0.0.999}
  - {title: t, host: a, trace: 10.0.0.2, path: [r1, "*"]}
""")
    assert found == ["6:47: steps[0].via: via is an IPv4 or IPv6 address, not '10.0.0.999'",
                     "7:48: steps[1].path: each hop is an address or '*' (a silent hop), not 'r1'"]


def test_yaml_is_read_as_yaml_1_2():
    data, _ = parse_yaml("a: yes\nb: off\nc: 1:30\nd: 010\ne: 0x10\nf: true\ng: ~\n", "t.yaml")
    assert data == {"a": "yes", "b": "off", "c": "1:30", "d": 10, "e": 16, "f": True, "g": None}


def test_a_boolean_written_the_yaml_1_1_way_says_so(tmp_path):
    found = problems(tmp_path, PAIR + "steps:\n  - {title: t, host: a, trace: 10.0.0.2, path: ['*'], whole: yes}\n")
    assert found == ["6:62: steps[0].whole: whole is true (the path is exactly this) or false (it starts so); "
                     "yes and no are text in YAML 1.2"]


def test_a_tab_in_the_indentation_says_so():
    with pytest.raises(InputError) as raised:
        parse_yaml("hosts:\n\ta: {}\n", "t.yaml")
    assert str(raised.value) == ("t.yaml:2:1: YAML syntax error: a tab in the indentation: YAML indents with spaces "
                                 "only (replace the tab by spaces)")
