"""The explanation rules of `simlab verify`, on a recorded state (no engine).

tests/data/verify/gateway-nat-16.json is the reference of gateway-nat after its step
16, as a shadow lab recorded it (state and the step that makes each fact). Each test
breaks a copy the way a learner would and reads what verify would say.
"""

from __future__ import annotations

import copy
import json

import pytest

from conftest import DATA
from simlab.errors import InputError
from simlab.model.scenario import load_scenario, resolve_scenario
from simlab.runs.probes import probes_until
from simlab.runs.verify import step_count
from simlab.state.explain import Origin, Probe, compare, explain_probe
from simlab.state.model import LabState
from simlab.state.paths import walk

RECORDED = json.loads((DATA / "verify" / "gateway-nat-16.json").read_text())
ORIGINS = {tuple(key): Origin(index, title, section) for key, index, title, section in RECORDED["origins"]}
TO_OUTSIDE = Probe("container-a", "red", "172.17.0.3", "Network Gateways and NAT", "Is red masqueraded?")


def reference() -> LabState:
    return LabState.from_dict(RECORDED["state"])


def learner(change=None) -> LabState:
    """A copy of the reference, changed by ``change(dict)`` as a learner's mistake."""
    data = copy.deepcopy(RECORDED["state"])
    if change:
        change(data)
    return LabState.from_dict(data)


def ns(data: dict, host: str, netns: str = "") -> dict:
    return data["hosts"][host]["netns"][netns] if netns else data["hosts"][host]["root"]


def wrong(state: LabState) -> list[str]:
    return [d.text for d in compare(reference(), state, ORIGINS) if not d.harmless]


def test_the_same_lab_with_other_macs_and_rule_order_matches():
    def other_macs(data):
        for host in data["hosts"].values():
            for space in [host["root"], *host["netns"].values()]:
                for interface in space["interfaces"].values():
                    interface["mac"] = "02:00:00:00:00:99"
    assert wrong(learner()) == []
    assert wrong(learner(other_macs)) == []


def test_rule_order_does_not_matter_but_a_missing_rule_does():
    rules = ["-A INPUT -j ACCEPT", "-A INPUT -j LOG"]
    base = learner(lambda d: ns(d, "container-a")["rules"]["filter"].extend(rules))
    swapped = learner(lambda d: ns(d, "container-a")["rules"]["filter"].extend(rules[::-1]))
    fewer = learner(lambda d: ns(d, "container-a")["rules"]["filter"].extend(rules[:1]))
    assert compare(base, swapped) == []
    assert [d.text for d in compare(base, fewer)] == ["container-a lacks the filter rule: iptables -t filter -A INPUT -j LOG"]


def test_forwarding_off_on_the_gateway():
    state = learner(lambda d: ns(d, "container-a").update(forwarding=False))
    assert wrong(state) == ["container-a does not forward (net.ipv4.ip_forward = 0)"]
    why = explain_probe(TO_OUTSIDE, reference(), state, compare(reference(), state, ORIGINS))
    assert why[0] == ("in your lab the packet goes red on container-a -> container-a and stops: "
                      "container-a does not forward (net.ipv4.ip_forward = 0)")
    assert "set up by the scenario's topology" in why[1]  # the lab starts with it on: the learner turned it off
    assert why[-2:] == ["reread the section 'Network Gateways and NAT'", "hint: Is red masqueraded?"]


def test_masquerade_missing_says_where_the_reply_goes():
    state = learner(lambda d: ns(d, "container-a")["rules"].update(nat=[]))
    differences = compare(reference(), state, ORIGINS)
    assert [d.text for d in differences] == [
        "no MASQUERADE for 192.168.15.0/24 on container-a "
        "(iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE)"]
    assert differences[0].origin.index == 12 and differences[0].origin.section == "Network Gateways and NAT"
    why = explain_probe(TO_OUTSIDE, reference(), state, differences)
    assert "the reply leaves outside:eth0 for 172.17.0.1, its default gateway, and is lost" in why[0]
    assert "internet has no route to 192.168.15.1" in why[0]
    assert "step 12 'Masquerade red and blue behind container-a'" in why[1]
    assert "outside sees 192.168.15.1" in why[2] and "it sees 172.17.0.2" in why[2]


