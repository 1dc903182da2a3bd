"""Stop signals as every simlab command treats them (see entry.py): held while a command line is
parsed, then KeyboardInterrupt, which simlab turns into cleanup and exit 130."""

from __future__ import annotations

import signal

EXIT_INTERRUPTED = 130
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

held: list[int] = []  # the signals that came while held


def hold(signum: int, frame: object) -> None:
    held.append(signum)


def live_signals() -> None:
    """From now on a stop signal raises KeyboardInterrupt; one that came while held, at once."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where a shell started us ignoring it
    if held:
        held.clear()
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
