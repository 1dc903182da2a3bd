"""`simlab mutate` without an engine: which commands change a lab, how key arguments are
altered, which mutants a scenario has (with their lines), how a run is judged, and the
command line's answers to bad input."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from conftest import simlab
from simlab.model.scenario import load_scenario, resolve_scenario
from simlab.mutate.commands import Used, alterations, changes_lab
from simlab.mutate.generate import Mutant, generate, mutant_scenario, mutant_yaml, only_line, read
from simlab.mutate.report import html_page, report_lines
from simlab.mutate.run import CAUGHT, ERROR, ONCE_CAUGHT, SURVIVED, MutationReport, judge, plan
from simlab.results import ScenarioResult, StepResult

SMALL = """\
name: mu-small
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
    setup:
      - iptables -A INPUT -s 10.0.0.0/24 -j ACCEPT
  b:
    interfaces: {eth0: 10.0.0.2/24}
links:
  - [a:eth0, b:eth0]
steps:
  - title: a route on b
    host: b
    run: ip route add 10.9.0.0/16 via 10.0.0.1
  - title: look at it
    host: b
    run: ip route show
    output: 10.9.0.0/16
  - title: b reaches a
    host: b
    ping: 10.0.0.1
  - title: a refused command, as a check
    host: a
    run: ip link set nothing up
    expect: failure
