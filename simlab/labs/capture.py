"""`simlab capture`: the packets crossing interfaces of a live lab, as one pcap stream.

Each interface gets a tcpdump of its own inside its host (``ip netns exec`` for a
namespace), writing pcap to the exec's output; simlab reads every stream in a
thread of its own and writes the packets out in the order they arrive: the
stream unchanged for one interface, pcapng with one named interface for several.
A filter goes to tcpdump as one argument after ``--``, never through a shell.

Nothing is left running. tcpdump runs under a small shell that kills it when
the exec's input closes: simlab closes it when the capture ends, and the engine
closes it when simlab dies, however it dies. At the end simlab also waits (a
few seconds at most) until every tcpdump it started is gone.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from simlab.engines.client import Engine
from simlab.engines.interface import Session
from simlab.errors import EngineError, InputError, SimlabError
from simlab.events import Emit, Event, ignore
from simlab.labs.lab import SHELL_ENV, Lab, deferred_interrupts, list_labs, open_lab, run_parallel
from simlab.labs.pcap import NotPcap, PcapngWriter, PcapReader, PcapWriter, Record, StreamHeader
from simlab.model.names import did_you_mean

START_TIMEOUT = 15.0  # seconds for every tcpdump to say it listens
STOP_TIMEOUT = 10.0  # seconds for the check that every tcpdump is gone
POLL = 0.2  # seconds between looks at the clock and at the reader of the output
FORMAT = "HOST[/NETNS]:IFACE"

# "$@" is tcpdump's argv. It runs in the background with its input closed; a watcher reads
# the exec's input (fd 3) and, at its end, stops tcpdump with SIGINT; the shell ends with
# tcpdump, once it has reaped the watcher (the container's pid 1, `sleep`, reaps no orphan).
# tcpdump's pid goes to standard error ("@@pid N"), for the check at the end.
WATCHED = """exec 3<&0
"$@" </dev/null 3<&- & t=$!
echo "@@pid $t" >&2
{ read -r _ <&3; kill -INT "$t"; } 2>/dev/null &
w=$!
wait "$t"; code=$?; kill "$w" 2>/dev/null; wait "$w"; exit "$code"
"""
# $1: the pid of a tcpdump. Wait until it has ended; KILL it if it has not after 2 seconds.
GONE = """i=0
while read -r c </proc/"$1"/comm && [ "$c" = tcpdump ]; do
  [ $i -lt 100 ] || { kill -KILL "$1"; exit 0; }
  i=$((i+1)); sleep 0.02
