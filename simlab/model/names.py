"""Names a file mistyped: the closest known one, for a "did you mean" in its error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, known: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the known name closest to ``word``, or ""."""
    found = difflib.get_close_matches(str(word), sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def unknown_key(key: str, known: Iterable[str], where: str = "") -> str:
    """The message for a key nobody knows: the likely one when there is one, else the list."""
    known = sorted(known)
    hint = did_you_mean(key, known)
    return f"unknown key {key!r}{where}" + (hint or f"; known keys: {', '.join(known)}")
