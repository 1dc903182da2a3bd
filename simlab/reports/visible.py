"""Text from files and from commands, made safe to print on a terminal.

A title, a note or a command's output may hold escape sequences, carriage returns or
bidirectional overrides; printed raw, they move the cursor and rewrite what is already on
the screen (a ✘ shown as ✔). Every such character is shown as an escape (``\\x1b``, ``\\r``,
``\\u202e``) instead, so what the report says is what the reader sees.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, the invisible format characters that
# reorder or hide text (bidi marks, embeddings, overrides and isolates, zero widths), the
# Unicode line and paragraph separators, and lone surrogates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                    "\ud800-\udfff]")
NAMED = {"\r": "\\r", "\x1b": "\\x1b", "\x0b": "\\v", "\x0c": "\\f", "\b": "\\b", "\a": "\\a"}


def _escape(match: re.Match) -> str:
    char = match[0]
    return NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def visible(text: str) -> str:
    """One line: every unsafe character escaped, newlines and tabs too."""
    return UNSAFE.sub(_escape, text).replace("\n", "\\n").replace("\t", "\\t")


def visible_lines(text: str) -> list[str]:
    """Lines of output (CRLF ends a line, as LF does), each with its unsafe characters escaped."""
    return [UNSAFE.sub(_escape, line) for line in text.replace("\r\n", "\n").split("\n")]


def visible_text(text: str) -> str:
    """Several lines, kept as lines, each made safe."""
    return "\n".join(visible_lines(text))
