"""How far a lab's start or removal is, from the core's 'lab.*' events: one line that updates
itself on a terminal ("lab big: 41/41 created, 17/41 started"), and on anything else (a CI
log) a plain line as each phase ends, for labs big enough to take a while."""

from __future__ import annotations

from typing import TextIO

from simlab.events import Event, Tally
from simlab.reports.visible import visible

BIG_LAB = 10  # containers: from here on, a log gets a line per phase
PHASES = {"lab.node_created": "created", "lab.node_started": "started", "lab.node_removed": "removed"}
CLEAR = "\r\x1b[K"


class LabStatus:
    """The progress part of a TerminalProgress: ``take`` the events it knows, ``clear`` its live
    line before any other line is printed."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out, self.live = out, live
        self.counts: dict[str, Tally] = {}
        self.lab = ""
        self.wiring = ""  # "wiring" while the fabric works, "wired" once done
        self.setup = 0
        self.shown = False  # the live line is on the screen

    def take(self, event: Event) -> bool:
        """Show ``event`` if it is progress; False for any other event."""
        if event.kind in PHASES and isinstance(event.payload, Tally):
            self._count(event, PHASES[event.kind], event.payload)
        elif event.kind == "lab.removing" and isinstance(event.payload, Tally):
            self.counts, self.lab, self.wiring = {}, event.lab, ""
            if not self.live and event.payload.total >= BIG_LAB:
                self._plain(visible(event.message))
            self._draw()
        elif event.kind == "lab.wiring" and not self.live:
            return False  # its own line, as for a small lab
        elif event.kind in ("lab.wiring", "lab.wired"):
            self.wiring = "wiring" if event.kind == "lab.wiring" else "wired"
            if not self.live and self._big():
                self._plain(visible(event.message))
            self._draw()
        elif event.kind == "lab.setup_done":
            self.setup += 1
            self._draw()
        else:
            return False
        return True

    def _count(self, event: Event, phase: str, tally: Tally) -> None:
        if event.lab != self.lab:
            self.counts, self.lab, self.wiring, self.setup = {}, event.lab, "", 0
        self.counts[phase] = tally
        if tally.done == tally.total:
            if not self.live and tally.total >= BIG_LAB and phase != "removed":
                self._plain(f"{phase} {tally.total} container(s)")
            if phase == "removed":
                self.clear()
                return
        self._draw()

    def _big(self) -> bool:
        return any(t.total >= BIG_LAB for t in self.counts.values())

    def _plain(self, text: str) -> None:
        print(f"  {text}", file=self.out, flush=True)

    def _draw(self) -> None:
        if not self.live:
            return
        parts = [f"{t.done}/{t.total} {phase}" for phase, t in self.counts.items()]
        parts += [self.wiring] if self.wiring else []
        parts += [f"{self.setup} set up"] if self.setup else []
        print(f"{CLEAR}  lab {visible(self.lab)}: {', '.join(parts) or 'removing'}", end="", file=self.out,
              flush=True)
        self.shown = True

    def clear(self) -> None:
        """Take the live line off the screen (another line goes there)."""
        if self.shown:
            print(CLEAR, end="", file=self.out, flush=True)
            self.shown = False
