"""`simlab up --until` and `simlab verify` on the real engine, as a learner uses them.

One gateway-nat lab brought up through the section 'Network Gateways and NAT' (step 13);
each test breaks one piece by hand, verifies, and puts it back. The reference is built
once in a shadow lab and then cached (SIMLAB_CACHE in a temporary folder).
"""

from __future__ import annotations

import html
import json
import os
import uuid

import pytest

from conftest import simlab
from simlab.labs.lab import destroy_lab, open_lab

SECTION = "Network Gateways and NAT"


@pytest.fixture(scope="module")
def learner_lab(engine, tmp_path_factory):
    """A gateway-nat lab up through SECTION, and the environment verify runs in."""
    name = f"vf-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "SIMLAB_CACHE": str(tmp_path_factory.mktemp("cache"))}
    try:
        done = simlab("up", "gateway-nat", "--until", SECTION, "--name", name, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        yield name, env
    finally:
        destroy_lab(engine, name)
        left = [c.name for c in engine.containers({"simlab.lab": None}) if c.labels["simlab.lab"].startswith(name)]
        assert left == [], f"left behind: {left}"  # the shadow labs (NAME-ref...) too


def verify(name: str, env: dict, tmp_path, *args: str) -> tuple[int, str, dict]:
    report = tmp_path / "verify.json"
    done = simlab("verify", name, "--upto", SECTION, "--json", str(report), *args, env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, done.stdout, json.loads(report.read_text())


def on_gateway(engine, name: str, command: str) -> None:
    result = open_lab(engine, name).exec("container-a", command)
    assert result.exit_code == 0, result.output


def test_the_lab_as_the_scenario_builds_it_verifies(learner_lab, tmp_path):
    name, env = learner_lab
    code, out, report = verify(name, env, tmp_path, "--fresh")  # builds the reference in a shadow lab
    assert code == 0, out
    assert report["passed"] and report["upto"] == 13 and report["differences"] == []
    assert [p["step"] for p in report["probes"]] == [5, 8, 13] and all(p["passed"] for p in report["probes"])
    assert "your lab matches" in out


def test_a_missing_masquerade_is_named_with_where_the_reply_goes(engine, learner_lab, tmp_path):
    name, env = learner_lab
    rule = "-s 192.168.15.0/24 -j MASQUERADE"
    on_gateway(engine, name, f"iptables -t nat -D POSTROUTING {rule}")
    try:
        code, out, report = verify(name, env, tmp_path, "--html", str(tmp_path / "verify.html"))
    finally:
        on_gateway(engine, name, f"iptables -t nat -A POSTROUTING {rule}")
    assert code == 1, out
    assert [d["text"] for d in report["differences"]] == [
        "no MASQUERADE for 192.168.15.0/24 on container-a "
        "(iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE)"]
    failed = [p for p in report["probes"] if not p["passed"]]
    assert [p["step"] for p in failed] == [13] and failed[0]["got"] == "no-reply"
    assert "the reply leaves outside:eth0 for 172.17.0.1, its default gateway" in failed[0]["why"][0]
    assert "reread the section 'Network Gateways and NAT'" in failed[0]["why"]
    # what the captures on every interface saw: the request all the way, the reply going the wrong way
    request, reply = failed[0]["captured"]
    assert request.startswith("192.168.15.1 > 172.17.0.3 icmp: container-a/red:veth-red → ") and \
        request.endswith("container-a:eth0 → outside:eth0"), request
    assert reply == "172.17.0.3 > 192.168.15.1 icmp: outside:eth0 → docker-host:eth0 → docker-host:eth1 → " \
                    "internet:eth0", reply
    assert f"seen: {request}" in out
    page = (tmp_path / "verify.html").read_text()
    assert '<span class="badge FAILED">DIFFERS</span>' in page and "no MASQUERADE for 192.168.15.0/24" in page
    assert '<details class="step fail" id="probe-13" open>' in page and html.escape(reply) in page
    assert page.count("<svg") == 1 and ">veth-red<" in page  # the learner's lab, namespaces included


def test_forwarding_turned_off_on_the_gateway_is_named(engine, learner_lab, tmp_path):
    name, env = learner_lab
    on_gateway(engine, name, "sysctl -w net.ipv4.ip_forward=0")
    try:
        code, out, report = verify(name, env, tmp_path)
    finally:
        on_gateway(engine, name, "sysctl -w net.ipv4.ip_forward=1")
    assert code == 1, out
    assert "container-a does not forward (net.ipv4.ip_forward = 0)" in [d["text"] for d in report["differences"]]
    assert "✘ 13. The outside host replies" in out
    assert "why: in your lab the packet goes red on container-a -> container-a and stops: container-a does " \
           "not forward (net.ipv4.ip_forward = 0)" in out


def test_a_link_left_down_is_named_with_the_routes_it_took_along(engine, learner_lab, tmp_path):
    """The tutorial's readers forget `ip link set ... up`; taking it down again drops red's routes."""
    name, env = learner_lab
    on_gateway(engine, name, "ip -n red link set veth-red down")
    try:
        code, out, report = verify(name, env, tmp_path)
    finally:
        on_gateway(engine, name, "ip -n red link set veth-red up && ip netns exec red ip route add 172.17.0.0/16 "
                                 "via 192.168.15.5")
    assert code == 1, out
    texts = [d["text"] for d in report["differences"]]
    assert "veth-red is down (red on container-a): ip link set veth-red up" in texts
    assert "red on container-a has no route to 172.17.0.0/16 (the reference: 172.17.0.0/16 via 192.168.15.5 dev " \
           "veth-red): veth-red is down, and the kernel drops the routes of a link that goes down (and refuses a " \
           "gateway on one that is not up); add it again once veth-red is up" in texts
    failed = {p["step"]: p for p in report["probes"] if not p["passed"]}
    assert sorted(failed) == [5, 13] and failed[5]["got"].startswith("unreachable")
    assert "veth-red is down (red on container-a): ip link set veth-red up" in " ".join(failed[5]["why"])


def test_the_bridge_without_an_address_is_named(engine, learner_lab, tmp_path):
    name, env = learner_lab
    on_gateway(engine, name, "ip addr del 192.168.15.5/24 dev v-net-0")
    try:
        code, out, report = verify(name, env, tmp_path)
    finally:
        on_gateway(engine, name, "ip addr add 192.168.15.5/24 dev v-net-0")
    assert code == 1, out
    texts = [d["text"] for d in report["differences"]]
    assert texts[0] == "v-net-0 in container-a lacks the address 192.168.15.5/24"
    failed = {p["step"]: p for p in report["probes"] if not p["passed"]}
    assert 8 in failed and 13 in failed
    assert "in your lab the packet goes container-a -> docker-host -> internet and stops: internet has no route " \
           "to 192.168.15.2" in failed[8]["why"][0]
    assert "v-net-0 in container-a lacks the address 192.168.15.5/24" in " ".join(failed[13]["why"])


def test_bad_input_is_one_line_and_exit_2(learner_lab):
    name, env = learner_lab
    for args, says in [(("verify", "vf-no-such-lab"), "no lab named 'vf-no-such-lab' is up"),
                       (("verify", name, "--upto", "Routing"), "no section 'Routing' in gateway-nat"),
                       (("verify", name, "--scenario", "bridge"), f"lab {name!r} was made from gateway-nat")]:
        done = simlab(*args, env=env)
        assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, \
            done.stderr


def test_ctrl_c_during_the_reference_build_leaves_no_shadow_lab(engine, learner_lab, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    name, env = learner_lab
    argv = [sys.executable, "-m", "simlab", "verify", name, "--fresh"]
    proc = subprocess.Popen(argv, env={**env, "SIMLAB_CACHE": str(tmp_path)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not engine.containers({"simlab.lab": f"{name}-ref"}) and time.monotonic() < deadline:
        time.sleep(0.1)  # the shadow lab is being built
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert [c.name for c in engine.containers({"simlab.lab": None}) if c.labels["simlab.lab"].startswith(f"{name}-ref")] == []


def test_a_sysctl_a_step_sets_is_compared(engine, tmp_path):
    """A one-host scenario whose step sets rp_filter: the bare lab differs, naming the step;
    once the learner sets it, the lab matches."""
    name = f"vf-{uuid.uuid4().hex[:6]}"
    file = tmp_path / "strict.yaml"
    file.write_text("name: strict\nhosts:\n  a: {}\nsteps:\n"
                    "  - {title: Strict reverse path filter, section: Filters, host: a,"
                    " run: sysctl -w net.ipv4.conf.all.rp_filter=1}\n")
    env = {**os.environ, "SIMLAB_CACHE": str(tmp_path / "cache")}
    try:
        assert simlab("up", str(file), "--name", name, env=env).returncode == 0
        done = simlab("verify", name, env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert ("a: net.ipv4.conf.all.rp_filter = 0, the scenario sets 1 (sysctl -w net.ipv4.conf.all.rp_filter=1)"
                "  [step 1 'Strict reverse path filter' (section 'Filters')]") in done.stdout
        assert open_lab(engine, name).exec("a", "sysctl -w net.ipv4.conf.all.rp_filter=1").exit_code == 0
        done = simlab("verify", name, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        destroy_lab(engine, name)


def test_verify_leaves_no_process_in_the_lab(engine, learner_lab, tmp_path):
    """Its captures and probes end with it: no tcpdump, no zombie (the hosts' main process
    reaps what is orphaned in them), only the main process and its sleep."""
    name, env = learner_lab
    verify(name, env, tmp_path)
    for host in ("container-a", "outside"):
        ps = open_lab(engine, name).exec(host, "ps -eo stat=,args=").output.splitlines()
        assert sorted(line.split(None, 1)[1] for line in ps if "ps -eo" not in line) == [
            "sh -c trap 'exit 0' TERM INT; while :; do sleep infinity & wait $!; done", "sleep infinity"], ps
