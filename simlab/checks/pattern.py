"""Regular expressions from scenario files (``match:``), with RE2: matching takes time linear
in the text, so no pattern can hang the judge (Python's ``re`` backtracks: ``^(a+)+$`` on
forty ``a`` and a ``!`` runs for hours), and parsing needs no recursion.

RE2 takes Python's syntax except backreferences and lookaround; a pattern it cannot take,
one longer than MAX_LENGTH, or one nesting groups deeper than MAX_DEPTH is refused with a
one-line reason, before any lab starts.
"""

from __future__ import annotations

import functools

import re2

MAX_LENGTH = 4096  # characters: a step's pattern, not a program
MAX_DEPTH = 100  # nested groups: deeper is no pattern a person writes


class PatternError(ValueError):
    """A pattern that cannot be used; the message is one line."""


def check_pattern(pattern: str) -> None:
    """PatternError, saying why, when ``pattern`` cannot be used."""
    _compiled(pattern)


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``, with ^ and $ matching at every line
    (as ``re.MULTILINE``), in time linear in the text's length."""
    return _compiled(pattern).search(text.encode("utf-8", "surrogateescape")) is not None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re2._Regexp:
    if len(pattern) > MAX_LENGTH:
        raise PatternError(f"the pattern is {len(pattern)} characters long; at most {MAX_LENGTH}")
    if (depth := nesting(pattern)) > MAX_DEPTH:
        raise PatternError(f"the pattern nests groups {depth} deep; at most {MAX_DEPTH}")
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refusal to standard error
    try:
        return re2.compile(f"(?m){pattern}".encode("utf-8", "surrogateescape"), options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        if "perl operator" in reason or "escape sequence" in reason:
            reason += " (RE2 takes no backreferences or lookaround)"
        raise PatternError(reason) from None


def nesting(pattern: str) -> int:
    """How deep the pattern's groups nest (escaped parentheses and those in a class do not count)."""
    depth = deepest = 0
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    return deepest