def test_masquerade_on_the_wrong_source():
    state = learner(lambda d: ns(d, "container-a")["rules"].update(
        nat=["-A POSTROUTING -s 192.168.16.0/24 -j MASQUERADE"]))
    texts = wrong(state)
    assert texts[0].startswith("no MASQUERADE for 192.168.15.0/24 on container-a")
    assert texts[0].endswith("it has -t nat -A POSTROUTING -s 192.168.16.0/24 -j MASQUERADE instead")


def test_an_interface_left_down():
    def down(data):
        ns(data, "container-a", "red")["interfaces"]["veth-red"]["up"] = False
    state = learner(down)
    assert wrong(state) == ["veth-red is down (red on container-a): ip link set veth-red up"]
    assert walk(state, ("container-a", "red"), "172.17.0.3").stop == "veth-red is down (red on container-a)"


def test_a_missing_route_and_an_extra_harmless_one():
    def routes(data):
        red = ns(data, "container-a", "red")
        red["routes"] = [r for r in red["routes"] if not r.startswith("172.17")] + ["10.9.0.0/16 via 192.168.15.5"]
    state = learner(routes)
    differences = compare(reference(), state, ORIGINS)
    assert [d.text for d in differences if not d.harmless] == [
        "red on container-a has no route to 172.17.0.0/16 (the reference: 172.17.0.0/16 via 192.168.15.5 dev veth-red)"]
    assert [d.text for d in differences if d.harmless] == [
        "red on container-a has a route to 10.9.0.0/16 the reference lacks: 10.9.0.0/16 via 192.168.15.5"]
    # red still reaches 172.17.0.3 by its default route: no packet goes astray, the difference is named
    why = explain_probe(TO_OUTSIDE, reference(), state, differences)
    assert why[0].startswith("red on container-a has no route to 172.17.0.0/16")


def test_the_default_route_is_not_blamed_for_a_packet_that_does_not_take_it():
    def routes(data):
        red = ns(data, "container-a", "red")
        red["routes"] = [r for r in red["routes"] if not r.startswith(("172.17", "default"))]
    state = learner(routes)
    why = explain_probe(TO_OUTSIDE, reference(), state, compare(reference(), state, ORIGINS))
    assert why[0].endswith("red on container-a has no route to 172.17.0.3")
    assert not any("default route" in line for line in why)


def test_the_bridge_address_with_the_wrong_prefix():
    def prefix(data):
        bridge = ns(data, "container-a")["interfaces"]["v-net-0"]
        bridge["addresses"] = ["192.168.15.5/16"]
    texts = wrong(learner(prefix))
    assert texts == ["v-net-0 in container-a lacks the address 192.168.15.5/24; it has 192.168.15.5/16 instead"]


def test_probes_are_the_last_of_each_target_up_to_the_point():
    scenario = load_scenario(resolve_scenario("gateway-nat"))
    assert [i for i, _ in probes_until(scenario, 16)[0]] == [5, 8, 13, 16]
    assert [i for i, _ in probes_until(scenario, 9)[0]] == [5, 8, 9]
    assert probes_until(scenario, 4)[0] == []


def test_the_point_by_number_or_section_and_bad_ones():
    scenario = load_scenario(resolve_scenario("gateway-nat"))
    assert step_count(scenario, None) == 16
    assert step_count(scenario, "7") == 7
    assert step_count(scenario, "network gateways and nat") == 13
    with pytest.raises(InputError, match="no section 'Routing' in gateway-nat"):
        step_count(scenario, "Routing")
    with pytest.raises(InputError, match="step 17 does not exist"):
        step_count(scenario, "17")


def test_a_lab_ahead_of_the_point_is_told_so():
    """At step 9 red must not reach 172.17.0.3 yet; a learner who already added the route is ahead."""
    def behind(data):
        red = ns(data, "container-a", "red")
        red["routes"] = [r for r in red["routes"] if not r.startswith(("172.17", "default"))]
    at_step_9 = learner(behind)
    differences = compare(at_step_9, learner(), ORIGINS)  # the learner has everything of step 16
    probe = Probe("container-a", "red", "172.17.0.3", "Network Gateways and NAT", expects_failure=True)
    why = explain_probe(probe, at_step_9, learner(), differences)
    assert why[0].endswith("it is ahead")
    assert any("has a route to 172.17.0.0/16 the reference lacks" in line for line in why)


