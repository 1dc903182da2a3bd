"""Collect every problem in a file before reporting, so one run shows them all."""

from __future__ import annotations

from simlab.errors import InputError
from simlab.model.yamlsource import Path_, Source


class Problems:
    """Problems found in one source file, each as ``file:line: key: message``."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.messages: list[str] = []

    def add(self, path: Path_, message: str) -> None:
        """Record ``message`` at the line of ``path``, naming the key, like steps[2].expect."""
        where = f"{key_name(path)}: " if path else ""
        # Data built in code has no lines: name the key alone.
        at = f"{self.source.file}:{self.source.line(path)}" if self.source.lines else self.source.file
        self.messages.append(f"{at}: {one_line(where + message)}")

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
