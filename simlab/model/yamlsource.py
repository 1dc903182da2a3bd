"""Read a YAML file into plain Python data, remembering the line of every key.

Errors in a scenario must name the file and the line, so loading keeps a
``Source`` beside the data: ``source.line(("hosts", "a", "interfaces"))`` is
the line where that key was written. Duplicate keys, which PyYAML would
silently collapse, are errors here.

Scenario files come from anywhere (a CI job runs what a pull request
brings), so reading is bounded: only regular files up to MAX_FILE_BYTES,
nesting up to MAX_DEPTH, aliases expanding to at most MAX_ALIAS_NODES nodes,
plain YAML types only (strings, numbers, booleans, null, lists, mappings), read by
YAML 1.2's core schema: `yes`, `no`, `on` and `off` are text, `1:30` is not 90.
Anything else is refused with ``file:line: what was refused``.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.resolver import BaseResolver

from simlab.errors import InputError

Path_ = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64  # a scenario nests about 6 deep; far below Python's recursion limit
MAX_ALIAS_NODES = 10_000  # nodes produced by expanding aliases (stops "billion laughs")
MAX_INT_DIGITS = 30

CORE = "tag:yaml.org,2002:"
PLAIN_TAGS = {CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}


@dataclass
class Source:
    """Where each part of a loaded document was written."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    # Keys as the file wrote them, for data translated from another format (a containerlab
    # topology): ("hosts", "a", "setup") -> ("topology", "nodes", "a", "exec").
    keys: dict[Path_, Path_] = field(default_factory=dict)

    def key(self, path: Path_) -> Path_:
        """``path`` as the file wrote it (itself, unless translated)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.keys:
                return self.keys[path[:end]] + path[end:]
        return path

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load_yaml(path: str | Path) -> tuple[Any, Source]:
    """Parse ``path``; return its data and a ``Source`` of line numbers."""
    return parse_yaml(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """The text of a regular file of at most MAX_FILE_BYTES; never blocks on a FIFO or a device."""
    try:
        info = os.stat(path)
        _check_regular(path, info)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        _check_regular(path, os.fstat(fd))  # it may have been swapped since the stat
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}:1: the file is over {MAX_FILE_BYTES // 1024} KiB, the limit for a scenario file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x})") from None


def _check_regular(path: str | Path, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}:1: the file is {info.st_size} bytes, over the {MAX_FILE_BYTES // 1024} KiB "
                             f"limit for a scenario file")
        return
    kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
    raise InputError(f"{path}:1: this is {kind}; a scenario must be a regular file")


class _Refused(Exception):
    """Something the loader does not accept, at a line of the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _PlainResolver(BaseResolver):
    """YAML 1.2's core schema: true/false only (yes, no, on, off and y stay text), decimal,
    0o and 0x integers (no sexagesimal 1:30, no octal 010), floats with .inf and .nan, null."""


CORE_SCHEMA = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
              r"|\.(?:nan|NaN|NAN))$", "-+0123456789."),
]
for _kind, _pattern, _first in CORE_SCHEMA:
    _PlainResolver.add_implicit_resolver(CORE + _kind, re.compile(_pattern), list(_first))


def _loader_class() -> type:
    try:
        from yaml._yaml import CParser  # libyaml's parser: about ten times faster than PyYAML's
    except ImportError:
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        class _Events(Reader, Scanner, Parser):
            def __init__(self, stream: str) -> None:
                Reader.__init__(self, stream)
                Scanner.__init__(self)
                Parser.__init__(self)
        parser: Any = _Events  # either parser class: both take the text and give events
    else:
        parser = CParser

    class Loader(Composer, parser, _PlainResolver):
        """libyaml's events, composed here so that nesting is counted before it gets deep."""

        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            Composer.__init__(self)
            _PlainResolver.__init__(self)
            self.depth = 0

        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document

        def compose_node(self, parent: Any, index: Any) -> yaml.Node | None:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark.line + 1, f"nesting deeper than {MAX_DEPTH} levels")
            try:
                return Composer.compose_node(self, parent, index)
            finally:
                self.depth -= 1

    return Loader


