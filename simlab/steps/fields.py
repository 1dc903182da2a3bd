"""Reading a step's keys: each reader reports a bad value as one problem at its key and
returns a usable default, so one pass over a file finds every problem in it."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Protocol

from simlab.checks.outcome import REASONS
from simlab.checks.pattern import PatternError, check_pattern, search

MAX_COMMAND = 16 * 1024  # bytes in one command; commands travel as exec arguments
TARGET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:%_-]*")  # an address or a host name, nothing for a shell
Key = tuple  # a path of keys and list indexes into the file, like ("steps", 2, "expect")


class Reporter(Protocol):
    def add(self, path: Key, message: str) -> None: ...


class Fields:
    """The keys of one step (``raw``) at ``path`` in its file; problems go to ``problems``."""

    def __init__(self, raw: dict, path: Key, problems: Reporter) -> None:
        self.raw, self.path, self.problems = raw, path, problems

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def problem(self, key: str | tuple, message: str) -> None:
        self.problems.add(self.path + (key if isinstance(key, tuple) else (key,)), message)

    def command(self, command: str, key: str | tuple) -> bool:
        return check_command(command, self.path + (key if isinstance(key, tuple) else (key,)), self.problems)

    def target(self, key: str, usage: str) -> str | None:
        """The one address or host name a probe step takes (``key``: ping, route, trace)."""
        target = self.raw[key]
        if not isinstance(target, str) or not TARGET_RE.fullmatch(target.strip()):
            self.problem(key, usage)
            return None
        return target.strip()

    def expect(self, kind: str, choices: tuple[str, ...]) -> str:
        """The step's ``expect``, one of ``choices`` (the first is the default)."""
        expect = self.raw.get("expect", choices[0])
        if expect not in choices:
            self.problem("expect", f"a {kind} step expects one of {', '.join(choices)}, not {expect!r}")
            return choices[0]
        return expect

    def number(self, key: str, default: Any, bounds: tuple[float, float], message: str, whole: bool = True) -> Any:
        if key not in self.raw:
            return default
        value = self.raw[key]
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int))
                or not bounds[0] <= value <= bounds[1]):
            self.problem(key, message)
            return default
        return value

    def pattern(self, key: str) -> None:
        """Report ``key`` (a regular expression) if the matcher cannot take it."""
        if self.raw.get(key) is not None:
            try:
                check_pattern(self.raw[key])
            except PatternError as exc:
                self.problem(key, f"{key} is not a regular expression simlab can use: {exc}")

    def word(self, key: str) -> str | None:
        """One address (or interface name)."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or " " in value.strip():
            self.problem(key, f"{key} takes one address (or interface)")
            return None
        return value.strip()

    def reason(self, expect: str) -> str | None:
        """``reason``, which narrows an expected 'unreachable'."""
        reason = self.raw.get("reason")
        if reason is None:
            return None
        if expect != "unreachable":
            self.problem("reason", f"reason narrows 'unreachable'; the outcome {expect!r} has none")
            return None
        if reason not in REASONS:
            self.problem("reason", f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
            return None
        return reason


def check_command(command: str, path: Key, problems: Reporter) -> bool:
    """Whether a shell command can travel to a host: no NUL, at most MAX_COMMAND bytes."""
    if "\0" in command:
        problems.add(path, "a command cannot contain a NUL character")
        return False
    size = len(command.encode("utf-8", "surrogatepass"))
    if size > MAX_COMMAND:
        problems.add(path, f"a command of {size} bytes; at most {MAX_COMMAND} bytes per command")
        return False
    return True


def is_address(text: str) -> bool:
    """Whether ``text`` is one IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def squeeze(text: str) -> str:
    """Text with every run of whitespace (newlines too) made one space: output matching
    does not depend on how a command aligns its columns."""
    return " ".join(text.split())


def misses(text: str, output: str | None, match: str | None) -> list[str]:
    """What ``text`` lacks of a step's ``output`` (whitespace-robust) and ``match``, worded for its got."""
    found = []
    if output is not None and squeeze(output) not in squeeze(text):
        found.append(f"without {output!r}")
    if match is not None and not search(match, text):
        found.append(f"not matching {match!r}")
    return found


def transcript(runs: list) -> str:
    """What a reader sees of several commands: each as typed, then its output."""
    return "\n".join(f"$ {c.command}\n{c.output}".rstrip() for c in runs)
