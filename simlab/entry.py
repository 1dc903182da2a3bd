"""The `simlab` command's entry point, made safe before anything heavy is imported.

From the very first moment, every stop signal (Ctrl-C, SIGTERM, SIGHUP from a closed
terminal or ssh, SIGQUIT) becomes KeyboardInterrupt, which simlab turns into cleanup and
exit 130; and standard output and error never raise (a closed pipe as in `simlab run X |
head`, a full disk), so that a failing print can never skip the removal of a lab. Output
lost to a full disk (or EIO) turns a finished command's 0 or 1 into 2: its word is gone.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

from simlab.signals import EXIT_INTERRUPTED, STOP_SIGNALS, held, hold


def main() -> None:
    """Run the command, then end the process at once with its exit code: the command has
    cleaned up after itself, and the interpreter's own teardown (joining idle threads,
    freeing every module) would only add tens of milliseconds to every command."""
    try:
        _command()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    lost = _lost_output(sys.stdout)
    if lost and code in (0, 1):  # what it printed is gone (a full disk): the run's word cannot stand
        print(f"simlab: error: cannot write to standard output: {lost}", file=sys.stderr, flush=True)
        code = 2
    os._exit(code)


def _lost_output(stream: TextIO) -> str:
    """Why writing to ``stream`` failed, or "": a closed pipe (`simlab run X | head`) is the
    reader's choice, not a loss."""
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    if not isinstance(raw, _ForgivingWriter) or not raw.broken or raw.errno == errno.EPIPE:
        return ""
    return raw.error


def _command() -> None:
    sys.stdout, sys.stderr = _forgiving(sys.stdout), _forgiving(sys.stderr)
    # A KeyboardInterrupt inside code that dataclasses, typer or pydantic compile with exec
    # turns into a RuntimeError traceback or an exit by SIGINT instead of 130: signals are
    # held until a command starts (live_signals), when there is something to clean up.
    for signum in (signal.SIGINT, *STOP_SIGNALS):
        signal.signal(signum, hold)
    if sys.argv[1:] == ["--version"]:  # asked by scripts and CI before anything else: no command to load
        from simlab import __version__

        print(f"simlab {__version__}")
        return
    try:
        from simlab.cli import run_app

        run_app()  # exits with the command's code
    except KeyboardInterrupt:
        print("simlab: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        # The command is over and its exit code decided: a stop signal from now on (the
        # interpreter's own shutdown) must not turn a finished run into an exit by signal.
        for signum in (signal.SIGINT, *STOP_SIGNALS):
            signal.signal(signum, signal.SIG_IGN)
        if held:  # stopped while the command line was parsed: nothing ran
            sys.exit(EXIT_INTERRUPTED)


class _ForgivingWriter(io.RawIOBase):
    """Writes to a file descriptor until a write fails, then drops everything, silently."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.broken = False
        self.error = ""  # why the write failed, like "No space left on device"
        self.errno = 0

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return not self.broken and os.isatty(self._fd)

    def write(self, data: Buffer) -> int:
        if not self.broken:
            try:
                return os.write(self._fd, data)
            except OSError as exc:  # EPIPE, ENOSPC, EIO: the reader or the disk is gone
                self.broken, self.error, self.errno = True, exc.strerror or str(exc), exc.errno or 0
        return memoryview(data).nbytes


def _forgiving(stream: TextIO | None) -> TextIO | None:
    if stream is None:  # no standard stream at all (pythonw, a closed descriptor)
        return stream
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream  # not a real file (a test's capture): leave it
    return io.TextIOWrapper(io.BufferedWriter(_ForgivingWriter(fd)), encoding=stream.encoding,
                            errors=stream.errors, line_buffering=True)
