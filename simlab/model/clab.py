"""containerlab topology files (``*.clab.yml``) read as simlab scenarios.

``translate`` turns a containerlab topology into the data of a simlab file: each
``kind: linux`` node a host (its image, its ``exec`` lines as setup commands, in
order, run once the links exist), each link of the brief (``endpoints: ["a:eth1",
"b:eth1"]``) or the extended veth form a link, each ``kind: bridge`` node a segment
of the nodes linked to it. Node properties are looked up as containerlab does: node,
then its group, then its kind (``topology.kinds``), then ``topology.defaults``. The
data then goes through the scenario loader like any file, with a ``Source`` whose
places are those of the containerlab file, so every problem names its file:line:col.

What simlab cannot take (other kinds, binds, ports, startup-config, mgmt-ipv4, ...)
is an error at its line; what changes nothing in a sealed lab (labels, restart
policy, the mgmt section) a warning. docs/containerlab.md lists both.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from simlab.model.names import unknown_key
from simlab.model.problems import Problems
from simlab.model.yamlsource import Path_, Source

SUFFIXES = (".clab.yml", ".clab.yaml")
TOP_KEYS = {"name", "topology", "prefix", "mgmt", "settings"}
IGNORED_TOP = {"prefix": "simlab names the containers simlab-LAB-HOST",
               "mgmt": "simlab hosts have no management network, only the links of the file",
               "settings": "containerlab's own settings"}
TOPOLOGY_KEYS = {"nodes", "links", "defaults", "kinds", "groups"}
NODE_KEYS = {"kind", "image", "exec", "group", "sysctls", "privileged"}
# Node keys that change nothing in a sealed simlab lab: a warning each.
IGNORED_NODE = {"labels", "type", "image-pull-policy", "restart-policy", "auto-remove", "startup-delay", "memory",
                "cpu", "cpu-set", "shm-size", "healthcheck", "certificate", "dns", "hostname"}
# Node keys simlab refuses, with what to do instead.
REFUSED_NODE = {
    "binds": "files from the engine host are not mounted into hosts; write them with exec lines",
    "volumes": "volumes are not mounted into hosts",
    "ports": "hosts are sealed (network none): nothing is published on the engine host",
    "startup-config": "startup configurations are for network OS kinds; use exec lines",
    "enforce-startup-config": "startup configurations are for network OS kinds; use exec lines",
    "suppress-startup-config": "startup configurations are for network OS kinds; use exec lines",
    "mgmt-ipv4": "hosts have no management network; address a link's interface with an exec line",
    "mgmt-ipv6": "hosts have no management network; address a link's interface with an exec line",
    "network-mode": "hosts are always sealed (network none)",
    "env": "hosts get no environment of their own; set variables inside the exec line (sh -c 'X=1 ...')",
    "env-files": "hosts get no environment of their own",
    "cmd": "hosts run simlab's own command; start programs with exec lines",
    "entrypoint": "hosts run simlab's own command; start programs with exec lines",
    "stages": "stages and their commands are not run; use exec lines",
    "user": "hosts run as root",
}
REFUSED_DETAIL = "simlab cannot take it"
LINK_KEYS = {"endpoints", "type", "vars", "labels", "ipv4", "ipv6"}
ENDPOINT_KEYS = {"node", "interface", "mac", "vars", "ipv4", "ipv6"}
KINDS = ("linux", "bridge")
# containerlab's escape for a literal '$' and its variables, which only it can expand.
VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*")
MAGIC = re.compile(r"__clab[A-Za-z]+__")


def is_clab(path: str | Path, data: Any) -> bool:
    """Whether ``data`` (read from ``path``) is a containerlab topology: its name says so, or it
    has containerlab's ``topology`` and none of simlab's ``hosts``."""
    return str(path).endswith(SUFFIXES) or (isinstance(data, dict) and "topology" in data and "hosts" not in data)


def default_name(path: str | Path) -> str:
    """lab.clab.yml -> lab (containerlab requires a name; this only serves a file without one)."""
    name = Path(path).name
    return next((name[:-len(s)] for s in SUFFIXES if name.endswith(s)), Path(path).stem)


def translate(data: Any, source: Source) -> tuple[dict[str, Any], Source, Problems]:
    """The simlab data of a containerlab topology, a Source giving each of its keys the line of
    the containerlab key it came from, and the problems found on the way (not raised: the
    scenario loader adds its own, so that every problem shows at once)."""
    problems = Problems(source)
    mapped = Source(source.file)
    mapped.take((), source, ())
    out: dict[str, Any] = {"hosts": {}}
    if not isinstance(data, dict):
        problems.add((), "a containerlab topology is a mapping with name and topology")
        return out, mapped, problems
    for key in sorted(data.keys() - TOP_KEYS):
        problems.add((key,), unknown_key(key, TOP_KEYS), at_key=True)
    for key in sorted(data.keys() & set(IGNORED_TOP)):
        problems.warn((key,), f"ignored: {IGNORED_TOP[key]}", at_key=True)
    if "name" in data:
        out["name"] = data["name"]
        mapped.take(("name",), source, ("name",))
    topology = data.get("topology")
    if not isinstance(topology, dict) or not isinstance(topology.get("nodes"), dict) or not topology["nodes"]:
        problems.add(("topology",), "topology needs nodes: a mapping of node names to nodes")
        return out, mapped, problems
    for key in sorted(topology.keys() - TOPOLOGY_KEYS):
        problems.add(("topology", key), unknown_key(key, TOPOLOGY_KEYS, " in topology"), at_key=True)
    reader = _Reader(topology, problems, mapped, str(data.get("name", "")))
    out["hosts"] = reader.hosts()
    links, segments = reader.links()
    if links:
        out["links"] = links
    if segments:
        out["segments"] = segments
    return out, mapped, problems


class _Reader:
    """The nodes and links of one topology, with the line of each simlab key it makes."""

    def __init__(self, topology: dict, problems: Problems, mapped: Source, lab: str) -> None:
        self.topology, self.problems, self.mapped, self.lab = topology, problems, mapped, lab
        self.nodes: dict[str, Any] = topology["nodes"]
        self.kinds: dict[str, str] = {}  # node -> its kind, once read

    def mark(self, path: Path_, written: Path_) -> None:
        """The simlab key ``path`` came from ``written`` in the containerlab file."""
        self.mapped.take(path, self.problems.source, written)
        self.mapped.keys[path] = written

    def hosts(self) -> dict[str, Any]:
        hosts = {}
        self.mark(("hosts",), ("topology", "nodes"))
        for name in self.nodes:
            node = self.nodes[name] if self.nodes[name] is not None else {}
            path: Path_ = ("topology", "nodes", name)
            if not isinstance(node, dict):
                self.problems.add(path, f"node {name!r} must be a mapping (kind, image, exec, ...)")
                continue
            kind, _ = self.value(name, "kind")
            self.kinds[name] = kind
            if kind not in KINDS:
                self.problems.add(path + ("kind",) if "kind" in node else path,
                                  f"node {name!r} is of kind {kind!r}: simlab takes kind linux (a host) and kind "
                                  f"bridge (a segment) only" if kind else
                                  f"node {name!r} has no kind: add kind: linux (here, or in topology.defaults)")
                continue
            self._check_keys(name, node, path, kind)
            if kind == "linux":
                hosts[name] = self._host(name, path)
        return hosts

    def value(self, node: str, key: str) -> tuple[Any, Path_ | None]:
        """A node's property and where it was written: the node, its group, its kind, the defaults."""
        spec = self.nodes.get(node) or {}
        if key in spec:
            return spec[key], ("topology", "nodes", node, key)
        group = spec.get("group")
        places: list[Path_] = []
        if isinstance(group, str):
            places.append(("topology", "groups", group))
        kind = spec.get("kind") if key != "kind" else None
        if kind is None and key != "kind":
            kind = self.value(node, "kind")[0]
        if isinstance(kind, str):
            places.append(("topology", "kinds", kind))
        places.append(("topology", "defaults"))
        for place in places:
            found = self._at(place)
            if isinstance(found, dict) and key in found:
                return found[key], place + (key,)
        return None, None

    def _at(self, place: Path_) -> Any:
        found: Any = self.topology
        for part in place[1:]:
            found = found.get(part) if isinstance(found, dict) else None
        return found

    def _check_keys(self, name: str, node: dict, path: Path_, kind: str) -> None:
        group = node.get("group")
        if group is not None and not isinstance(self._at(("topology", "groups", group)), dict):
            self.problems.add(path + ("group",), f"node {name!r}: no group {group!r} in topology.groups")
        known = NODE_KEYS | IGNORED_NODE | set(REFUSED_NODE)
        # a bridge takes nothing from its kind or the defaults: those are for the nodes that run
        for key in (list(node) if kind == "bridge" else _inherited_keys(self, name)):
            where = self.value(name, key)[1] or path
            if key in IGNORED_NODE:
                self.problems.warn(where, f"node {name!r}: {key} is ignored (it changes nothing in a sealed lab)",
                                   at_key=True)
            elif key in REFUSED_NODE or (key not in known and key in _CLAB_NODE_KEYS):
                self.problems.add(where, f"node {name!r}: {key}: {REFUSED_NODE.get(key, REFUSED_DETAIL)}", at_key=True)
            elif key not in known:
                self.problems.add(where, unknown_key(key, known, f" in node {name!r}"), at_key=True)
            elif kind == "bridge" and key not in ("kind", "group"):
                self.problems.add(where, f"node {name!r}: a bridge node becomes a segment of the lab; "
                                         f"{key} has no meaning there", at_key=True)

    def _host(self, name: str, path: Path_) -> dict[str, Any]:
        host: dict[str, Any] = {}
        here = ("hosts", name)
        self.mark(here, path)
        image, where = self.value(name, "image")
        if image is None:
            self.problems.add(path, f"node {name!r} has no image (containerlab needs one): add image: ..., "
                                    f"or image: ubuntu_with_basic_net for simlab's host image")
        else:
            host["image"] = image
            self.mark(here + ("image",), where or path)
        for key in ("sysctls", "privileged"):
            value, where = self.value(name, key)
            if value is not None:
                host[key] = value
                self.mark(here + (key,), where or path)
                if isinstance(value, dict):
                    for sub in value:
                        self.mark(here + (key, sub), (where or path) + (sub,))
        lines, where = self.value(name, "exec")
        if lines is not None:
            host["setup"] = self._exec(name, lines, where or path)
            self.mark(here + ("setup",), where or path)
        return host

    def _exec(self, name: str, lines: Any, where: Path_) -> list[str]:
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            self.problems.add(where, f"node {name!r}: exec is a list of commands")
            return []
        commands: list[str] = []
        for i, line in enumerate(lines):
            self.mark(("hosts", name, "setup", len(commands)), where + (i,))
            command = self._command(name, line, where + (i,))
            if command is not None:
                commands.append(command)
        return commands

    def _command(self, name: str, line: str, where: Path_) -> str | None:
        """The shell command that runs what containerlab runs for an exec line: it expands
        __clabNodeName__ and __clabLabName__, turns $$ into $, splits the line into words as a
        shell would and runs them without a shell (so '>' is a word, not a redirection)."""
        unknown = sorted(set(MAGIC.findall(line)) - {"__clabNodeName__", "__clabLabName__"})
        if unknown:
            self.problems.add(where, f"node {name!r}: {', '.join(unknown)} names containerlab's lab directory, "
                                     f"which a simlab lab does not have")
            return None
        line = line.replace("__clabNodeName__", name).replace("__clabLabName__", f"clab-{self.lab}")
        if variable := VARIABLE.search(line.replace("$$", "")):
            self.problems.warn(where, f"node {name!r}: containerlab would put the value of "
                                      f"{variable.group(0)} from the environment of "
                                      f"whoever deploys the lab here; simlab leaves it as written (write $$ for a "
                                      f"literal $)")
        try:
            words = shlex.split(line.replace("$$", "$"))
        except ValueError as exc:
            self.problems.add(where, f"node {name!r}: exec line {line[:60]!r}: {exc}")
            return None
        if not words:
            self.problems.add(where, f"node {name!r}: an empty exec line")
            return None
        if len(words) == 3 and words[:2] == ["sh", "-c"]:
            return words[2]  # what `simlab export --format clab` writes for a shell command
        return shlex.join(words)

    def links(self) -> tuple[list[list[str]], dict[str, list[str]]]:
        raw = self.topology.get("links", [])
        if not isinstance(raw, list):
            self.problems.add(("topology", "links"), "links is a list of {endpoints: [NODE:IFACE, NODE:IFACE]}")
            return [], {}
        self.mark(("links",), ("topology", "links"))
        links: list[list[str]] = []
        members: dict[str, list[tuple[str, Path_]]] = {}
        for i, link in enumerate(raw):
            ends = self._link(link, ("topology", "links", i))
            if ends is None:
                continue
            bridges = [n for n, (end, _) in enumerate(ends) if self.kinds.get(end.split(":")[0]) == "bridge"]
            if len(bridges) == 2:
                self.problems.add(("topology", "links", i), "a link between two bridge nodes: simlab joins hosts "
                                                            "to a segment, not segments to each other")
            elif bridges:
                bridge = ends[bridges[0]][0].split(":")[0]
                members.setdefault(bridge, []).append(ends[1 - bridges[0]])
            else:
                for j, (_, where) in enumerate(ends):
                    self.mark(("links", len(links), j), where)
                links.append([end for end, _ in ends])
        return links, self._segments(members)

    def _segments(self, members: dict[str, list[tuple[str, Path_]]]) -> dict[str, list[str]]:
        segments = {}
        self.mark(("segments",), ("topology", "links"))
        for bridge in (name for name, kind in self.kinds.items() if kind == "bridge"):
            ends = members.get(bridge, [])
            if len(ends) < 2:
                self.problems.add(("topology", "nodes", bridge), f"bridge {bridge!r} has {len(ends)} link(s): a "
                                  f"simlab segment joins at least two hosts (the lab has no engine-host side)")
                continue
            self.mark(("segments", bridge), ("topology", "nodes", bridge))
            for k, (_, where) in enumerate(ends):
                self.mark(("segments", bridge, k), where)
            segments[bridge] = [end for end, _ in ends]
        return segments

    def _link(self, link: Any, path: Path_) -> list[tuple[str, Path_]] | None:
        """The two ends of a link as NODE:IFACE, each with where it was written; None when bad."""
        kind = link.get("type", "veth") if isinstance(link, dict) else None
        if kind not in ("veth", None):
            self.problems.add(path + ("type",), f"links of type {kind!r}: simlab makes veth links only (its labs "
                                                f"have no path to the engine host or any real network)")
            return None
        if not isinstance(link, dict) or "endpoints" not in link:
            self.problems.add(path, "a link is {endpoints: [NODE:IFACE, NODE:IFACE]} (or the extended veth form)")
            return None
        for key in sorted(link.keys() - LINK_KEYS):
            reason = "set it with an exec line (ip link set IFACE mtu N)" if key == "mtu" else ""
            self.problems.add(path + (key,), reason or unknown_key(key, LINK_KEYS, " in a link"), at_key=True)
        for key in ("ipv4", "ipv6"):
            if key in link:
                self.problems.warn(path + (key,), f"ignored, as containerlab ignores {key} for kind linux: "
                                                  f"address the interface with an exec line (ip addr add ...)",
                                   at_key=True)
        ends = link["endpoints"]
        if not isinstance(ends, list) or len(ends) != 2:
            self.problems.add(path + ("endpoints",), "endpoints is a pair, like [\"a:eth1\", \"b:eth1\"]")
            return None
        found = [self._endpoint(end, path + ("endpoints", j)) for j, end in enumerate(ends)]
        return [(end, where) for end, where in found if end] if all(end for end, _ in found) else None

    def _endpoint(self, end: Any, where: Path_) -> tuple[str | None, Path_]:
        if isinstance(end, dict):  # the extended form
            for key in sorted(end.keys() - ENDPOINT_KEYS):
                self.problems.add(where + (key,), unknown_key(key, ENDPOINT_KEYS, " in an endpoint"), at_key=True)
            for key in sorted(end.keys() & {"mac", "ipv4", "ipv6", "vars"}):
                self.problems.warn(where + (key,), f"{key} is ignored: set it with an exec line", at_key=True)
            end = f"{end.get('node')}:{end.get('interface')}"
        if not isinstance(end, str) or end.count(":") != 1:
            self.problems.add(where, f"{end!r} must name an interface as NODE:IFACE, like \"a:eth1\"")
            return None, where
        node = end.split(":")[0]
        if node not in self.nodes:
            special = node in ("host", "mgmt-net", "macvlan", "ovs-bridge", "bridge")
            self.problems.add(where, f"{end!r}: " + ("links to the engine host or its networks are refused: a "
                                                     "simlab lab is sealed" if special else
                                                     f"no node {node!r} (nodes: {', '.join(self.nodes)})"))
            return None, where
        if self.kinds.get(node) not in KINDS:
            return None, where  # its node already has its problem
        return end, where


def _inherited_keys(reader: _Reader, name: str) -> list[str]:
    """Every property a node has, its own and those its group, kind and the defaults give it."""
    spec = reader.nodes.get(name) or {}
    keys = list(spec)
    group, kind = spec.get("group"), reader.kinds.get(name)
    places: list[Path_] = [("topology", "groups", group)] if isinstance(group, str) else []
    places += [("topology", "kinds", kind)] if isinstance(kind, str) else []
    for place in [*places, ("topology", "defaults")]:
        found = reader._at(place)
        keys += [key for key in (found if isinstance(found, dict) else {}) if key not in keys]
    return keys


# containerlab's node properties (docs/manual/nodes.md) that simlab neither takes nor ignores.
_CLAB_NODE_KEYS = {"license", "credentials", "runtime", "devices", "cap-add", "cgroupns-mode", "cgroup-parent",
                   "pid-mode", "tmpfs", "security-opts", "aliases", "link-apply-mode", "components", "extras",
                   "publish", "sandbox", "kernel", "wait-for", "config"}