def test_an_interface_not_moved_into_its_namespace():
    def not_moved(data):
        red = ns(data, "container-a", "red")
        veth = red["interfaces"].pop("veth-red")
        veth["addresses"] = []
        ns(data, "container-a")["interfaces"]["veth-red"] = veth
    texts = wrong(learner(not_moved))
    assert texts[0] == "veth-red is in container-a, not in red on container-a (ip link set veth-red netns red)"
    assert not any("extra interface" in text for text in texts)


def test_the_bridge_without_an_address():
    def no_address(data):
        container_a = ns(data, "container-a")
        container_a["interfaces"]["v-net-0"]["addresses"] = []
        container_a["routes"] = [r for r in container_a["routes"] if "v-net-0" not in r]
    state = learner(no_address)
    differences = compare(reference(), state, ORIGINS)
    assert [d.text for d in differences][0] == "v-net-0 in container-a lacks the address 192.168.15.5/24"
    assert differences[0].origin.index == 7
    why = explain_probe(TO_OUTSIDE, reference(), state, differences)
    assert why[0] == ("in your lab the packet goes red on container-a and stops: nothing answers for 192.168.15.5 "
                      "on the wire of veth-red (red on container-a): a link, bridge port or address is missing or down")
    assert "v-net-0 in container-a lacks the address 192.168.15.5/24" in why[1]


def test_the_sysctls_a_scenario_sets_and_how_a_wrong_one_reads():
    from simlab.api import Builder
    from simlab.state.explain import sysctl_difference
    from simlab.state.sysctls import scenario_sysctls, sysctl_differences

    scenario = (Builder("s").host("a", sysctls={"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 2})
                .host("b").run("strict", "a", "sysctl -w net.ipv4.conf.all.accept_redirects=0")
                .run("a namespace", "b", "ip netns add x")
                .run("in a namespace", "b", "sysctl -w net.ipv4.tcp_syncookies=0", netns="x").scenario())
    assert scenario_sysctls(scenario, 0) == {"a": ["net.ipv4.conf.all.rp_filter"]}  # ip_forward: the state has it
    assert scenario_sysctls(scenario, 3) == {"a": ["net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.all.rp_filter"]}
    reference = {"a": {"net.ipv4.conf.all.rp_filter": "2", "net.ipv4.tcp_rmem": "4096\t131072\t6291456"}}
    learner = {"a": {"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.tcp_rmem": "4096 131072 6291456"}}
    assert sysctl_differences(reference, learner) == [("a", "net.ipv4.conf.all.rp_filter", "0", "2")]
    difference = sysctl_difference("a", "net.ipv4.conf.all.rp_filter", "0", "2", Origin())
    assert difference.text == ("a: net.ipv4.conf.all.rp_filter = 0, the scenario sets 2 "
                               "(sysctl -w net.ipv4.conf.all.rp_filter=2)")
    assert difference.to_dict()["what"] == "sysctl"


def test_the_terminal_report_escapes_what_comes_from_a_file():
    from simlab.reports.verify import verify_lines
    from simlab.results import StepResult
    from simlab.state.explain import ProbeCheck, VerifyReport

    result = StepResult(5, "red \x1b[2Kreaches blue", "ping", "container-a/red", [], "reply", "no-reply", False,
                        hint="look\u202e")
    report = VerifyReport("lab1", "gateway-nat", "f.yaml", 5, "Test\rCommunication",
                          probes=[ProbeCheck(result, ["why \x1b[1A"])])
    text = "\n".join(verify_lines(report))
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "red \\x1b[2Kreaches blue" in text and "your lab differs" in text


def test_a_failed_reachability_step_of_a_run_is_told_where_its_packet_went_astray():
    """`run` and `validate` have no reference: the walk over the lab as it is says where the
    packet, or its reply, stops."""
    from simlab.state.explain import diagnose

    assert diagnose(reference(), "container-a", "red", "172.17.0.3") == []  # the way is clear
    no_forwarding = learner(lambda d: ns(d, "container-a").update(forwarding=False))
    why = diagnose(no_forwarding, "container-a", "red", "outside (172.17.0.3)")
    assert why == ["the packet goes red on container-a -> container-a and stops: "
                   "container-a does not forward (net.ipv4.ip_forward = 0)"]
    assert diagnose(reference(), "container-a", "red", "a-name-only") == []
