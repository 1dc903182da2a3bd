"""Packet files: the pcap stream tcpdump writes (``-w -``) read record by record, and
written back out as pcap (one interface) or pcapng (several, each named).

A pcap stream is a 24-byte header (its magic says the byte order and whether
timestamps are in micro- or nanoseconds, then the link type) and records of a
16-byte header (seconds, fraction, captured and original length) and the bytes.
pcapng (https://ietf-opsawg-wg.github.io/draft-ietf-opsawg-pcap/draft-ietf-opsawg-pcapng.html)
is written little-endian: a section header, one interface description per
interface (its name, link type and timestamp resolution) and one enhanced packet
block per packet, naming its interface.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

HEADER_SIZE, RECORD_SIZE = 24, 16
# magic as read little-endian -> (byte order, fraction digits: 6 microseconds, 9 nanoseconds)
MAGICS = {0xA1B2C3D4: ("<", 6), 0xD4C3B2A1: (">", 6), 0xA1B23C4D: ("<", 9), 0x4D3CB2A1: (">", 9)}
MAX_RECORD = 1 << 20  # bytes: larger than any snapshot length; more means the stream is not pcap
SHB, IDB, EPB = 0x0A0D0D0A, 1, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_NAME, OPT_TSRESOL, OPT_USERAPPL = 0, 2, 9, 4


class NotPcap(ValueError):
    """The stream is not what tcpdump -w writes."""


@dataclass(frozen=True)
class StreamHeader:
    raw: bytes
    order: str  # "<" or ">"
    digits: int  # 6 or 9: the timestamp fraction's unit
    snaplen: int
    linktype: int


@dataclass(frozen=True)
class Record:
    raw: bytes  # the record as the stream had it, header included
    seconds: int
    fraction: int  # in units of 10**-digits seconds
    data: bytes
    length: int  # the packet's length on the wire


class PcapReader:
    """Feed it the bytes of one pcap stream as they come; it hands back the header once and
    every whole record (a record cut between two chunks waits for the rest)."""

    def __init__(self) -> None:
        self.header: StreamHeader | None = None
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[StreamHeader | Record]:
        self._pending += data
        found: list[StreamHeader | Record] = []
        if self.header is None:
            if len(self._pending) < HEADER_SIZE:
                return found
            self.header = read_header(bytes(self._pending[:HEADER_SIZE]))
            del self._pending[:HEADER_SIZE]
            found.append(self.header)
        order = self.header.order
        while len(self._pending) >= RECORD_SIZE:
            seconds, fraction, caplen, length = struct.unpack(f"{order}IIII", self._pending[:RECORD_SIZE])
            if caplen > MAX_RECORD:
                raise NotPcap(f"a record of {caplen} bytes")
            if len(self._pending) < RECORD_SIZE + caplen:
                break
            raw = bytes(self._pending[:RECORD_SIZE + caplen])
            del self._pending[:RECORD_SIZE + caplen]
            found.append(Record(raw, seconds, fraction, raw[RECORD_SIZE:], length))
        return found


def read_header(raw: bytes) -> StreamHeader:
    (magic,) = struct.unpack("<I", raw[:4])
    if magic not in MAGICS:
        raise NotPcap(f"magic {raw[:4].hex()}")
    order, digits = MAGICS[magic]
    snaplen, linktype = struct.unpack(f"{order}II", raw[16:24])
    return StreamHeader(raw, order, digits, snaplen, linktype & 0xFFFF)


class PcapWriter:
    """One interface: the stream as tcpdump wrote it (its own header, its own records)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def start(self) -> None:
        """Nothing comes before the first interface's header in a pcap."""

    def interface(self, index: int, name: str, header: StreamHeader) -> None:
        self._out.write(header.raw)

    def packet(self, index: int, record: Record) -> None:
        self._out.write(record.raw)


class PcapngWriter:
    """Several interfaces in one section: an interface description for each (in the order
    their streams began, so each packet names the interface it crossed)."""

    def __init__(self, out: BinaryIO, application: str = "simlab") -> None:
        self._out, self._application = out, application
        self._ids: dict[int, int] = {}  # the caller's interface index -> its number in the file
        self._units: dict[int, int] = {}  # the caller's interface index -> timestamp units per second

    def start(self) -> None:
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options((OPT_USERAPPL, self._application.encode()))
        self._out.write(_block(SHB, body))

    def interface(self, index: int, name: str, header: StreamHeader) -> None:
        self._ids[index], self._units[index] = len(self._ids), 10 ** header.digits
        body = struct.pack("<HHI", header.linktype, 0, header.snaplen) + _options(
            (OPT_NAME, name.encode()), (OPT_TSRESOL, bytes([header.digits])))
        self._out.write(_block(IDB, body))

    def packet(self, index: int, record: Record) -> None:
        stamp = record.seconds * self._units[index] + record.fraction
        body = struct.pack("<IIIII", self._ids[index], stamp >> 32, stamp & 0xFFFFFFFF, len(record.data),
                           record.length) + _padded(record.data)
        self._out.write(_block(EPB, body))


def _block(kind: int, body: bytes) -> bytes:
    size = 12 + len(body)
    return struct.pack("<II", kind, size) + body + struct.pack("<I", size)


def _options(*options: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", code, len(value)) + _padded(value) for code, value in options) + \
        struct.pack("<HH", OPT_END, 0)


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def joined(files: list[tuple[str, bytes]], since: float | None = None) -> bytes:
    """The packets of whole pcap files (each named by where it was taken) from ``since`` (seconds
    since the epoch) on, in time order: pcap for one file, pcapng for several."""
    out = io.BytesIO()
    writer = PcapWriter(out) if len(files) == 1 else PcapngWriter(out)
    writer.start()
    packets = []
    for index, (name, data) in enumerate(files):
        header, *items = PcapReader().feed(data)
        assert isinstance(header, StreamHeader)  # a reader yields its stream's header first
        records = [item for item in items if isinstance(item, Record)]
        writer.interface(index, name, header)
        scale = 10 ** header.digits
        packets += [(r.seconds + r.fraction / scale, index, r) for r in records
                    if since is None or r.seconds + r.fraction / scale >= since]
    for _, index, record in sorted(packets, key=lambda packet: packet[:2]):
        writer.packet(index, record)
    return out.getvalue()
