"""Collect every problem in a file before reporting, so one run shows them all."""

from __future__ import annotations

from simlab.errors import InputError
from simlab.yamlsource import Path_, Source


class Problems:
    """Problems found in one source file, each as ``file:line: message``."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.messages: list[str] = []

    def add(self, path: Path_, message: str) -> None:
        self.messages.append(f"{self.source.file}:{self.source.line(path)}: {message}")

    def raise_if_any(self) -> None:
        if self.messages:
            raise InputError("\n".join(self.messages))
