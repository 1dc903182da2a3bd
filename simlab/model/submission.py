"""A learner's submission for `simlab grade`: their commands, host by host, read and checked.

Two forms (docs/grade.md). A shell-like text file: a line ``# host: NAME`` (or ``# host:
NAME netns NS``) says where the commands after it run, one command a line, in order;
blank lines and other ``#`` lines are comments; a line ending in ``\\`` goes on with the
next. Or a YAML file shaped like a scenario's hosts with only their setup commands:
``hosts: {NAME: {setup: [COMMAND, ...]}}``, run host by host in the file's order.

A submission is code from a student: every command runs as a shell line in the hosts of
a sealed lab (quoted, never pasted into another command), and every host and namespace
it names is checked here, before any lab starts. Problems are one line each,
``file:line: what is wrong and what to do``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import InputError
from simlab.model.names import did_you_mean
from simlab.model.problems import one_line
from simlab.model.topology import Topology, valid_name
from simlab.model.yamlsource import Source, parse_yaml, read_text

YAML_SUFFIXES = (".yaml", ".yml")
MARKER = re.compile(r"#\s*host\s*:(.*)$")
PLACE = re.compile(r"\s*(\S+)(?:\s+netns\s+(\S+))?\s*$")


@dataclass(frozen=True)
class Command:
    """One command of a submission: where it runs and the line it was written on."""

    host: str
    netns: str | None
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.host}/{self.netns}" if self.netns else self.host


@dataclass
class Submission:
    student: str  # the file's name without its suffix
    file: str
    commands: list[Command] = field(default_factory=list)


def read_submission(path: str | Path, topology: Topology) -> Submission:
    """The submission in ``path``, its hosts checked against ``topology``; InputError
    (``file:line: ...``) for a file that cannot be read, has no host marker, or names a
    host the scenario does not have."""
    text = read_text(path)
    if Path(path).suffix in YAML_SUFFIXES:
        commands = _from_yaml(text, str(path), topology)
    else:
        commands = parse_commands(text, str(path), topology)
    return Submission(Path(path).stem, str(path), commands)


def parse_commands(text: str, file: str, topology: Topology) -> list[Command]:
    """The commands of a marked text file (see the module's docstring)."""
    lines = text.splitlines()
    if not any(MARKER.match(line.strip()) for line in lines):
        raise InputError(f"{file}:1: no `# host: NAME` line: a submission says where its commands run with a line "
                         f"`# host: NAME` before them (hosts: {', '.join(sorted(topology.hosts))}; docs/grade.md)")
    commands: list[Command] = []
    place: tuple[str, str | None] | None = None
    pending, first = "", 0
    for number, raw in enumerate(lines, 1):
        if pending:
            line = pending + raw
        else:
            line, first = raw, number
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        stripped = line.strip()
        marker = MARKER.match(stripped)
        if marker:
            place = _place(marker.group(1), file, number, topology)
        elif not stripped or stripped.startswith("#"):
            continue
        elif place is None:
            raise InputError(f"{file}:{number}: a command before any `# host: NAME` line: say which host runs it "
                             f"(hosts: {', '.join(sorted(topology.hosts))})")
        else:
            commands.append(Command(place[0], place[1], stripped, first))
    if pending:
        raise InputError(f"{file}:{first}: the last line ends in `\\`: a command goes on past the end of the file")
    return commands


def _place(text: str, file: str, line: int, topology: Topology) -> tuple[str, str | None]:
    found = PLACE.fullmatch(text)
    if not found:
        raise InputError(f"{file}:{line}: write the host marker as `# host: NAME` or `# host: NAME netns NS`")
    host, netns = found.group(1), found.group(2)
    _check_host(host, file, line, topology)
    if netns is not None and not valid_name(netns):
        raise InputError(f"{file}:{line}: {one_line(netns)!r} is not a namespace name: letters, digits, '_', '.' "
                         f"or '-'")
    return host, netns


def _check_host(host: str, file: str, line: int, topology: Topology) -> None:
    if host not in topology.hosts:
        known = sorted(topology.hosts)
        raise InputError(f"{file}:{line}: unknown host {one_line(host)!r}{did_you_mean(host, known)} "
                         f"({topology.name} has hosts {', '.join(known)})")


def _from_yaml(text: str, file: str, topology: Topology) -> list[Command]:
    data, source = parse_yaml(text, file)
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(data, dict) or set(data) != {"hosts"} or not isinstance(hosts, dict):
        raise InputError(f"{_at(source, ())}: a YAML submission holds only `hosts:`, each with `setup:` "
                         f"(a list of commands); see docs/grade.md")
    commands = []
    for host, spec in hosts.items():
        _check_host(host, file, source.line(("hosts", host)), topology)
        setup = spec.get("setup") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or set(spec) != {"setup"} or not isinstance(setup, list) or \
                not all(isinstance(command, str) for command in setup):
            raise InputError(f"{_at(source, ('hosts', host))}: hosts.{host} holds only `setup:`, a list of "
                             f"commands as text")
        commands += [Command(host, None, command.strip(), source.line(("hosts", host, "setup", n)))
                     for n, command in enumerate(setup) if command.strip()]
    return commands


def _at(source: Source, path: tuple) -> str:
    return f"{source.file}:{source.line(path)}"
