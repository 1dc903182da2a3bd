"""A scenario's lab written out for other tools: a shell script or a containerlab topology.

``shell_script`` writes a POSIX sh script that builds the same lab by hand with the
docker CLI and ``ip``, as a person would: the hosts with simlab's own options and
labels, a veth pair moved straight into two hosts' network namespaces for each link,
a switch container holding a bridge for each shared segment, then each host's
addresses, routes and setup commands, and (``steps``) every step's commands in
order. ``clab_topology`` writes a containerlab topology of the same lab: kind linux
nodes, links, and the addresses, routes and setup as exec lines.

Every value from the file reaches the script through ``shlex.quote`` (names,
interfaces, commands, titles in comments made one line): a scenario file is untrusted.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from simlab import __version__
from simlab.errors import InputError
from simlab.labs.fabric import BRIDGE, INFRA_IMAGE, switched_segments
from simlab.labs.lab import (
    DEFAULT_SYSCTLS,
    IPV6_SYSCTLS,
    LABEL_FILE,
    LABEL_LAB,
    LABEL_NODE,
    LABEL_ROLE,
    LABEL_RUN,
    SHELL_ENV,
    host_entries,
    uses_ipv6,
)
from simlab.labs.security import host_options
from simlab.model.problems import one_line
from simlab.model.scenario import KINDS, Scenario
from simlab.model.topology import DEFAULT_IMAGE, Host, Topology

FORMATS = ("sh", "clab")
RUN_ID = "by-hand"  # the simlab.run label of a lab the script builds


def export(scenario: Scenario, fmt: str) -> str:
    """The scenario's lab as ``fmt`` (one of FORMATS)."""
    return shell_script(scenario) if fmt == "sh" else clab_topology(scenario)


def host_sysctls(host: Host) -> dict[str, str]:
    """The sysctls simlab gives ``host``: its defaults, then the file's own."""
    return {**DEFAULT_SYSCTLS, **(IPV6_SYSCTLS if uses_ipv6(host) else {}), **host.sysctls}


def configure_commands(host: Host, topology: Topology) -> list[list[str]]:
    """What the fabric does in ``host`` once its wires exist, as ip commands: its wired
    interfaces up, its addresses, its routes."""
    wired = sorted({end.interface for end in topology.wired_interfaces() if end.host == host.name})
    commands = [["ip", "link", "set", name, "up"] for name in wired]
    for name, addresses in host.addresses.items():
        commands += [["ip", "addr", "add", str(a), "dev", name, *(["nodad"] if a.version == 6 else [])]
                     for a in addresses]
    for route in host.routes:
        destination = str(route.destination) if route.destination else (
            "::/0" if route.via is not None and route.via.version == 6 else "0.0.0.0/0")
        commands.append(["ip", "route", "add", destination, *(["via", str(route.via)] if route.via else []),
                         *(["dev", route.dev] if route.dev else [])])
    return commands


# -- the shell script ------------------------------------------------------------------------

