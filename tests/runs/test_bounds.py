"""Every input bounded (issue 18, items 7 to 10): a pattern cannot hang the judge, output
cannot fill simlab's memory or outrun a step's deadline, nothing a file or a command prints
can rewrite the terminal, a report that cannot be written is an error, and `check` finds two
hosts holding one address on one wire."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from conftest import ROOT, simlab
from flaky_engine import FlakyEngine
from simlab.checks.capture import Capture, Spot, stop_captures
from simlab.checks.pattern import MAX_DEPTH, PatternError, check_pattern, search
from simlab.engines.client import Deadline, ExecResult, _ExecReader
from simlab.errors import EngineTimeout, InputError
from simlab.labs.lab import Lab
from simlab.labs.shell import MAX_LINE, MAX_OUTPUT, _split_lines
from simlab.model.scenario import RunStep
from simlab.model.schema import scenario_schema
from simlab.reports.terminal import TerminalProgress, step_lines, summary_lines, write_text
from simlab.results import ScenarioResult, StepResult
from simlab.runs.runner import judge
from simlab.runs.script import run_batch
from simlab.steps import StepRun
from simlab.steps.base import CommandRun

PATHOLOGICAL = "^(a+)+$"  # Python's re backtracks for hours on 40 a's and a '!'


def write(folder: Path, text: str) -> Path:
    path = folder / "lab.yaml"
    path.write_text(text)
    return path


# 7. Regular expressions ---------------------------------------------------------------


def test_a_backtracking_pattern_is_judged_at_once():
    assert search(PATHOLOGICAL, "a" * 40 + "!") is False  # with `re`, this call would not return
    assert search(PATHOLOGICAL, "x\n" + "a" * 40 + "\ny") is True  # ^ and $ at every line
    assert search("é+", "xéé") and search("x$", "a\udcffx")  # unicode; undecodable bytes do not raise


@pytest.mark.parametrize("pattern, where, message", [
    ("(" * 2000 + "a" + ")" * 2000, "6:12", f"the pattern nests groups 2000 deep; at most {MAX_DEPTH}"),
    (r"(a)\1", "6:12", r"invalid escape sequence: \1 (RE2 takes no backreferences or lookaround)"),
    ("(?<=a)b", "6:12", "invalid perl operator: (?<= (RE2 takes no backreferences or lookaround)"),
    ("[a", "6:12", "missing ]: [a"),
])
def test_check_refuses_a_pattern_re2_cannot_take(tmp_path, pattern, where, message):
    path = write(tmp_path, "hosts:\n  a: {}\nsteps:\n  - title: t\n    host: a\n"
                           f"    match: {json.dumps(pattern)}\n    run: echo\n")
    done = simlab("check", str(path), timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"{path}:{where}: steps[0].match: match is not a regular expression "
                                        f"simlab can use: {message}"]


def test_an_http_match_is_checked_too():
    with pytest.raises(PatternError, match="backreferences"):
        check_pattern(r"(\w+) \1")


# 8. Output without bound --------------------------------------------------------------


def test_a_flood_of_output_is_cut_at_1_mib_and_counted(tmp_path):
    """The real step script in this machine's shell: 20 MB of output come back as 1 MiB and a
    count, and simlab never holds the whole of it."""
    lab = Lab("l", FlakyEngine(failures=0), {"a": "c"})
    flood = 20_000_000
    step = RunStep(title="flood", host="a", commands=[f"head -c {flood} /dev/zero | tr '\\0' a", "echo small"])
    tracemalloc.start()
    try:
        [run] = list(run_batch(lab, "a", [step]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        lab.close_shells()
    big, small = run.commands
    assert (big.exit_code, len(big.output), set(big.output), big.cut) == (0, MAX_OUTPUT, {"a"}, flood - MAX_OUTPUT)
    assert (small.output, small.cut) == ("small", 0)
    assert peak < 12 * MAX_OUTPUT, f"{peak} bytes held at once"
    result = judge(1, run)
    note = f"command 1: output cut at 1 MiB ({flood - MAX_OUTPUT} bytes more)"
    assert result.passed and result.got == f"success; {note}" and result.output.endswith(f"[{note}]")


def test_not_output_cannot_pass_on_output_that_was_cut():
    step = RunStep(title="t", host="a", commands=["cat big"], not_output="secret")
    verdict = judge(1, StepRun(step, [CommandRun("cat big", 0, "a" * MAX_OUTPUT, 0.1, cut=10)]))
    assert not verdict.passed
    assert verdict.got == ("success, too much output to tell it does not print 'secret'; "
                           "output cut at 1 MiB (10 bytes more)")


def test_a_capture_whose_packets_were_cut_is_an_error_not_a_count():
    """Past the cut, a packet `unseen` forbids could hide: the capture cannot be judged."""
    class Shell:
        def run(self, command: str, netns: str | None = None, timeout: float = 0) -> ExecResult:
            return ExecResult(0, "1.5 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64", cut=70_000)

    class Hosts:
        def shell(self, host: str) -> Shell:
            return Shell()
    capture = Capture(Spot("a", "eth0"), "/tmp/unused", pid="1")
    stop_captures(Hosts(), [capture])
    assert capture.error == "capture at a:eth0 saw more packets than can be judged (70000 bytes of them cut)"


def test_a_long_line_is_split_in_linear_time_and_an_overlong_one_dropped():
    chunk = b"x" * 65536
    stream = [(b"first\nsec", None), (b"ond\n", None), *[(chunk, None)] * (MAX_LINE // len(chunk) + 20),
              (b"tail\nlast\n", None), (None, b"stderr is not read")]
    assert list(_split_lines(iter(stream))) == [b"first", b"second", b"last"]  # the overlong 'x...tail' dropped


def test_a_stream_that_never_stops_ends_at_its_deadline():
    """The idle limit never fires while bytes arrive; the deadline does."""
    ours, theirs = socket.socketpair()
    stop = threading.Event()

    def flood() -> None:
        frame = struct.pack(">BxxxL", 1, 65536) + b"a" * 65536
        try:
            while not stop.is_set():
                theirs.sendall(frame)
        except OSError:
            pass
    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    reader = _ExecReader(None, "exec", ours, "reading a flood", idle_timeout=1)
    reader.deadline = Deadline(1.5)
    try:
        with pytest.raises(EngineTimeout, match="reading a flood went on past its deadline of 1.5 s"):
            for _ in reader.chunks():
                pass
    finally:
        stop.set()
        theirs.close()
        writer.join(10)


# 9. Terminal and output honesty -------------------------------------------------------

FORGED = "\x1b[1A\r\x1b[2K  ✔ all good"


def test_control_characters_from_files_and_outputs_are_shown_escaped():
    step = StepResult(1, f"title{FORGED}", "run", "a", [f"echo '{FORGED}'"], "success", f"failure{FORGED}", False,
                      output=f"line\r\n{FORGED}\n\u202eevil", hint=f"hint{FORGED}", note=FORGED)
    lines = step_lines(step) + summary_lines(ScenarioResult("s\r", "f.yaml", steps=[step], error=f"e{FORGED}"))
    text = "\n".join(lines)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "      | \\x1b[1A\\r\\x1b[2K  ✔ all good" in lines and "      | line" in lines
    assert "      | \\u202eevil" in lines and "      hint: hint\\x1b[1A\\r\\x1b[2K  ✔ all good" in lines

    class Out:
        printed = ""

        def write(self, text: str) -> None:
            self.printed += text

        def flush(self) -> None: ...

        def isatty(self) -> bool:
            return False
    out = Out()
    from simlab.events import Event
    TerminalProgress(out)(Event("step.start", "t", "l", payload=(1, RunStep(title=f"title{FORGED}", host="a",
                                                                             note=f"note{FORGED}"))))
    assert "\x1b" not in out.printed and "\r" not in out.printed and "title\\x1b[1A\\r" in out.printed


def test_a_report_that_cannot_be_written_is_an_error():
    with pytest.raises(InputError, match="cannot write /dev/full: No space left on device"):
        write_text("{}", "/dev/full")
    with open("/dev/full", "w") as full:  # `--json -` (here `schema`, the same writer) to a full disk
        done = subprocess.run([sys.executable, "-m", "simlab", "schema"], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["simlab: error: cannot write the report to standard output: "
                                        "No space left on device"]


# 10. Address conflicts ----------------------------------------------------------------

CONFLICT = """\
hosts:
  a:
    interfaces: {eth0: 10.0.0.1/24}
  b:
    interfaces:
      eth0: [10.0.0.2/24, 10.0.0.1/24]
  c:
    interfaces: {eth0: 10.0.0.3/24, eth1: 10.0.1.1/24}
  d:
    interfaces: {eth0: 10.0.1.1/24}
