"""Text on a picture: how much room a label takes (Helvetica/Arial widths, no font needed)
and where a group of labels goes so that it overlaps no label placed before it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Advance widths of Helvetica (and Arial, Liberation Sans) in em; the rest of the lower case is 0.556.
_NARROW = dict.fromkeys(".,:;/|!'il ", 0.278) | dict.fromkeys("jI", 0.278) | {"t": 0.278, "f": 0.278,
                                                                            "r": 0.333, "-": 0.333, "(": 0.333,
                                                                            ")": 0.333, "[": 0.278, "]": 0.278}
_WIDE = {"m": 0.833, "w": 0.722, "M": 0.833, "W": 0.944, "@": 1.015, "%": 0.889}
SAFETY = 1.08  # other sans-serif fonts run a little wider
BOLD = 1.1


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Pixels that ``text`` takes at font ``size``: a little more than Helvetica takes, never less."""
    em = sum(_NARROW.get(c) or _WIDE.get(c) or (0.667 if c.isupper() else 0.556) for c in text)
    return em * size * SAFETY * (BOLD if bold else 1.0)


@dataclass
class Label:
    """One line of text; ``y`` is its baseline, ``anchor`` as in SVG (start, middle, end)."""

    x: float
    y: float
    text: str
    size: int
    anchor: str = "start"
    bold: bool = False
    color: str = "#212529"
    halo: bool = False

    def bounds(self) -> tuple[float, float, float, float]:
        """left, top, right, bottom of the ink (ascent 0.8 em, descent 0.25 em)."""
        width = text_width(self.text, self.size, self.bold)
        left = {"start": self.x, "middle": self.x - width / 2, "end": self.x - width}[self.anchor]
        return left, self.y - 0.8 * self.size, left + width, self.y + 0.25 * self.size


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


NUDGES = [(0, 0), (0, 13), (0, -13), (0, 26), (0, -26), (0, 39), (0, -39), (0, 52), (0, -52)]


class Placer:
    """Labels placed one group at a time (an interface's name and its addresses move together):
    each group goes where it was asked if that is free, else to the nearest free spot up or down."""

    def __init__(self, fixed: Iterable[Label] = ()) -> None:
        self.placed: list[Label] = list(fixed)

    def place(self, group: list[Label]) -> list[Label]:
        taken = [label.bounds() for label in self.placed]
        for dx, dy in NUDGES:
            moved = [Label(lb.x + dx, lb.y + dy, lb.text, lb.size, lb.anchor, lb.bold, lb.color, lb.halo)
                     for lb in group]
            if not any(overlaps(m.bounds(), t) for m in moved for t in taken):
                self.placed += moved
                return moved
        self.placed += group  # nowhere free nearby: where it was asked
        return group