PRELUDE = r"""# shellcheck disable=SC2016  # the hosts' commands are single-quoted: their $ is for the host's shell
set -eu

ACTION=${1:-all}
LAB=${2:-__NAME__}
case $LAB in
  ''|[!A-Za-z0-9]*|*[!A-Za-z0-9_.-]*) echo "lab name $LAB: letters, digits, '_', '.' or '-'" >&2; exit 2 ;;
esac

c() { printf 'simlab-%s-%s' "$LAB" "$1"; }              # the container of a host
pid() { docker inspect -f '{{.State.Pid}}' "$(c "$1")"; }  # its process: the way into its namespaces

host() {  # host NAME IMAGE [docker run options]: a sealed container (network none), labelled
  name=$1 image=$2; shift 2
  docker run -d --name "$(c "$name")" --hostname "$name" --network none \
    --label __LABEL_LAB__="$LAB" --label __LABEL_NODE__="$name" --label __LABEL_ROLE__=host \
    --label __LABEL_RUN__=__RUN__ --label __LABEL_FILE__=__FILE__ \
    "$@" "$image" sleep infinity >/dev/null
}

writable_net() {  # writable_net HOST: /proc/sys/net writable, the rest of /proc/sys read-only
  # (simlab sets the engine's ReadonlyPaths so; the docker CLI has no flag for it)
  docker exec "$(c "$1")" sh -c 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net'
}

switch() {  # switch SEGMENT: a container holding the bridge that joins a shared segment
  docker run -d --name "$(c "-sw-$1")" --hostname "$1" --network none \
    --label __LABEL_LAB__="$LAB" --label __LABEL_NODE__="$1" --label __LABEL_ROLE__=switch \
    --label __LABEL_RUN__=__RUN__ --label __LABEL_FILE__=__FILE__ __INFRA__ sleep infinity >/dev/null
  nsenter -t "$(pid "-sw-$1")" -n ip link add __BRIDGE__ type bridge
  nsenter -t "$(pid "-sw-$1")" -n ip link set __BRIDGE__ up
}

link() {  # link HOST_A IFACE_A HOST_B IFACE_B: a veth pair made straight into both namespaces
  ip link add "$2" netns "$(pid "$1")" type veth peer name "$4" netns "$(pid "$3")"
}

port() {  # port SEGMENT N HOST IFACE: a veth pair from port pN of the segment's bridge to HOST
  ip link add "p$2" netns "$(pid "-sw-$1")" type veth peer name "$4" netns "$(pid "$3")"
  nsenter -t "$(pid "-sw-$1")" -n ip link set "p$2" master __BRIDGE__ up
}

on() {  # on HOST COMMAND...: run a command on a host
  name=$1; shift
  docker exec -e __ENV__ "$(c "$name")" "$@"
}

step() {  # step HOST NETNS COMMAND: one command of a step, in its host's shell; say how it ended
  if [ -n "$2" ]; then set -- "$1" ip netns exec "$2" sh -c "$3"; else set -- "$1" sh -c "$3"; fi
  on "$@" && rc=0 || rc=$?
  echo "   exit $rc"
}

down() {  # remove every container of the lab, found by its label: the wires go with them
  for id in $(docker ps -aq --filter "label=__LABEL_LAB__=$LAB"); do docker rm -f "$id" >/dev/null; done
}

abandon() {
  echo "building lab $LAB failed: removing it" >&2
  down
}
"""

MAIN = r"""
case $ACTION in
  up|all)
    if [ "$(id -u)" != 0 ]; then echo "run it as root on the engine's host: ip makes the wires there" >&2; exit 2; fi
    if [ -n "$(docker ps -aq --filter "label=__LABEL_LAB__=$LAB")" ]; then
      echo "a lab named $LAB is up: pass another name (sh $0 $ACTION NAME), or remove it (sh $0 down $LAB)" >&2; exit 2
    fi
    trap abandon EXIT
    trap 'exit 130' INT TERM HUP
    up
    trap - EXIT
    echo "lab $LAB is up; docker exec -it $(c __FIRST__) bash explores it; sh $0 down $LAB removes it"
    if [ "$ACTION" = all ]; then steps; fi ;;
  steps) steps ;;
  down) down; echo "lab $LAB removed" ;;
  *) echo "usage: sh $0 [up|steps|down|all] [LAB]" >&2; exit 2 ;;
esac
"""