segments:
  lan: [a:eth0, b:eth0, c:eth0]
links:
  - [c:eth1, d:eth0]
"""


def test_check_finds_two_hosts_holding_one_address_on_one_wire(tmp_path):
    path = write(tmp_path, CONFLICT)
    done = simlab("check", str(path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{path}:10:24: hosts.d.interfaces.eth0: address 10.0.1.1 is also on c:eth1 ({path}:8), on the same link; "
        "two hosts answering for one address break it (list it under duplicate_addresses if the lesson means it)",
        f"{path}:6:13: hosts.b.interfaces.eth0: address 10.0.0.1 is also on a:eth0 ({path}:3), on the same segment "
        "lan; two hosts answering for one address break it (list it under duplicate_addresses if the lesson "
        "means it)"]


def test_a_deliberate_duplicate_is_a_warning(tmp_path):
    text = CONFLICT
    path = write(tmp_path, text + "duplicate_addresses: [10.0.0.1, 10.0.1.1, 10.9.9.9]\n")
    done = simlab("check", str(path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"{path}:10:24: warning: hosts.d.interfaces.eth0: address 10.0.1.1 is also on c:eth1 ({path}:8), on the same "
        "link (listed in duplicate_addresses: deliberate)",
        f"{path}:6:13: warning: hosts.b.interfaces.eth0: address 10.0.0.1 is also on a:eth0 ({path}:3), on the same "
        "segment lan (listed in duplicate_addresses: deliberate)",
        f"{path}:15:22: warning: duplicate_addresses: 10.9.9.9 is listed, but no two hosts hold it on one link or "
        "segment"]
    jsonschema = pytest.importorskip("jsonschema")
    import yaml
    jsonschema.validate(yaml.safe_load(text + "duplicate_addresses: [10.0.0.1, 'fd00::1']\n"), scenario_schema())


def test_the_same_address_on_different_wires_is_fine(tmp_path):
    text = ("hosts:\n  a: {interfaces: {eth0: 10.0.0.1/24}}\n  b: {interfaces: {eth0: 10.0.0.2/24}}\n"
            "  c: {interfaces: {eth0: 10.0.0.1/24}}\n  d: {interfaces: {eth0: 10.0.0.2/24}}\n"
            "links:\n  - [a:eth0, b:eth0]\n  - [c:eth0, d:eth0]\n")
    done = simlab("check", str(write(tmp_path, text)), timeout=60)
    assert done.returncode == 0 and done.stderr == ""


# On a real lab ------------------------------------------------------------------------

BOUNDS = """\
name: bd-bounds
description: "clears the screen\\x1b[2J"
hosts:
  a: {}