done 2>/dev/null
exit 0
"""
# One section per namespace ("@@ns NAME", the host's own first, unnamed), its links as `ip -br` lists them.
LINKS = """echo "@@ns "; ip -br link
ip netns list | while read -r ns _; do echo "@@ns $ns"; ip -n "$ns" -br link; done
"""


@dataclass(frozen=True)
class Tap:
    """An interface to capture on: of a host, or of a namespace in it."""

    host: str
    iface: str
    netns: str = ""

    def __str__(self) -> str:
        return f"{self.host}{'/' + self.netns if self.netns else ''}:{self.iface}"


@dataclass(frozen=True)
class Limits:
    """When a capture ends by itself: after ``count`` packets, after ``seconds``."""

    count: int | None = None
    seconds: float | None = None


def parse_tap(text: str) -> Tap:
    """``HOST[/NETNS]:IFACE``; InputError with the form and an example otherwise."""
    where, _, iface = text.partition(":")
    host, _, netns = where.partition("/")
    if not host or not iface or ":" in iface or "/" in iface or "/" in netns or (where.endswith("/") and not netns):
        raise InputError(f"{text!r} is not {FORMAT} (for example outside:eth0 or container-a/red:veth-red)")
    return Tap(host, iface, netns)


def find_lab(engine: Engine, name: str) -> Lab:
    """The running lab ``name``; InputError naming the likely one when there is none."""
    try:
        return open_lab(engine, name)
    except InputError:
        hint = did_you_mean(name, [lab.name for lab in list_labs(engine)])
        raise InputError(f"no lab named {name!r} is up{hint} (`simlab ls` lists the labs)") from None


def check_taps(lab: Lab, taps: list[Tap]) -> None:
    """InputError, with the likely name, for the first tap whose host, namespace or interface
    the live lab does not have."""
    for tap in taps:
        if tap.host not in lab.containers:
            raise InputError(f"lab {lab.name} has no host {tap.host!r}"
                             f"{did_you_mean(tap.host, lab.containers) or _among('hosts', lab.containers)}")
    hosts = sorted({tap.host for tap in taps})
    found = dict(zip(hosts, run_parallel(lambda host: _links(lab, host), hosts)))
    for tap in taps:
        namespaces = found[tap.host]
        if tap.netns not in namespaces:
            named = [name for name in namespaces if name]
            raise InputError(f"host {tap.host} of lab {lab.name} has no network namespace {tap.netns!r}"
                             f"{did_you_mean(tap.netns, named) or _among('namespaces', named)}")
        links = namespaces[tap.netns]
        if tap.iface not in links:
            where = f"{tap.host}/{tap.netns}" if tap.netns else tap.host
            raise InputError(f"{where} in lab {lab.name} has no interface {tap.iface!r}"
                             f"{did_you_mean(tap.iface, links) or _among('interfaces', links)}")


def _among(what: str, names) -> str:
    return f" ({what}: {', '.join(sorted(names))})" if names else f" (it has no {what})"


def _links(lab: Lab, host: str) -> dict[str, list[str]]:
    """The interfaces of ``host``, by namespace ("" its own)."""
    result = lab.engine.exec(lab.containers[host], ["sh", "-c", LINKS], timeout=30, env=SHELL_ENV)
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in result.output.splitlines():
        if line.startswith("@@ns "):
            current = found.setdefault(line[5:].strip(), [])
        elif line.strip():
            current.append(line.split()[0].split("@")[0])
    if "" not in found:
        raise EngineError(f"could not list the interfaces of {host} in lab {lab.name}: {result.output.strip()[:200]}")
    return found


@contextmanager
def destination(path: str) -> Iterator[BinaryIO]:
    """Where the packets go: a file (made now, so that a bad path is said before any capture)
    or standard output for "-", refused on a terminal (pcap is binary)."""
    if path != "-":
        try:
            out = open(path, "wb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
    elif os.isatty(1):
        raise InputError("standard output is a terminal, and a capture is binary pcap: pipe it "
                         "(`-w - | wireshark -k -i -`, `-w - | tshark -r -`) or name a file (-w out.pcap)")
    else:
        out = open(1, "wb", closefd=False)  # noqa: SIM115 (not sys.stdout: a closed reader must raise here)
    try:
        yield out
    finally:
        try:
            out.close()
        except BrokenPipeError:  # what was left for a reader that had gone
            pass


@dataclass
class _Stream:
    """One tap's tcpdump and the thread that reads its output."""

    index: int
    tap: Tap
    session: Session | None = None
    pid: str = ""
    said: list[str] = field(default_factory=list)  # what tcpdump printed on standard error


def capture(lab: Lab, taps: list[Tap], out: BinaryIO, limits: Limits = Limits(), bpf: str | None = None,
            emit: Emit = ignore) -> int:
    """Capture on ``taps`` until ``limits`` or until the reader of ``out`` goes away; return how
    many packets were written. Ctrl-C stops it too (KeyboardInterrupt, once all is cleaned up)."""
    copy = _Copy([_Stream(i, tap) for i, tap in enumerate(taps)], out, limits, emit)
    failed = False
    try:
        for stream in copy.streams:
            _start(lab, stream, bpf, copy.found)
        copy.run()
    except BrokenPipeError:
        pass  # the reader closed the pipe (`| head -c`, Wireshark quit): the capture is over
    except OSError as exc:  # a full disk
        failed = True
        raise SimlabError(f"cannot write the capture: {exc.strerror or exc}") from None
    except SimlabError:
        failed = True
        raise
    finally:
        with deferred_interrupts():
            _stop(lab, copy.streams)
        if not failed:  # also on Ctrl-C: what was captured is in the file
            emit(Event("capture.done", f"{copy.written} packet{'s' if copy.written != 1 else ''} captured", lab.name))
    return copy.written


def _start(lab: Lab, stream: _Stream, bpf: str | None, found: queue.Queue) -> None:
    tap = stream.tap
    tcpdump = ["tcpdump", "-i", tap.iface, "-U", "--immediate-mode", "-w", "-", "--", *([bpf] if bpf else [])]
    argv = ["sh", "-c", WATCHED, "sh", *(["ip", "netns", "exec", tap.netns] if tap.netns else []), *tcpdump]
    stream.session = lab.engine.open_session(lab.containers[tap.host], argv, SHELL_ENV)
    threading.Thread(target=_read, args=(stream, found), daemon=True, name=f"capture {tap}").start()


