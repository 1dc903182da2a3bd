"""containerlab topologies in: kind linux nodes as hosts, links as links, exec lines as setup.

The files are shaped on containerlab's documentation (docs/manual/kinds/linux.md "a simple
topo of two alpine containers", lab-examples/frr01 for groups and exec, the topology
definition's defaults/kinds/groups inheritance); what simlab cannot take is named at its line.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import simlab
from simlab.errors import InputError
from simlab.labs.security import Trust, check_trust
from simlab.model.scenario import load_scenario
from simlab.model.topology import Endpoint, Link

# containerlab's docs, kinds/linux.md, with exec lines in the manner of lab-examples/frr01.
TWO_LINUX_NODES = """\
# a simple topo of two alpine containers connected with each other
name: demo

topology:
  nodes:
    n1:
      kind: linux
      image: alpine:latest
      exec:
        - ip addr add 192.168.0.1/24 dev eth1
    n2:
      kind: linux
      image: alpine:latest
      exec:
        - ip addr add 192.168.0.2/24 dev eth1
        - bash -c 'echo "foobar" > /root/wg-priv.key'
  links:
    - endpoints: ["n1:eth1","n2:eth1"]
"""


def write(tmp_path: Path, text: str, name: str = "lab.clab.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    return str(caught.value).splitlines()


def test_the_documentations_two_linux_nodes_become_hosts_a_link_and_setup(tmp_path):
    topology = load_scenario(write(tmp_path, TWO_LINUX_NODES)).topology
    assert topology.name == "demo"
    assert list(topology.hosts) == ["n1", "n2"]
    assert {h.image for h in topology.hosts.values()} == {"alpine:latest"}
    assert topology.links == [Link(Endpoint("n1", "eth1"), Endpoint("n2", "eth1"))]
    assert topology.hosts["n1"].setup == ["ip addr add 192.168.0.1/24 dev eth1"]
    assert topology.hosts["n2"].setup == ["ip addr add 192.168.0.2/24 dev eth1",
                                          "bash -c 'echo \"foobar\" > /root/wg-priv.key'"]
    assert topology.hosts["n1"].addresses == {}  # addresses are the exec lines' business, as in containerlab


def test_groups_kinds_and_defaults_are_inherited_in_containerlabs_order(tmp_path):
    path = write(tmp_path, """\
        name: frr-less
        topology:
          defaults:
            kind: linux
            image: debian:12
          kinds:
            linux:
              image: alpine:3
              exec: [echo from-kind]
          groups:
            hosts:
              image: wbitt/network-multitool:3.22.2
          nodes:
            PC1:
              group: hosts
              exec:
                - ip link set eth1 up
                - ip addr add 192.168.11.2/24 dev eth1
            PC2: {}
            PC3:
              image: busybox
          links:
            - endpoints: ["PC1:eth1", "PC2:eth1"]
            - type: veth
              endpoints:
                - {node: PC2, interface: eth2}
                - {node: PC3, interface: eth1}
        """)
    hosts = load_scenario(path).topology.hosts
    assert [hosts[n].image for n in ("PC1", "PC2", "PC3")] == ["wbitt/network-multitool:3.22.2", "alpine:3", "busybox"]
    assert hosts["PC1"].setup == ["ip link set eth1 up", "ip addr add 192.168.11.2/24 dev eth1"]
    assert hosts["PC2"].setup == ["echo from-kind"]
    assert load_scenario(path).topology.links[1] == Link(Endpoint("PC2", "eth2"), Endpoint("PC3", "eth1"))


def test_exec_lines_run_what_containerlab_runs_without_a_shell(tmp_path):
    path = write(tmp_path, """\
        name: words
        topology:
          nodes:
            a:
              kind: linux
              image: alpine:3
              exec:
                - echo a > b
                - ash -c 'echo $$FOO > /tmp/f'
                - sh -c 'ip link set eth1 up && echo __clabNodeName__'
                - echo __clabNodeName__ in __clabLabName__
        """)
    setup = load_scenario(path).topology.hosts["a"].setup
    assert setup == ["echo a '>' b",  # containerlab passes '>' as a word: no redirection
                     "ash -c 'echo $FOO > /tmp/f'",  # $$ is containerlab's literal $
                     "ip link set eth1 up && echo a",  # sh -c X runs X: the line as simlab's shell runs it
                     "echo a in clab-words"]


def test_a_bridge_node_becomes_a_segment_of_the_hosts_linked_to_it(tmp_path):
    path = write(tmp_path, """\
        name: br
        topology:
          kinds:
            linux: {image: alpine:3}
          nodes:
            a: {kind: linux}
            b: {kind: linux}
            c: {kind: linux}
            lan: {kind: bridge}
          links:
            - endpoints: ["a:eth1", "lan:lanp1"]
            - endpoints: ["lan:lanp2", "b:eth1"]
            - endpoints: ["c:eth1", "lan:lanp3"]
        """)
    topology = load_scenario(path).topology
    assert list(topology.hosts) == ["a", "b", "c"]
    assert [(s.name, s.members) for s in topology.segments] == [
        ("lan", (Endpoint("a", "eth1"), Endpoint("b", "eth1"), Endpoint("c", "eth1")))]


def test_a_file_with_containerlabs_topology_key_is_one_whatever_its_name(tmp_path):
    path = write(tmp_path, TWO_LINUX_NODES, name="demo.yaml")
    assert list(load_scenario(path).topology.hosts) == ["n1", "n2"]


REFUSED = """\
name: refused
mgmt:
  network: custom-mgmt
  ipv4-subnet: 172.100.100.0/24
