"""Packet evidence (seen/unseen): tcpdump captures around a probe, on host interfaces and
in namespaces, judged on what they saw; and a missing NAT that `seen` must catch."""

from __future__ import annotations

import json

from conftest import DATA, simlab
from simlab.checks.capture import Capture, Evidence, Spot, packet_path, parse_packets

EVIDENCE = DATA / "evidence"
TCPDUMP = """\
1764600000.000001 ARP, Request who-has 10.2.0.2 tell 10.2.0.1, length 28
1764600000.100000 IP 10.1.0.2 > 10.2.0.2: ICMP echo request, id 2869, seq 1, length 64
1764600000.200000 IP 10.1.0.2.40950 > 10.2.0.2.5353: UDP, length 1
1764600000.300000 IP 10.2.0.2 > 10.1.0.2: ICMP 10.2.0.2 udp port 5353 unreachable, length 37
1764600000.400000 IP 10.1.0.2.58540 > 10.2.0.2.80: tcp 0
"""


def test_tcpdump_lines_become_packets():
    spot = Spot("b", "eth0")
    packets = parse_packets(spot, TCPDUMP)
    assert [(p.src, p.dst, p.proto) for p in packets] == [
        ("10.1.0.2", "10.2.0.2", "icmp"), ("10.1.0.2", "10.2.0.2", "udp"), ("10.2.0.2", "10.1.0.2", "icmp"),
        ("10.1.0.2", "10.2.0.2", "tcp")]
    assert Evidence(spot, proto="icmp", count=2).holds(packets)
    assert not Evidence(spot, proto="icmp", count=1).holds(packets)
    assert Evidence(spot, seen=False, src="10.9.9.9").holds(packets)
    assert not Evidence(spot, seen=False, proto="tcp").holds(packets)
    assert not Evidence(Spot("b", "eth1"), proto="tcp").holds(packets)  # another interface saw nothing
    assert str(Spot("gw", "veth-red", "red")) == "gw/red:veth-red"
    assert packets[0].line == "IP 10.1.0.2 > 10.2.0.2: ICMP echo request, id 2869, seq 1, length 64"


def test_only_packets_from_the_probe_on_count():
    """A capture may start while the step before runs: its packets before the probe's start
    are left out."""
    capture = Capture(Spot("b", "eth0"), "/tmp/x", packets=parse_packets(Spot("b", "eth0"), TCPDUMP))
    assert [p.proto for p in capture.since(1764600000.25)] == ["icmp", "tcp"]
    assert len(capture.since(None)) == 4


def test_the_path_of_each_flow_follows_the_kernel_timestamps():
    """Spots in the order each flow first crossed them, whatever order the captures came in."""
    outside = parse_packets(Spot("outside", "eth0"), """\
1764600000.300000 IP 192.168.15.1 > 172.17.0.3: ICMP echo request, id 1, seq 1, length 64
1764600000.300100 IP 172.17.0.3 > 192.168.15.1: ICMP echo reply, id 1, seq 1, length 64
1764600001.300000 IP 192.168.15.1 > 172.17.0.3: ICMP echo request, id 1, seq 2, length 64
""")
    red = parse_packets(Spot("a", "veth-red", "red"), "1764600000.100000 IP 192.168.15.1 > 172.17.0.3: ICMP echo request\n")
    uplink = parse_packets(Spot("gw", "eth1"), "1764600000.400000 IP 172.17.0.3 > 192.168.15.1: ICMP echo reply\n"
                                               "1764600000.200000 IP 192.168.15.1 > 172.17.0.3: ICMP echo request\n")
    assert packet_path(outside + uplink + red) == [
        "192.168.15.1 > 172.17.0.3 icmp: a/red:veth-red → gw:eth1 → outside:eth0",
        "172.17.0.3 > 192.168.15.1 icmp: outside:eth0 → gw:eth1"]
    assert packet_path([]) == []


def test_nat_shows_in_the_packets(engine, lab_name, no_leftovers, tmp_path):
    report = tmp_path / "r.json"
    done = simlab("run", str(EVIDENCE / "nat.yaml"), "--name", lab_name, "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    steps = json.loads(report.read_text())["steps"]
    assert "✔ seen at outside:eth0: proto icmp, src 172.17.0.2, dst 172.17.0.3, exactly 1 (1 packet)" in done.stdout
    assert "> outside:eth0  IP 192.168.15.1 > 172.17.0.3: ICMP echo request" in done.stdout
    assert any(flow.startswith("192.168.15.1 > 172.17.0.3 icmp: ") and flow.endswith("outside:eth0")
               for step in steps for flow in step["path"]), [step["path"] for step in steps]
    assert any(p.startswith("gw/red:veth-red  IP 172.17.0.3 > 192.168.15.1: ICMP echo reply") for p in steps[2]["packets"])
    assert steps[4]["seen_as"] == "172.17.0.2" and steps[4]["evidence"][0].startswith("✔ seen at outside:eth0: proto tcp")


def test_seen_fails_where_the_nat_is_missing(engine, lab_name, no_leftovers):
    done = simlab("run", str(EVIDENCE / "wrong-nat.yaml"), "--name", lab_name)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("the NAT is missing, so this is not seen: expected no-reply; seen at outside:eth0: proto icmp, "
            "src 172.17.0.2; unseen at outside:eth0: src 192.168.15.1, got no-reply; 0 packets at outside:eth0, ") in done.stdout
    assert "✘ seen at outside:eth0: proto icmp, src 172.17.0.2 (0 packets)" in done.stdout
    assert "hint: Did you add the MASQUERADE rule on gw?" in done.stdout
    assert "nor one packet only: expected no-reply; seen at outside:eth0: proto icmp, src 192.168.15.1, exactly 1" in done.stdout
    assert "wrong-nat: FAILED: 0 passed, 2 failed" in done.stdout