_Loader = _loader_class()


def parse_yaml(text: str, name: str) -> tuple[Any, Source]:
    source = Source(name)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            raise InputError(f"{name}:1: the file is empty")
        return _Converter(source).convert(node, ()), source
    except _Refused as exc:
        raise InputError(f"{name}:{exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        lines = text.splitlines()
        bad = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "\t" in bad[:len(bad) - len(bad.lstrip())] or (mark and bad[mark.column:mark.column + 1] == "\t"):
            problem = "a tab in the indentation: YAML indents with spaces only (replace the tab by spaces)"
        raise InputError(f"{name}:{line}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise InputError(f"{name}:{line}: YAML syntax error: character U+{char:04X} is not allowed "
                         f"({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{name}:1: YAML syntax error: {' '.join(str(exc).split())}") from None


class _Converter:
    """Nodes to plain data, counting what aliases expand to and refusing any other type."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.seen: set[int] = set()  # nodes already converted once: meeting one again is an alias
        self.active: set[int] = set()  # nodes being converted: meeting one again is a recursive alias
        self.expanded = 0

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        self.source.lines.setdefault(path, line)
        if len(path) > MAX_DEPTH:  # aliases inside aliases nest deeper than the text does
            raise _Refused(line, f"nesting deeper than {MAX_DEPTH} levels")
        if id(node) in self.active:
            raise _Refused(line, "a recursive alias (an anchor used inside itself)")
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise _Refused(line, f"aliases expand to more than {MAX_ALIAS_NODES} nodes")
        self.seen.add(id(node))
        _check_tag(node, line)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, line)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)  # YAML has no fourth kind of node
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style:
                raise _Refused(line, "merge keys (<<) are not accepted: write the keys out")
            key = None
            if isinstance(key_node, yaml.ScalarNode):
                _check_tag(key_node, line)
                key = _scalar(key_node, line)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise _Refused(line, "keys must be plain names, not lists or mappings")
            key = str(key)
            if key in result:
                raise _Refused(line, f"duplicate key {key!r}")
            self.source.lines[path + (key,)] = line
            result[key] = self.convert(value_node, path + (key,))
        return result


def _check_tag(node: yaml.Node, line: int) -> None:
    if node.tag not in _tags_for(node):
        raise _Refused(line, f"the tag {node.tag.replace(CORE, '!!')!r} is not accepted: "
                             f"only strings, numbers, true/false, null, lists and mappings")


def _tags_for(node: yaml.Node) -> set[str]:
    if isinstance(node, yaml.SequenceNode):
        return {CORE + "seq"}
    if isinstance(node, yaml.MappingNode):
        return {CORE + "map"}
    return PLAIN_TAGS - {CORE + "seq", CORE + "map"}


def _scalar(node: yaml.ScalarNode, line: int) -> Any:
    kind, value = node.tag.removeprefix(CORE), node.value
    if kind == "str":
        return value
    if kind == "int" and len(value.replace("_", "")) > MAX_INT_DIGITS:
        raise _Refused(line, f"an integer of more than {MAX_INT_DIGITS} digits")
    try:
        return _core_value(kind, value)
    except ValueError:
        raise _Refused(line, f"{value[:40]!r} is not a valid !!{kind}") from None


def _core_value(kind: str, value: str) -> Any:
    """A scalar's value by YAML 1.2's core schema (an explicit tag like !!int 010 included)."""
    if kind == "null":
        if value not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(value)
        return None
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            raise ValueError(value)
        return value.lower() == "true"
    if kind == "int":
        base, digits = {"0o": (8, value[2:]), "0x": (16, value[2:])}.get(value[:2], (10, value))
        return int(digits, base)
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    return special[value.lower()] if value.lower() in special else float(value)
