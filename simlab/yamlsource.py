"""Read a YAML file into plain Python data, remembering the line of every key.

Errors in a scenario must name the file and the line, so loading keeps a
``Source`` beside the data: ``source.line(("hosts", "a", "interfaces"))`` is
the line where that key was written. Duplicate keys, which PyYAML would
silently collapse, are errors here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simlab.errors import InputError

Path_ = tuple[str | int, ...]


@dataclass
class Source:
    """Where each part of a loaded document was written."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load_yaml(path: str | Path) -> tuple[Any, Source]:
    """Parse ``path``; return its data and a ``Source`` of line numbers."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, name: str) -> tuple[Any, Source]:
    source = Source(name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        raise InputError(f"{name}:{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{name}: YAML syntax error: {exc}") from None
    if node is None:
        raise InputError(f"{name}:1: the file is empty")
    return _convert(node, (), source), source


def _convert(node: yaml.Node, path: Path_, source: Source) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise InputError(f"{source.file}:{line}: keys must be plain names, not lists or mappings")
            key = str(key)
            if key in result:
                raise InputError(f"{source.file}:{line}: duplicate key {key!r}")
            source.lines[path + (key,)] = line
            result[key] = _convert(value_node, path + (key,), source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), source) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
