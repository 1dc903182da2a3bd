"""Read a YAML file into plain Python data, remembering where every key and value was written.

Errors in a scenario name the file, the line and the column (``file:line:col:``, as
compilers print them and editors and CI annotators parse them), so loading keeps a
``Source`` beside the data: ``source.position(("hosts", "a", "image"))`` is the line
and column where that value was written (``key=True``: where its key was). Duplicate
keys, which PyYAML would silently collapse, are errors here.

Scenario files come from anywhere (a CI job runs what a pull request
brings), so reading is bounded: only regular files up to MAX_FILE_BYTES,
nesting up to MAX_DEPTH, aliases expanding to at most MAX_ALIAS_NODES nodes,
plain YAML types only (strings, numbers, booleans, null, lists, mappings), read by
YAML 1.2's core schema: `yes`, `no`, `on` and `off` are text, `1:30` is not 90.
Anything else is refused with ``file:line:col: what was refused``.
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
    """Where each part of a loaded document was written.

    A path's place is its value's start when the value begins on the line of its key
    (``image: 42`` points at ``42``), else its key (``a:`` over a block mapping points at
    ``a``, so that the line stays the key's); a list item's place is the item's start."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    # Keys as the file wrote them, for data translated from another format (a containerlab
    # topology): ("hosts", "a", "setup") -> ("topology", "nodes", "a", "exec").
    keys: dict[Path_, Path_] = field(default_factory=dict)
    columns: dict[Path_, int] = field(default_factory=dict)  # 1-based, on the line of ``lines``
    key_columns: dict[Path_, int] = field(default_factory=dict)  # where a mapping's key starts

    def key(self, path: Path_) -> Path_:
        """``path`` as the file wrote it (itself, unless translated)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.keys:
                return self.keys[path[:end]] + path[end:]
        return path

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        return self.position(path)[0]

    def position(self, path: Path_, key: bool = False) -> tuple[int, int | None]:
        """Line and column (None if unknown) of ``path``, or of its nearest parent that has
        one (a missing key is shown where its mapping is); ``key``: of the key itself."""
        found = self.nearest(path)
        columns = self.key_columns if key and found == path and path in self.key_columns else self.columns
        return self.lines.get(found, 1), columns.get(found)

    def nearest(self, path: Path_) -> Path_:
        """``path`` or its nearest parent that has a place."""
        while path and path not in self.lines:
            path = path[:-1]
        return path

    def take(self, path: Path_, other: Source, written: Path_) -> None:
        """Give ``path`` the place of ``written`` in ``other`` (data translated from another file)."""
        found = other.nearest(written)
        self.lines[path] = other.lines.get(found, 1)
        if found in other.columns:
            self.columns[path] = other.columns[found]
        if found == written and found in other.key_columns:
            self.key_columns[path] = other.key_columns[found]


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
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8")) + 1
        raise InputError(f"{path}:{line}:{column}: not UTF-8 text (byte {data[exc.start]:#04x})") from None


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
    """Something the loader does not accept, where the file wrote it."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.where = f"{mark.line + 1}:{mark.column + 1}"


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
                raise _Refused(self.peek_event().start_mark, f"nesting deeper than {MAX_DEPTH} levels")
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
        raise InputError(f"{name}:{exc.where}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        where, problem = _syntax_error(exc, text)
        raise InputError(f"{name}:{where}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        where = _reader_where(exc, text)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise InputError(f"{name}:{where}: YAML syntax error: character U+{char:04X} is not allowed "
                         f"({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{name}:1: YAML syntax error: {' '.join(str(exc).split())}") from None


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, str]:
    """``line:col`` and the problem of a syntax error; a tab in the indentation is named, at the tab."""
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return "1", exc.problem or str(exc)
    lines = text.splitlines()
    bad = lines[mark.line] if mark.line < len(lines) else ""
    indent = bad[:len(bad) - len(bad.lstrip())]
    if "\t" in indent or bad[mark.column:mark.column + 1] == "\t":
        tab = indent.index("\t") if "\t" in indent else mark.column
        return (f"{mark.line + 1}:{tab + 1}",
                "a tab in the indentation: YAML indents with spaces only (replace the tab by spaces)")
    return f"{mark.line + 1}:{mark.column + 1}", exc.problem or str(exc)


def _reader_where(exc: yaml.reader.ReaderError, text: str) -> str:
    """``line:col`` of a character the reader refused (libyaml counts the bytes of the UTF-8 text)."""
    if not isinstance(exc.position, int):
        return "1"
    before = text[:exc.position] if exc.encoding == "unicode" else \
        text.encode("utf-8")[:exc.position].decode("utf-8", errors="replace")
    line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
    return f"{line}:{column}"


class _Converter:
    """Nodes to plain data, counting what aliases expand to and refusing any other type."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.seen: set[int] = set()  # nodes already converted once: meeting one again is an alias
        self.active: set[int] = set()  # nodes being converted: meeting one again is a recursive alias
        self.expanded = 0

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        mark = node.start_mark
        if path not in self.source.lines:  # a mapping's entries were placed by _mapping
            self.source.lines[path], self.source.columns[path] = mark.line + 1, mark.column + 1
        if len(path) > MAX_DEPTH:  # aliases inside aliases nest deeper than the text does
            raise _Refused(mark, f"nesting deeper than {MAX_DEPTH} levels")
        if id(node) in self.active:
            raise _Refused(mark, "a recursive alias (an anchor used inside itself)")
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise _Refused(mark, f"aliases expand to more than {MAX_ALIAS_NODES} nodes")
        self.seen.add(id(node))
        _check_tag(node)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
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
            mark = key_node.start_mark
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style:
                raise _Refused(mark, "merge keys (<<) are not accepted: write the keys out")
            key = None
            if isinstance(key_node, yaml.ScalarNode):
                _check_tag(key_node)
                key = _scalar(key_node)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise _Refused(mark, "keys must be plain names, not lists or mappings")
            key = str(key)
            if key in result:
                raise _Refused(mark, f"duplicate key {key!r}")
            self._place(path + (key,), key_node, value_node)
            result[key] = self.convert(value_node, path + (key,))
        return result

    def _place(self, path: Path_, key_node: yaml.Node, value_node: yaml.Node) -> None:
        """A key's place: its value's start when the value begins on the key's line (an empty
        value has no start of its own), else the key's, so that the line is the key's."""
        key, value = key_node.start_mark, value_node.start_mark
        at = value if value.line == key.line and value_node.end_mark.index > value.index else key
        self.source.lines[path], self.source.columns[path] = key.line + 1, at.column + 1
        self.source.key_columns[path] = key.column + 1


def _check_tag(node: yaml.Node) -> None:
    if node.tag not in _tags_for(node):
        raise _Refused(node.start_mark, f"the tag {node.tag.replace(CORE, '!!')!r} is not accepted: "
                                        f"only strings, numbers, true/false, null, lists and mappings")


def _tags_for(node: yaml.Node) -> set[str]:
    if isinstance(node, yaml.SequenceNode):
        return {CORE + "seq"}
    if isinstance(node, yaml.MappingNode):
        return {CORE + "map"}
    return PLAIN_TAGS - {CORE + "seq", CORE + "map"}


def _scalar(node: yaml.ScalarNode) -> Any:
    kind, value = node.tag.removeprefix(CORE), node.value
    if kind == "str":
        return value
    if kind == "int" and len(value.replace("_", "")) > MAX_INT_DIGITS:
        raise _Refused(node.start_mark, f"an integer of more than {MAX_INT_DIGITS} digits")
    try:
        return _core_value(kind, value)
    except ValueError:
        raise _Refused(node.start_mark, f"{value[:40]!r} is not a valid !!{kind}") from None


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
