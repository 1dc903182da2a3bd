"""Collect every problem in a file before reporting, so one run shows them all."""

from __future__ import annotations

from simlab.errors import InputError
from simlab.model.yamlsource import Path_, Source


class Problems:
    """Problems found in one source file, each as ``file:line:col: key: message`` (GCC's form,
    which editors and CI annotators parse); the column is 1-based."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.messages: list[str] = []
        self.warnings: list[str] = []  # what is allowed but likely wrong, or marked deliberate

    def add(self, path: Path_, message: str, at_key: bool = False) -> None:
        """Record ``message`` where ``path``'s value was written (``at_key``: its key, for a key
        that is itself wrong), naming the key, like steps[2].expect."""
        self.messages.append(self._located(path, message, at_key))

    def warn(self, path: Path_, message: str, at_key: bool = False) -> None:
        """Record a warning where ``path`` was written (it does not make the file bad)."""
        self.warnings.append(self._located(path, message, at_key, "warning: "))

    def at(self, path: Path_) -> str:
        """``file:line`` of ``path`` (the file alone for data built in code, which has no lines)."""
        return f"{self.source.file}:{self.source.line(path)}" if self.source.lines else self.source.file

    def _where(self, path: Path_, at_key: bool) -> str:
        """``file:line:col``, ``file:line`` if no column is known, the file alone if no line."""
        if not self.source.lines:
            return self.source.file
        line, column = self.source.position(path, at_key)
        return f"{self.source.file}:{line}" + (f":{column}" if column else "")

    def _located(self, path: Path_, message: str, at_key: bool, label: str = "") -> str:
        where = f"{key_name(self.source.key(path))}: " if path else ""
        return f"{self._where(path, at_key)}: {label}{one_line(where + message)}"

    def raise_if_any(self) -> None:
        if self.messages:
            raise InputError("\n".join(self.messages))


def key_name(path: Path_) -> str:
    """('steps', 2, 'expect') -> 'steps[2].expect'; ('hosts', 'a') -> 'hosts.a'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def one_line(text: str) -> str:
    """``text`` with newlines and other unprintable characters escaped, as repr() shows them:
    a name from the file must not break the one-line-per-problem format."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