steps:
  - title: a flood of output
    host: a
    run: head -c 300000000 /dev/zero | tr '\\0' a
  - title: "forged\\x1b[1A\\r  ✔ fine"
    host: a
    run: printf '\\033[1A\\r\\033[2K  \\342\\234\\224 all good\\n'; exit 1
    expect: failure
  - title: a pattern that backtracks
    host: a
    run: printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\n'
    match: '^(a+)+$'
"""

MAXRSS = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
          "print('maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


@pytest.mark.engine
def test_flood_pattern_and_escapes_on_a_real_lab(engine, tmp_path, lab_name, no_leftovers):
    """300 MB of output, a backtracking pattern and a forged title in one run with --timeout:
    the run ends by itself, its memory bounded, the cut noted, the title escaped; its report
    to a full disk (`--json -` into /dev/full) is exit 2."""
    path = write(tmp_path, BOUNDS)
    lab_name = f"bd-{lab_name}"
    argv = [sys.executable, "-c", MAXRSS, sys.executable, "-m", "simlab", "run", str(path), "--name", lab_name,
            "--timeout", "40", "--json", "-"]
    with open("/dev/full", "w") as full:
        try:
            done = subprocess.run(argv, cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            simlab("down", lab_name)
            raise
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert lines[-2] == "simlab: error: cannot write the report to standard output: No space left on device"
    assert "      ✔ success; output cut at 1 MiB (298951424 bytes more)" in "\n".join(lines)
    assert "  2. forged\\x1b[1A\\r  ✔ fine" in lines and "      | \\x1b[1A\\r\\x1b[2K  ✔ all good" in lines
    assert "\x1b" not in done.stderr and "\r" not in done.stderr and "clears the screen\\x1b[2J" in lines[0]
    assert any("got success, not matching '^(a+)+$'" in line for line in lines) and "timed out" not in done.stderr
    assert int(lines[-1].split()[1]) < 250_000, lines[-1]  # KiB: well under the 300 MB it printed