def shell_script(scenario: Scenario) -> str:
    """A POSIX sh script that builds the scenario's lab by hand, runs its steps and removes it."""
    topology = scenario.topology
    q = shlex.quote
    replacements = {"__NAME__": q(topology.name), "__LABEL_LAB__": LABEL_LAB, "__LABEL_NODE__": LABEL_NODE,
                    "__LABEL_ROLE__": LABEL_ROLE, "__LABEL_RUN__": LABEL_RUN, "__LABEL_FILE__": LABEL_FILE,
                    "__RUN__": RUN_ID, "__FILE__": q(_absolute(scenario.file)), "__INFRA__": q(INFRA_IMAGE),
                    "__BRIDGE__": BRIDGE, "__ENV__": q(" ".join(f"{k}={v}" for k, v in SHELL_ENV.items())),
                    "__FIRST__": q(next(iter(topology.hosts)))}
    head = [
        "#!/bin/sh",
        f"# {_comment(topology.name)}: {_comment(topology.description or 'a simlab lab')}",
        f"# Written by `simlab export --format sh` (simlab {__version__}) from {_comment(scenario.file)}.",
        "# The same lab simlab builds, by hand with the docker CLI and ip (iproute2):",
        "#   sh THIS.sh [all|up|steps|down] [LAB]",
        "# all (the default) builds the lab and runs the steps' commands once each, in order, printing",
        "# their exit codes (simlab run also judges them); down removes every container labelled",
        f"# {LABEL_LAB}=LAB (so does `simlab down LAB`). Run it as root on the engine's host.",
        "",
    ]
    prelude, main = PRELUDE, MAIN
    for key, value in replacements.items():  # in simlab's own text only, never in the file's
        prelude, main = prelude.replace(key, value), main.replace(key, value)
    return "\n".join(head) + prelude + _up(topology) + "\n" + _steps(scenario) + main


def _up(topology: Topology) -> str:
    q = shlex.quote
    names = host_entries(topology)
    lines = ["", "up() {"]
    lines.append("  # the hosts: simlab's options (its least privilege unless a host is privileged)")
    for host in topology.hosts.values():
        options = host_options(host.privileged)
        flags = (["--privileged"] if options.privileged else
                 [f for cap in options.cap_add for f in ("--cap-add", cap)]
                 + [f for cap in options.cap_drop for f in ("--cap-drop", cap)]
                 + [f for opt in options.security_opt for f in ("--security-opt", opt)]
                 + (["--cgroupns", options.cgroupns] if options.cgroupns else []))
        flags += [f for key, value in host_sysctls(host).items() for f in ("--sysctl", f"{key}={value}")]
        flags += [f for entry in names for f in ("--add-host", entry)]
        lines.append(f"  host {q(host.name)} {q(host.image)} \\\n    " + _wrap(flags))
        if not options.privileged:
            lines.append(f"  writable_net {q(host.name)}")
    if topology.links:
        lines.append("  # the links: veth pairs")
    for link in topology.links:
        lines.append(f"  link {q(link.a.host)} {q(link.a.interface)} {q(link.b.host)} {q(link.b.interface)}")
    switched = switched_segments(topology)
    for segment in topology.segments:
        if segment.name not in switched:
            a, b = segment.members
            lines.append(f"  # segment {_comment(segment.name)}: two members, a veth pair")
            lines.append(f"  link {q(a.host)} {q(a.interface)} {q(b.host)} {q(b.interface)}")
            continue
        lines.append(f"  # segment {_comment(segment.name)}: a bridge in a switch container, a veth pair per member")
        lines.append(f"  switch {q(segment.name)}")
        for n, end in enumerate(segment.members):
            lines.append(f"  port {q(segment.name)} {n} {q(end.host)} {q(end.interface)}")
    for host in topology.hosts.values():
        commands = configure_commands(host, topology)
        if commands or host.setup:
            lines.append(f"  # {_comment(host.name)}: interfaces up, addresses, routes, then its setup commands")
        lines += [f"  on {q(host.name)} {shlex.join(argv)}" for argv in commands]
        lines += [f"  on {q(host.name)} sh -c {q(command)}" for command in host.setup]
    lines.append("}")
    return "\n".join(lines)


def _steps(scenario: Scenario) -> str:
    q = shlex.quote
    lines = ["", "steps() {  # each step's commands, as simlab runs them (probes included)"]
    section = None
    for n, step in enumerate(scenario.steps, 1):
        kind = KINDS[step.KIND]
        if step.section and step.section != section:
            section = step.section
            lines.append(f"  # -- {_comment(section)}")
        lines.append(f"  # {n}. {_comment(step.title)} (expect: {_comment(kind.expected(step))})")
        lines += [f"  #    {_comment(step.where)} $ {_comment(shown)}" for shown in kind.shown(step)]
        lines.append(f"  printf '%s\\n' {q(f'{n}. {one_line(step.title)}')}")
        lines += [f"  step {q(step.host)} {q(step.netns or '')} {q(command)}" for command in kind.commands(step)]
    if not scenario.steps:
        lines.append("  :  # no steps: a topology")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _wrap(words: list[str], per_line: int = 6) -> str:
    quoted = [shlex.quote(w) for w in words]
    return " \\\n    ".join(" ".join(quoted[i:i + per_line]) for i in range(0, len(quoted), per_line))


