"""`simlab capture`: pcap and pcapng of a live lab's interfaces, read back with Debian's
tshark (`make tools` installs it where missing); and the stream formats on their own."""

from __future__ import annotations

import select
import shutil
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, interrupt_when, running, simlab
from simlab.errors import InputError
from simlab.labs import capture as lab_capture
from simlab.labs.pcap import PcapngWriter, PcapReader, PcapWriter, Record, StreamHeader

LAB = """\
name: capture
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
    setup:
      - ip netns add inner
      - ip link add vin type veth peer name vout
      - ip link set vin netns inner
      - ip -n inner addr add 10.9.0.2/24 dev vin
      - ip -n inner link set vin up
      - ip addr add 10.9.0.1/24 dev vout
      - ip link set vout up
  b:
    interfaces: {eth0: 10.0.0.2/24}
links:
  - [a:eth0, b:eth0]
"""
REQUEST, REPLY = "8", "0"


@pytest.fixture(scope="session")
def tshark() -> str:
    found = shutil.which("tshark")
    if found is None:  # the test setup installs Debian's package where it can
        subprocess.run([str(ROOT / "scripts" / "ensure-tools.sh")], check=True)
        found = shutil.which("tshark")
    assert found, "no tshark: run `make tools`"
    return found


@pytest.fixture(scope="module")
def lab(engine, tmp_path_factory):
    """One small lab for the module: a and b on a link, a namespace `inner` in a."""
    name = f"cap-{uuid.uuid4().hex[:6]}"
    file = tmp_path_factory.mktemp("capture") / "capture.yaml"
    file.write_text(LAB)
    simlab("up", str(file), "--name", name, check=True)
    try:
        from simlab.labs.lab import open_lab
        yield open_lab(engine, name)
    finally:
        simlab("down", name)