topology:
  defaults:
    kind: linux
    image: alpine:3
  kinds:
    nokia_srlinux:
      image: ghcr.io/nokia/srlinux
  nodes:
    srl:
      kind: nokia_srlinux
    n1:
      binds:
        - n1/frr.conf:/etc/frr/frr.conf
      ports: [8080:80]
      mgmt-ipv4: 172.100.100.11
      startup-config: n1.cfg
      exce: [echo typo]
      labels: {team: blue}
      exec:
        - ip link set 'eth1 up
    n2:
      sysctls: {kernel.panic: 1}
  links:
    - endpoints: ["n1:eth1", "n2:eth1"]
      mtu: 9000
    - endpoints: ["n1:eth2", "host:n1-eth2"]
    - type: macvlan
      endpoint: {node: n2, interface: eth2}
      host-interface: enp0s3
      endpoints: []
    - endpoints: ["n1:ethernet-1/1", "n2:eth3"]
"""


def test_what_simlab_cannot_take_is_named_at_its_line_all_at_once(tmp_path):
    found = problems(write(tmp_path, REFUSED))
    expected = [
        ("14:13", "topology.nodes.srl.kind", "kind 'nokia_srlinux'"),
        ("16:7", "topology.nodes.n1.binds", "not mounted"),
        ("18:7", "topology.nodes.n1.ports", "sealed"),
        ("19:7", "topology.nodes.n1.mgmt-ipv4", "no management network"),
        ("20:7", "topology.nodes.n1.startup-config", "use exec lines"),
        ("21:7", "topology.nodes.n1.exce", "did you mean 'exec'"),
        ("24:11", "topology.nodes.n1.exec[0]", "No closing quotation"),
        ("26:17", "topology.nodes.n2.sysctls.kernel.panic", "only network sysctls"),
        ("29:7", "topology.links[0].mtu", "exec line"),
        ("30:30", "topology.links[1].endpoints[1]", "engine host"),
        ("31:13", "topology.links[2].type", "veth links only"),
        ("35:19", "topology.links[3].endpoints[0]", "'/'"),
    ]
    for where, key, text in expected:
        assert any(p.startswith(f"{tmp_path / 'lab.clab.yml'}:{where}: {key}: ") and text in p for p in found), (
            where, key, "\n".join(found))
    assert len(found) == len(expected), "\n".join(found)


def test_harmless_keys_are_warnings_and_check_passes(tmp_path):
    path = write(tmp_path, """\
        name: warned
        prefix: ""
        mgmt: {network: custom-mgmt}
        topology:
          nodes:
            a:
              kind: linux
              image: alpine:3
              labels: {team: blue}
              exec: [echo $HOME]
            b: {kind: linux, image: alpine:3}
          links:
            - endpoints: ["a:eth1", "b:eth1"]
              ipv4: ["192.168.0.1/24", "192.168.0.2/24"]
        """)
    done = simlab("check", str(path))
    assert done.returncode == 0, done.stderr
    for where, text in [("2:1", "prefix: ignored"), ("3:1", "mgmt: ignored"), ("9:7", "labels is ignored"),
                        ("10:14", "$HOME from the environment"), ("14:7", "ipv4: ignored")]:
        assert any(line.startswith(f"{path}:{where}: warning: ") and text in line
                   for line in done.stderr.splitlines()), (where, text, done.stderr)


def test_a_privileged_node_is_refused_at_its_line_without_allow_privileged(tmp_path):
    path = write(tmp_path, """\
        name: priv
        topology:
          nodes:
            a: {kind: linux, image: ubuntu_with_basic_net}
            b:
              kind: linux
              image: ubuntu_with_basic_net
              privileged: true
        """)
    with pytest.raises(InputError, match=r"lab.clab.yml:8:19: topology.nodes.b.privileged: a privileged host"):
        check_trust(load_scenario(path).topology, Trust(), str(path))
    check_trust(load_scenario(path).topology, Trust(allow_privileged=True), str(path))


def test_check_graph_and_a_bad_file_from_the_command_line(tmp_path):
    good = write(tmp_path, TWO_LINUX_NODES)
    assert simlab("check", str(good)).returncode == 0
    graph = simlab("graph", str(good), "--format", "mermaid", check=True).stdout
    assert "eth1 — eth1" in graph and '"n1"' in graph and '"n2"' in graph
    bad = simlab("check", str(write(tmp_path, REFUSED, "bad.clab.yml")))
    assert bad.returncode == 2 and "bad.clab.yml:16:7: topology.nodes.n1.binds" in bad.stderr


# -- on the engine -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("clab"), TWO_LINUX_NODES.replace("alpine:latest", "clab-missing/alpine:1"))


def test_an_image_the_engine_cannot_get_is_named_with_the_way_out(engine, demo):
    lab = f"clab-{uuid.uuid4().hex[:6]}"
    done = simlab("up", str(demo), "--name", lab)
    assert done.returncode == 2
    assert "clab-missing/alpine:1 (for n1, n2" in done.stderr and "--host-image" in done.stderr, done.stderr
    assert engine.containers({"simlab.lab": lab}) == []


def test_up_on_the_host_image_wires_the_link_and_runs_the_exec_lines(engine, demo):
    lab = f"clab-{uuid.uuid4().hex[:6]}"
    try:
        simlab("up", str(demo), "--name", lab, "--host-image", check=True)
        hosts = {c.labels["simlab.host"]: c for c in engine.containers({"simlab.lab": lab, "simlab.role": "host"})}
        assert {c.labels["simlab.host"] for c in hosts.values()} == {"n1", "n2"}
        assert simlab("exec", lab, "n1", "--", "ping", "-c1", "-W2", "192.168.0.2").returncode == 0
        assert simlab("exec", lab, "n2", "--", "cat", "/root/wg-priv.key", check=True).stdout == "foobar\n"
    finally:
        simlab("down", lab)
    assert engine.containers({"simlab.lab": lab}) == []
