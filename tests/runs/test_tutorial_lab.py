"""`simlab tutorial gateway-nat` typed into a real terminal (tmux), on the real engine.

A learner starts at the lesson 'Network Gateways and NAT' (the lessons before it are built
for them), types the tutorial's own wrong commands and a MASQUERADE on the wrong source,
is told what is missing and why, fixes it, moves on, leaves, comes back where they were,
and makes the tutorial's `via 192.168.15.5/24` mistake in the last lesson before getting
it right.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import ROOT

pytestmark = pytest.mark.engine


class Terminal:
    """A tmux session of its own server: keys in, the screen (with its history) out."""

    def __init__(self, tmp_path, env: dict[str, str]) -> None:
        self.socket = f"simlab-test-{uuid.uuid4().hex[:8]}"
        self.config = tmp_path / "tmux.conf"
        self.config.write_text("set -g history-limit 50000\n")
        self.env = env

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *argv: str) -> None:
        # a server of its own each time: one just killed may still hold its socket
        self.socket = f"simlab-test-{uuid.uuid4().hex[:8]}"
        command = " ".join(["env", *(f"{k}={v}" for k, v in self.env.items()), sys.executable, "-m", "simlab",
                            *(f"'{a}'" for a in argv), "; sleep 600"])
        self.tmux("new-session", "-d", "-s", "learner", "-x", "220", "-y", "50", "-c", str(ROOT), command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "learner")

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "learner", "-l", line)
        self.tmux("send-keys", "-t", "learner", "Enter")

    def wait_for(self, text: str, after: int = 0, timeout: float = 240) -> str:
        """The screen from character ``after`` on, once ``text`` shows there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen[after:]:
                return screen[after:]
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not show in {timeout}s; the screen:\n{self.screen()[after:]}")

    def do(self, line: str, until: str, timeout: float = 240) -> str:
        """Type ``line`` and return what the screen shows from then on, once ``until`` does."""
        mark = len(self.screen().rstrip())
        self.type(line)
        return self.wait_for(until, mark, timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def terminal(tmp_path, engine):
    if shutil.which("tmux") is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-tools.sh")], check=True)
    made = Terminal(tmp_path, {"SIMLAB_STATE": str(tmp_path / "state"), "SIMLAB_CACHE": str(tmp_path / "cache"),
                               "NO_COLOR": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    yield made
    made.close()


def test_a_learner_gets_a_lesson_wrong_then_right_leaves_and_comes_back(terminal, engine, no_leftovers):
    from simlab.labs.lab import destroy_lab

    lab = f"tut-{uuid.uuid4().hex[:6]}"
    prompt = f"tutorial {lab} [7/8]> "
    try:
        terminal.start("tutorial", "gateway-nat", "--lab", lab, "--at", "Network Gateways and NAT")
        screen = terminal.wait_for(prompt)
        assert "Lesson 7/8: Network Gateways and NAT" in screen
        assert "• Masquerade red and blue behind container-a" in screen and "MASQUERADE\n" not in screen

        terminal.do("shell", "root@container-a")
        said = terminal.do("ip netns exec red ip route add 172.17.0.3/15 via 192.168.15.5/24", "Error")
        assert 'inet address is expected rather than "192.168.15.5/24"' in said  # the tutorial as written
        said = terminal.do("ip netns exec red ip route add 172.17.0.3/15 via 192.168.15.5", "Error")
        assert "Invalid prefix for given prefix length" in said
        terminal.do("iptables -t nat -A POSTROUTING -s 192.168.16.0/24 -j MASQUERADE; echo masq-done", "masq-done\n")
        terminal.do("exit", prompt)

        said = terminal.do("check", prompt)
        assert "red on container-a has no route to 172.17.0.0/16" in said
        assert ("no MASQUERADE for 192.168.15.0/24 on container-a (iptables -t nat -A POSTROUTING -s "
                "192.168.15.0/24 -j MASQUERADE); it has -t nat -A POSTROUTING -s 192.168.16.0/24 -j MASQUERADE "
                "instead") in said
        assert "✘ 13. The outside host replies" in said and "why: in your lab the packet goes red on container-a " \
            "and stops: red on container-a has no route to 172.17.0.3" in said
        assert "Reread the tutorial's section 'Network Gateways and NAT'" in said
        assert "hint: red needs a route to 172.17.0.0/16" in terminal.do("hint", prompt)

        terminal.do("shell", "root@container-a")
        terminal.do("ip netns exec red ip route add 172.17.0.0/16 via 192.168.15.5; echo route-done", "route-done\n")
        terminal.do("iptables -t nat -D POSTROUTING -s 192.168.16.0/24 -j MASQUERADE; "
                    "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE; echo nat-done", "nat-done\n")
        terminal.do("exit", prompt)
        said = terminal.do("check", f"tutorial {lab} [8/8]> ")
        assert "✔ Lesson 7 (Network Gateways and NAT) is done" in said and "Lesson 8/8: Internet Access" in said
        said = terminal.do("quit", "Remove it with")
        assert "you are on lesson 8" in said

        terminal.close()  # the learner closes the terminal and comes back later
        terminal.start("tutorial", "gateway-nat", "--lab", lab)
        prompt = f"tutorial {lab} [8/8]> "
        assert "Lesson 8/8: Internet Access" in terminal.wait_for(prompt)
        terminal.do("shell", "root@container-a")
        said = terminal.do("ip netns exec red ip route add default via 192.168.15.5/24", "Error")
        terminal.do("exit", prompt)
        said = terminal.do("check", prompt)
        assert "red on container-a has no default route (the reference: default via 192.168.15.5 dev veth-red)" \
            in said
        assert "✘ 16. red reaches the internet" in said, said
        terminal.do("shell", "root@container-a")
        terminal.do("ip netns exec red ip route add default via 192.168.15.5; echo default-done", "default-done\n")
        terminal.do("exit", prompt)
        assert "You have built the whole lab." in terminal.do("check", "You have built")
    finally:
        terminal.close()
        destroy_lab(engine, lab)