"""


def used(*texts: str) -> Used:
    found = Used()
    for text in texts:
        found.add_text(text)
    return found


@pytest.mark.parametrize("command, changes", [
    ("ip netns add red", True),
    ("ip link set veth-red netns red", True),
    ("ip -n red addr add 192.168.15.1/24 dev veth-red", True),
    ("ip netns exec red ip -br addr show dev veth-red", False),
    ("ip route", False),
    ("ip -n red route get 8.8.8.8", False),
    ("ip netns exec red ping -c1 10.0.0.1", False),
    ("bridge link show dev veth-red-br", False),
    ("bridge link set dev veth-red-br learning off", True),
    ("iptables -t nat -L POSTROUTING -v -n", False),
    ("iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE", True),
    ("sysctl net.ipv4.ip_forward", False),
    ("sysctl -w net.ipv4.ip_forward=1", True),
    ("cat /var/log/simlab/tcp-8080.log", False),
    ("ip route | grep default", True),  # shell the module does not read: it may change the lab
    ("echo 1 > /proc/sys/net/ipv4/ip_forward", True),
    ("some-tool --flag", True),
])
def test_which_commands_change_the_lab(command, changes):
    assert changes_lab(command) is changes


def test_an_address_gets_a_free_neighbour_and_a_host_prefix():
    found = alterations("ip -n red addr add 192.168.15.1/24 dev veth-red", used("192.168.15.1/24 192.168.15.2"))
    assert [a.command for a in found] == ["ip -n red addr add 192.168.15.3/24 dev veth-red",
                                          "ip -n red addr add 192.168.15.1/32 dev veth-red"]
    assert found[0].describe() == "another address in the same subnet: 192.168.15.1/24 -> 192.168.15.3/24"
    host = alterations("ip addr add 10.0.0.7/32 dev lo", used())
    assert [a.new for a in host] == ["10.0.0.7/24"]  # no neighbour in a /32; a /24 instead


def test_an_address_in_ip_netns_exec_keeps_the_rest_of_the_command_as_written():
    found = alterations("ip netns exec blue   ip addr add 10.1.2.3/24 dev veth-blue", used())
    assert found[0].command == "ip netns exec blue   ip addr add 10.1.2.4/24 dev veth-blue"


def test_a_route_goes_to_a_free_network_of_the_same_size_and_default_goes_elsewhere():
    taken = used("10.0.1.0/24", "10.0.2.10/24")
    assert [a.new for a in alterations("ip route add 10.0.1.0/24 via 10.0.12.1", taken)] == ["10.0.3.0/24"]
    assert [a.new for a in alterations("ip route add 10.0.99.0/24 via 10.0.12.2", taken)] == ["10.0.100.0/24"]
    assert [a.command for a in alterations("ip netns exec red ip route add default via 192.168.15.5", used())] == [
        "ip netns exec red ip route add 198.51.100.0/24 via 192.168.15.5"]
    assert [a.new for a in alterations("ip -6 route add default via fd00::1", used())] == ["2001:db8:ffff::/64"]
    assert [a.new for a in alterations("ip route add blackhole 10.5.0.0/16", used())] == ["10.6.0.0/16"]
    assert alterations("ip route show", used()) == []


def test_an_iptables_rule_gets_another_source_or_destination():
    found = alterations("iptables -t nat -A POSTROUTING -s 172.17.0.0/16 -o eth1 -j MASQUERADE", used())
    assert [a.command for a in found] == ["iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -o eth1 -j MASQUERADE"]
    rule = alterations("iptables -A FORWARD -d 10.0.2.10 -p icmp -j REJECT", used("10.0.2.10/24 10.0.2.11"))
    assert [a.new for a in rule] == ["10.0.2.12"]  # one address: the next one nobody holds
    assert alterations("iptables -D FORWARD -s 10.0.0.0/8 -j DROP", used()) == []  # only a rule that is added
    assert alterations("iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE", used()) == []


def write_small(tmp_path, text=SMALL):
    path = tmp_path / "mu-small.yaml"
    path.write_text(text)
    return path


def test_mutants_of_setup_commands_and_changing_steps_with_their_lines(tmp_path):
    scenario, data, source = read(write_small(tmp_path))
    mutants = generate(scenario, source, data)
    assert [(m.line, m.title, m.change) for m in mutants] == [
        (6, "setup of a", "left out `iptables -A INPUT -s 10.0.0.0/24 -j ACCEPT`"),
        (6, "setup of a", ("`iptables -A INPUT -s 10.0.0.0/24 -j ACCEPT`: the rule's source (-s) is another "
                           "network: 10.0.0.0/24 -> 10.0.1.0/24")),
        (12, "a route on b", "left out the run step"),
        (14, "a route on b", ("`ip route add 10.9.0.0/16 via 10.0.0.1`: a route to another destination: "
                              "10.9.0.0/16 -> 10.10.0.0/16")),
    ]  # the look, the ping and the expected failure are checks: nothing to mutate there
    assert [m.number for m in mutants] == [1, 2, 3, 4]


def test_a_mutant_scenario_changes_one_thing_and_keeps_every_other_line(tmp_path):
    scenario, data, source = read(write_small(tmp_path))
    setup_out, setup_changed, step_out, command_changed = generate(scenario, source, data)
    assert mutant_scenario(scenario, setup_out).topology.hosts["a"].setup == []
    assert mutant_scenario(scenario, setup_changed).topology.hosts["a"].setup == [
        "iptables -A INPUT -s 10.0.1.0/24 -j ACCEPT"]
    without = mutant_scenario(scenario, step_out)
    assert [s.line for s in without.steps] == [s.line for s in scenario.steps[1:]]
    assert mutant_scenario(scenario, command_changed).steps[0].commands == ["ip route add 10.10.0.0/16 via 10.0.0.1"]
    assert scenario.steps[0].commands == ["ip route add 10.9.0.0/16 via 10.0.0.1"]  # the original is untouched


def test_a_written_mutant_is_a_scenario_file_with_the_change(tmp_path):
    scenario, data, source = read(write_small(tmp_path))
    for mutant in generate(scenario, source, data):
        text = mutant_yaml(data, mutant, scenario.file)
        assert f"line {mutant.line}" in text.splitlines()[1]
        path = tmp_path / f"m{mutant.number}.yaml"
        path.write_text(text)
        written = load_scenario(path)
        assert written.topology.hosts["a"].setup == mutant_scenario(scenario, mutant).topology.hosts["a"].setup
        assert [s.title for s in written.steps] == [s.title for s in mutant_scenario(scenario, mutant).steps]


def test_only_picks_the_mutants_of_one_line(tmp_path):
    scenario, data, source = read(write_small(tmp_path))
    mutants = generate(scenario, source, data)
    assert [m.number for m in only_line(mutants, scenario, 12)] == [3, 4]  # the step and its command
    assert [m.number for m in only_line(mutants, scenario, 14)] == [4]
    with pytest.raises(Exception, match=r"mu-small.yaml:17: --only 17: nothing to mutate on this line "
                                         r"\(lines with mutants: 6, 12, 14\)"):
        only_line(mutants, scenario, 17)


def test_gateway_nat_has_a_mutant_for_each_setup_command_and_changing_step():
    _, mutants, _ = plan(resolve_scenario("gateway-nat"))
    removed = [m for m in mutants if m.replacement is None]
    changing_steps = 8  # namespaces, bridge, veths, addresses, bridge address, route, masquerade, default route
    assert len(removed) == 1 + changing_steps
    assert len(mutants) == 19
    setup_line = next(n for n, text in enumerate(resolve_scenario("gateway-nat").read_text().splitlines(), 1)
                      if "POSTROUTING -s 172.17.0.0/16" in text)  # its one setup command
    assert {m.line for m in mutants if m.title == "setup of docker-host"} == {setup_line}


def result_of(*steps: tuple[str, bool], skipped_after: int | None = None, lines=(12, 15, 19, 22),
              **fields) -> ScenarioResult:
    result = ScenarioResult("mu-small", "mu-small.yaml", **fields)
    for i, (title, passed) in enumerate(steps):
        result.steps.append(StepResult(index=i + 1, title=title, kind="run", where="b", commands=[],
                                       expected="reply", got="reply" if passed else "no-reply", passed=passed,
                                       line=lines[i], skipped=skipped_after is not None and i >= skipped_after))
    return result


def test_judging_caught_survived_and_error(tmp_path):
    scenario, data, source = read(write_small(tmp_path))
    setup_out, _, step_out, command_changed = generate(scenario, source, data)
    survived = judge(scenario, step_out, result_of(("look at it", True), ("b reaches a", True),
                                                   ("a refused command, as a check", True), lines=(15, 19, 22)))
    assert survived.verdict == SURVIVED
    assert [c.describe() for c in survived.still_passed] == ["step 2 (line 15) look at it",
                                                             "step 3 (line 19) b reaches a",
                                                             "step 4 (line 22) a refused command, as a check"]
    caught = judge(scenario, command_changed, result_of(("route", True), ("look at it", False), ("ping", True),
                                                        ("refused", True), stopped=ONCE_CAUGHT))
    assert caught.verdict == CAUGHT and caught.how.startswith("step 2 (line 15) look at it: expected")
    stopped = judge(scenario, setup_out, result_of(error="setup of host a failed: `x` exited 1"))
    assert (stopped.verdict, stopped.stopped) == (CAUGHT, True)
    assert stopped.how == "the run stopped: setup of host a failed: `x` exited 1"
    lost = judge(scenario, setup_out, result_of(error="engine gone", engine_failed=True))
    assert (lost.verdict, lost.how) == (ERROR, "engine gone")
    report = MutationReport("mu-small", "mu-small.yaml", [caught, survived, stopped])
    assert (report.score, report.exit_code) == ("2/3 caught", 1)
    text = "\n".join(report_lines(report))
    assert "SURVIVED mu-small.yaml:12  a route on b" in text
    assert "survived: mu-small.yaml:12 a route on b: left out the run step" in text
    assert json.loads(json.dumps(report.to_dict()))["survived"] == 1
    caught.mutant = Mutant(9, 40, "clears \x1b[2J the screen", "left out the run step", ("steps", 0))
    assert "clears \\x1b[2J the screen" in "\n".join(report_lines(report))  # shown, not obeyed
    page = html_page(report)
    assert page.startswith("<!DOCTYPE html>") and "2/3 caught" in page and "step 3 (line 19) b reaches a" in page


def test_mutate_answers_bad_input_in_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: {a: {bogus: 1}}\nsteps: []\n")
    for args, message in [
            (["mutate", str(bad)], "unknown key 'bogus' in host 'a'"),
            (["mutate", "no-such-scenario"], "no such file, and no shipped scenario of that name"),
            (["mutate", str(write_small(tmp_path)), "--only", "3"], "--only 3: nothing to mutate on this line"),
            (["mutate", str(write_small(tmp_path)), "--engine", "unix:///nonexistent/docker.sock"], "")]:
        done = simlab(*args, timeout=60)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_a_scenario_with_nothing_to_mutate_says_so_without_an_engine(tmp_path):
    only_checks = tmp_path / "mu-checks.yaml"
    only_checks.write_text("hosts:\n  a: {}\nsteps:\n  - {title: look, host: a, run: ip -br addr}\n")
    done = simlab("mutate", str(only_checks), "--json", str(tmp_path / "out.json"),
                  env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "nothing to mutate" in done.stdout
    assert json.loads((tmp_path / "out.json").read_text())["score"] == "nothing to mutate"
    assert yaml.safe_load(only_checks.read_text())["steps"]  # untouched