def frames(tshark: str, path: Path, *fields: str, where: str = "") -> list[tuple[str, ...]]:
    """``fields`` of each frame of ``path`` (those matching the display filter ``where``)."""
    argv = [tshark, "-r", str(path), *(["-Y", where] if where else []), "-T", "fields",
            *(x for f in fields for x in ("-e", f))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [tuple(line.split("\t")) for line in done.stdout.splitlines()]


def start_capture(*args: str) -> subprocess.Popen:
    """`simlab capture ...` started; returns once it says it is capturing."""
    proc = subprocess.Popen([sys.executable, "-m", "simlab", "capture", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said, deadline = b"", time.monotonic() + 60
    while b"capturing on" not in said:
        assert time.monotonic() < deadline and proc.poll() is None, f"capture never started: {said!r}"
        if select.select([proc.stderr], [], [], 1)[0]:
            said += proc.stderr.read1(4096)
    return proc


def ping(lab, host: str, target: str, count: int, netns: str = "") -> None:
    command = ["ping", "-c", str(count), "-i", "0.2", "-W", "1", target]
    argv = ["ip", "netns", "exec", netns, *command] if netns else command
    assert lab.engine.exec(lab.container(host), argv, timeout=30).exit_code == 0


def no_tcpdump(lab) -> bool:
    """Whether the hosts run nothing but their main process (pid 1 and its `sleep infinity`):
    no tcpdump, no watcher, not even a zombie."""
    for host in ("a", "b"):
        ps = lab.engine.exec(lab.container(host), ["ps", "-eo", "pid=,ppid=,stat=,args="]).output.splitlines()
        others = [line for line in ps if line.split()[0] != "1" and line.split()[3:] != ["sleep", "infinity"]
                  and line.split()[3:5] != ["ps", "-eo"]]
        if others:
            print(f"left on {host}: {others}")
            return False
    return True


def test_one_interface_is_a_pcap_of_the_pings_and_c_stops_it(lab, tshark, tmp_path):
    out = tmp_path / "a.pcap"
    proc = start_capture(lab.name, "a:eth0", "-w", str(out), "-c", "3", "-f", "icmp")
    ping(lab, "b", "10.0.0.1", 3)  # six packets cross a:eth0; the capture takes three
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert "3 packets captured" in proc.stderr.read().decode()
    assert out.read_bytes()[:4] == struct.pack("<I", 0xA1B2C3D4)  # plain pcap, as tcpdump wrote it
    assert frames(tshark, out, "ip.src", "ip.dst", "icmp.type") == [
        ("10.0.0.2", "10.0.0.1", REQUEST), ("10.0.0.1", "10.0.0.2", REPLY), ("10.0.0.2", "10.0.0.1", REQUEST)]
    assert no_tcpdump(lab)


def test_two_hosts_and_a_namespace_into_one_pcapng_named_per_interface(lab, tshark, tmp_path):
    out = tmp_path / "all.pcapng"
    proc = start_capture(lab.name, "a:eth0", "b:eth0", "a/inner:vin", "-w", str(out), "-c", "6", "-f", "icmp")
    ping(lab, "b", "10.0.0.1", 1)
    ping(lab, "a", "10.9.0.1", 1, netns="inner")
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    seen = frames(tshark, out, "frame.interface_name", "ip.src", "ip.dst", "icmp.type")
    assert sorted(seen) == sorted([
        ("a:eth0", "10.0.0.2", "10.0.0.1", REQUEST), ("a:eth0", "10.0.0.1", "10.0.0.2", REPLY),
        ("b:eth0", "10.0.0.2", "10.0.0.1", REQUEST), ("b:eth0", "10.0.0.1", "10.0.0.2", REPLY),
        ("a/inner:vin", "10.9.0.2", "10.9.0.1", REQUEST), ("a/inner:vin", "10.9.0.1", "10.9.0.2", REPLY)])
    assert no_tcpdump(lab)


@pytest.mark.parametrize("tap, said", [
    ("c:eth0", "has no host 'c'"),
    ("a/innr:vin", "no network namespace 'innr'; did you mean 'inner'?"),
    ("a/inner:eth0", "no interface 'eth0' (interfaces: lo, vin)"),
    ("b:eht0", "no interface 'eht0'; did you mean 'eth0'?"),
    ("b-eth0", "is not HOST[/NETNS]:IFACE"),
])
def test_a_bad_endpoint_is_one_line_and_exit_2(lab, tmp_path, tap, said):
    done = simlab("capture", lab.name, "a:eth0", tap, "-w", str(tmp_path / "x.pcap"), timeout=60)
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "x.pcap").exists()  # nothing started, nothing made


def test_a_filter_tcpdump_refuses_is_exit_2_and_goes_as_one_argument(lab, tmp_path):
    done = simlab("capture", lab.name, "a:eth0", "-f", "icmp; touch /tmp/owned", "-w", str(tmp_path / "x"))
    assert done.returncode == 2 and "tcpdump refused the filter at a:eth0" in done.stderr, done.stderr
    assert lab.engine.exec(lab.container("a"), ["test", "-e", "/tmp/owned"]).exit_code == 1
    assert no_tcpdump(lab)


def test_a_reader_that_quits_ends_the_capture_and_its_tcpdump(lab):
    pinging = subprocess.Popen(["docker", "exec", f"simlab-{lab.name}-b", "ping", "-c", "50", "-i", "0.2",
                                "10.0.0.1"], stdout=subprocess.DEVNULL)
    try:
        pipeline = f"{sys.executable} -m simlab capture {lab.name} a:eth0 -w - | head -c 100 | wc -c; " \
                   "echo ${PIPESTATUS[0]}"
        done = subprocess.run(["bash", "-c", pipeline], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        pinging.kill()
        lab.engine.exec(lab.container("b"), ["pkill", "-x", "ping"])
    assert done.stdout.split() == ["100", "0"], done.stderr
    assert no_tcpdump(lab)


def test_ctrl_c_and_duration_end_it_cleanly(lab, tshark, tmp_path):
    out = tmp_path / "i.pcap"
    done = interrupt_when(["capture", lab.name, "a:eth0", "b:eth0", "-w", str(out)],
                          lambda: running(lab.engine, lab.container("b"), "tcpdump"), "capturing")
    assert done.returncode == 130, done.stderr
    assert no_tcpdump(lab)
    started = time.monotonic()
    done = simlab("capture", lab.name, "b:eth0", "--duration", "1", "-f", "icmp", "-w", str(out),
                  timeout=60)
    assert done.returncode == 0 and 1 <= time.monotonic() - started < 10, done.stderr
    assert frames(tshark, out, "frame.number") == [] and no_tcpdump(lab)  # a valid pcap, maybe of nothing


def test_standard_output_on_a_terminal_is_refused(monkeypatch):
    monkeypatch.setattr(lab_capture.os, "isatty", lambda fd: True)
    with pytest.raises(InputError, match="standard output is a terminal"):
        with lab_capture.destination("-"):
            pass


def test_a_terminal_gets_pcap_only_if_asked(lab):
    """The same, through the command on a real terminal (script(1) gives it one)."""
    if shutil.which("script") is None:
        pytest.skip("no script(1)")
    command = f"{sys.executable} -m simlab capture {lab.name} a:eth0 -w -"
    done = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "standard output is a terminal" in done.stdout


def pcap_stream(order: str, nanoseconds: bool, packets: list[tuple[int, int, bytes]]) -> bytes:
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    header = struct.pack(f"{order}IHHiIII", magic, 2, 4, 0, 0, 262144, 1)
    return header + b"".join(struct.pack(f"{order}IIII", s, f, len(d), len(d) + 4) + d for s, f, d in packets)


@pytest.mark.parametrize("order, nanoseconds", [("<", False), (">", True)])
def test_a_pcap_stream_is_read_whatever_the_chunks(order, nanoseconds):
    packets = [(1700000000, 123, b"\x01" * 60), (1700000001, 999, b"\x02" * 61)]
    stream = pcap_stream(order, nanoseconds, packets)
    reader, found = PcapReader(), []
    for i in range(len(stream)):  # one byte at a time: headers and records cut everywhere
        found += reader.feed(stream[i:i + 1])
    header, *records = found
    assert isinstance(header, StreamHeader) and (header.digits, header.linktype) == ((9 if nanoseconds else 6), 1)
    assert [(r.seconds, r.fraction, r.data, r.length) for r in records] == [
        (s, f, d, len(d) + 4) for s, f, d in packets]
    copy = _written(PcapWriter, [(0, header, records)])
    assert copy == stream  # one interface: tcpdump's bytes, unchanged


def test_pcapng_names_each_interface_and_keeps_its_timestamps(tshark, tmp_path):
    frame = bytes.fromhex("ffffffffffff02000000000108060001080006040001020000000001") + bytes(18)  # an ARP
    streams = []
    for index, (order, ns) in enumerate([("<", False), (">", True)]):
        reader = PcapReader()
        header, *records = reader.feed(pcap_stream(order, ns, [(1700000000 + index, 5, frame)]))
        streams.append((index, header, records))
    out = tmp_path / "two.pcapng"
    out.write_bytes(_written(PcapngWriter, streams))
    assert frames(tshark, out, "frame.interface_name", "frame.time_epoch", "arp.opcode") == [
        ("x0", "1700000000.000005000", "1"), ("x1", "1700000001.000000005", "1")]


def _written(kind, streams: list[tuple[int, StreamHeader, list[Record]]]) -> bytes:
    import io

    out = io.BytesIO()
    writer = kind(out)
    writer.start()
    for index, header, records in streams:
        writer.interface(index, f"x{index}", header)
        for record in records:
            writer.packet(index, record)
    return out.getvalue()


def test_endpoints_are_parsed_strictly():
    assert lab_capture.parse_tap("container-a/red:veth-red") == lab_capture.Tap("container-a", "veth-red", "red")
    assert str(lab_capture.parse_tap("outside:eth0")) == "outside:eth0"
    for bad in ("outside", ":eth0", "a:", "a/:eth0", "a:b:c", "a/b/c:eth0", "a:x/y"):
        with pytest.raises(InputError, match="HOST"):
            lab_capture.parse_tap(bad)


EVIDENCE = """\
name: capture-evidence
hosts:
  a: {interfaces: {eth0: 10.0.0.1/24}}
  b: {interfaces: {eth0: 10.0.0.2/24}}
links:
  - [a:eth0, b:eth0]
steps:
  - title: seen at one spot
    host: a
    ping: 10.0.0.2
    seen: [{at: "b:eth0", proto: icmp}]
  - title: seen at two
    host: b
    ping: 10.0.0.1
    seen: [{at: "a:eth0", src: 10.0.0.2}, {at: "b:eth0", dst: 10.0.0.1}]
  - title: no evidence
    host: a
    run: "true"
"""


def test_the_reports_offer_each_steps_packet_evidence_as_pcap(engine, tshark, tmp_path):
    import base64
    import json

    file, report, html = tmp_path / "evidence.yaml", tmp_path / "r.json", tmp_path / "r.html"
    file.write_text(EVIDENCE)
    simlab("run", str(file), "--name", f"cap-{uuid.uuid4().hex[:6]}", "--json", str(report), "--html", str(html),
           check=True)
    one, two, none = json.loads(report.read_text())["steps"]
    assert "pcap" not in none
    pcaps = []
    for step in (one, two):
        pcaps.append(tmp_path / f"step-{step['index']}")
        pcaps[-1].write_bytes(base64.b64decode(step["pcap"]))
    assert pcaps[0].read_bytes()[:4] == struct.pack("<I", 0xA1B2C3D4)  # one spot: plain pcap
    assert frames(tshark, pcaps[0], "ip.src", "ip.dst", "icmp.type", where="icmp")[:2] == [
        ("10.0.0.1", "10.0.0.2", REQUEST), ("10.0.0.2", "10.0.0.1", REPLY)]
    seen = frames(tshark, pcaps[1], "frame.interface_name", "ip.src", "icmp.type")
    assert {("a:eth0", "10.0.0.2", REQUEST), ("b:eth0", "10.0.0.2", REQUEST), ("a:eth0", "10.0.0.1", REPLY),
            ("b:eth0", "10.0.0.1", REPLY)} <= set(seen)
    page = html.read_text()
    assert f'download="step-1.pcap" href="data:application/vnd.tcpdump.pcap;base64,{one["pcap"]}"' in page
    assert f'download="step-2.pcapng" href="data:application/vnd.tcpdump.pcap;base64,{two["pcap"]}"' in page