def _read(stream: _Stream, found: queue.Queue) -> None:
    """Put what one tcpdump writes on ``found``: ("listening"|"header"|"record"|"ended", index, item).
    A quiet interface is no fault, so there is no idle limit: the stream is read a second at a
    time, and ends with tcpdump or when the capture closes it."""
    reader, error = PcapReader(), ""
    try:
        assert stream.session is not None  # _start opened it before this thread began
        for out, err in stream.session.output(None):
            if err:
                _said(stream, err.decode(errors="replace"), found)
            if out:
                for item in reader.feed(out):
                    found.put(("header" if isinstance(item, StreamHeader) else "record", stream.index, item))
    except (SimlabError, NotPcap) as exc:
        error = f"its output is not a pcap stream ({exc})" if isinstance(exc, NotPcap) else str(exc)
    found.put(("ended", stream.index, error or " ".join(stream.said).strip() or "tcpdump ended"))


def _said(stream: _Stream, text: str, found: queue.Queue) -> None:
    for line in text.splitlines():
        if line.startswith("@@pid "):
            stream.pid = line[6:].strip()
        elif "listening on" in line:
            found.put(("listening", stream.index, None))
        elif line.strip():
            stream.said.append(line.strip().removeprefix("tcpdump: "))


class _Copy:
    """The packets of every stream, written out as they come."""

    def __init__(self, streams: list[_Stream], out: BinaryIO, limits: Limits, emit: Emit) -> None:
        self.streams, self.out, self.limits, self.emit = streams, out, limits, emit
        self.found: queue.Queue = queue.Queue()  # what the streams' threads read
        self.writer = PcapWriter(out) if len(streams) == 1 else PcapngWriter(out)
        self.written = 0
        self.listening: set[int] = set()

    def run(self) -> None:
        """Until a limit is reached or the reader of ``out`` is gone; EngineError when a tcpdump
        does not start in time or ends by itself."""
        self.writer.start()
        start_by, end_at = time.monotonic() + START_TIMEOUT, None
        while self.limits.count is None or self.written < self.limits.count:
            now = time.monotonic()
            if end_at is not None and now >= end_at:
                return
            if end_at is None and now >= start_by:
                late = ", ".join(str(s.tap) for s in self.streams if s.index not in self.listening)
                raise EngineError(f"tcpdump did not start listening within {START_TIMEOUT:g} s on {late}")
            try:
                kind, index, item = self.found.get(timeout=max(min(POLL, (end_at or start_by) - now), 0.001))
            except queue.Empty:
                if _reader_gone(self.out):
                    return
                continue
            if self._take(kind, index, item) and end_at is None:
                end_at = now + self.limits.seconds if self.limits.seconds is not None else float("inf")

    def _take(self, kind: str, index: int, item: object) -> bool:
        """Write a header or a packet; True once every stream listens."""
        if kind == "record" and isinstance(item, Record):
            self.writer.packet(index, item)
            self.written += 1
        elif kind == "header" and isinstance(item, StreamHeader):
            self.writer.interface(index, str(self.streams[index].tap), item)
        elif kind == "ended":
            raise _ended(self.streams[index], str(item), index in self.listening)
        elif kind == "listening":
            self.listening.add(index)
            if len(self.listening) == len(self.streams):
                self.emit(Event("capture.listening", _listening_message(self.streams, self.limits)))
        self.out.flush()
        return len(self.listening) == len(self.streams)


def _listening_message(streams: list[_Stream], limits: Limits) -> str:
    until = [f"{limits.count} packets" if limits.count else "", f"{limits.seconds:g} s" if limits.seconds else ""]
    stop = " or ".join(part for part in until if part)
    return (f"capturing on {', '.join(str(s.tap) for s in streams)} "
            f"({'until ' + stop + ', ' if stop else ''}Ctrl-C to stop)")


def _ended(stream: _Stream, said: str, started: bool) -> SimlabError:
    """The error of a tcpdump that ended by itself: a filter it could not read is the user's."""
    if not started and ("filter" in said or "syntax error" in said):
        return InputError(f"tcpdump refused the filter at {stream.tap}: {said}")
    when = "stopped" if started else "did not start"
    return EngineError(f"the capture at {stream.tap} {when}: {said}")


def _reader_gone(out: BinaryIO) -> bool:
    """Whether ``out`` is a pipe whose reader has closed it (no write is needed to tell)."""
    try:
        poller = select.poll()
        poller.register(out.fileno(), 0)  # POLLERR and POLLHUP are always reported
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _stop(lab: Lab, streams: list[_Stream]) -> None:
    """Close every exec (its watcher stops its tcpdump), then make sure each tcpdump is gone."""
    for stream in streams:
        if stream.session is not None:
            stream.session.close()
    started = [s for s in streams if s.pid.isdigit()]
    run_parallel(lambda s: lab.engine.exec(lab.containers[s.tap.host], ["sh", "-c", GONE, "sh", s.pid],
                                           timeout=STOP_TIMEOUT), started)