def _comment(text: str) -> str:
    """Text from the file made safe for a comment: one line (a newline would end the comment)."""
    return one_line(str(text))


def _absolute(file: str) -> str:
    path = Path(file)
    return str(path.resolve()) if path.exists() else file


# -- the containerlab topology ---------------------------------------------------------------

def clab_topology(scenario: Scenario) -> str:
    """A containerlab topology of the scenario's lab: kind linux nodes with their image, sysctls
    and exec lines (addresses, routes, then setup), links, and a kind bridge node per segment."""
    topology = scenario.topology
    clash = sorted(set(topology.hosts) & {s.name for s in topology.segments})
    if clash:
        raise InputError(f"{scenario.file}: segment {clash[0]} has the name of a host; containerlab names nodes "
                         f"and bridges alike: rename one")
    nodes: dict[str, dict] = {}
    for host in topology.hosts.values():
        node: dict = {"kind": "linux", "image": host.image}
        if host.privileged:
            node["privileged"] = True
        node["sysctls"] = host_sysctls(host)
        commands = [shlex.join(argv) for argv in configure_commands(host, topology)] + host.setup
        if commands:
            node["exec"] = [clab_exec(command) for command in commands]
        nodes[host.name] = node
    links = [{"endpoints": _Pair([str(link.a), str(link.b)])} for link in topology.links]
    for i, segment in enumerate(topology.segments):
        nodes[segment.name] = {"kind": "bridge"}
        for n, end in enumerate(segment.members):
            port = f"{segment.name}p{n}" if len(segment.name) <= 12 else f"sw{i}p{n}"
            links.append({"endpoints": _Pair([str(end), f"{segment.name}:{port}"])})
    data = {"name": topology.name, "topology": {"nodes": nodes, "links": links}}
    head = [f"# {_comment(topology.name)}: {_comment(topology.description or 'a simlab lab')}",
            f"# Written by `simlab export --format clab` (simlab {__version__}) from {_comment(scenario.file)}.",
            "# simlab runs it as it is (simlab up/run FILE); containerlab deploys it (containerlab deploy -t FILE)."]
    if topology.segments:
        head.append("# containerlab plugs a kind bridge node's links into a bridge of that name on the engine host "
                    "(docker0 there is the engine's own: rename such a segment); make each first: "
                    + "; ".join(f"ip link add {shlex.quote(s.name)} type bridge && ip link set {shlex.quote(s.name)} up"
                                for s in topology.segments))
    if scenario.steps:
        head.append(f"# The scenario's {len(scenario.steps)} step(s) are not part of a containerlab topology: "
                    f"`simlab export --format sh` writes them as a script.")
    if any(host.image != DEFAULT_IMAGE for host in topology.hosts.values()):
        head.append("# Hosts with another image than ubuntu_with_basic_net need it on the engine.")
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=10_000)
    return "\n".join(head) + "\n" + text


class _Pair(list):
    """A link's endpoints, written ["a:eth1", "b:eth1"] as containerlab's documentation does."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Pair, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data,
                                                                              flow_style=True))


def clab_exec(command: str) -> str:
    """An exec line that runs ``command`` as simlab does (containerlab runs exec lines without a
    shell): as it is when it is plain words, else under sh -c; '$' written as containerlab's $$.
    (containerlab's __clabNodeName__ and __clabLabName__ have no escape: it expands them.)"""
    try:
        words = shlex.split(command)
        plain = shlex.join(words) == command and words[:2] != ["sh", "-c"]  # sh -c X reads back as X
    except ValueError:
        plain = False
    line = command if plain else shlex.join(["sh", "-c", command])
    return line.replace("$", "$$")
