"""Runs inside the fabric helper container, on the engine's kernel.

One helper serves every lab of an engine for a while: it shares the engine
host's PID namespace, so /proc/PID/ns/net reaches every lab container, and it
builds the wires of each plan simlab hands it. It must import nothing but the
standard library and pyroute2. Veth ends are created directly inside the
target namespaces: nothing ever appears in the engine host's own namespace.

Containers are named in a plan by their ids, before they start: simlab hands
the plan over as soon as the containers are created and starts them while
the helper watches /proc for their processes (the main process, a reaping
``sh`` whose parent is the runtime's shim, or a ``sleep``, whose cgroup or
mounts name the container). Each wire is made as soon as both its ends run,
so wiring goes on while the engine is still starting the rest of the lab.

Hand-off (all in the folder named by the first argument): simlab writes the
plan as ``plan-ID.json``, makes the FIFO ``answer-ID`` and renames the plan to
``go-ID.json``, under a shared lock of ``lock``, unless ``closed`` exists;
then it blocks reading ``answer-ID``. The helper answers one line there ("ok"
and the containers' PIDs as JSON, or the reason it failed) and removes the
files once simlab has touched ``read-ID``. ``cancel-ID`` gives up a plan.
The helper ends itself after IDLE seconds without a plan (second argument),
and after MAX_LIFE seconds: it first takes the lock exclusively and makes
``closed``, so no plan is ever left unanswered. A plan whose containers stop
coming up (its simlab was killed mid-start) fails after STALL seconds.

Plan (JSON): {"id", "limit": seconds once every container runs, "stall": seconds,
  "bridges": [{"container", "name"}],
  "veths": [{"a", "a_host", "a_name", "a_master", "b", "b_host", "b_name"}],
  "hosts": [{"host", "container", "up": [names], "addresses": [[ifname, cidr]],
             "routes": [{"text", "dst", "gateway", "dev"}]}]}
A veth's "a" end is created up (with its master bridge, for a switch port);
the "b" end is brought up by its host's configuration.
"""

import ctypes
import fcntl
import json
import os
import re
import signal
import sys
import threading
import time

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

CLONE_NEWNET = 0x40000000
LOOPBACK = 1  # lo is the first device of every network namespace
IFA_F_NODAD = 0x02  # linux/if_addr.h
POLL = 0.01  # seconds between looks at the hand-off folder
SCAN = 0.01  # seconds between scans of /proc while a plan waits for its containers
IDLE = 30.0  # seconds without a plan before the helper ends (simlab passes its own)
STALL = 60.0  # seconds a plan waits for the next of its containers to come up
MAX_LIFE = 600  # seconds after which the helper takes no new plan and ends
WATCHDOG = 60  # seconds the main loop may stall before the kernel ends the process (SIGALRM)
READ_WAIT = 10  # seconds for simlab to read an answer
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
SHIMS = ("containerd-shim", "conmon")  # what starts a container's main process (Docker, Podman)
RUNTIME_INIT = ("runc", "crun", "youki")  # a runtime (its init starts as a copy of it): may become a container
STARTING = frozenset({"starting"})
_libc = ctypes.CDLL(None, use_errno=True)


class PlanError(Exception):
    pass


class Cancelled(Exception):
    pass


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def netns(pid):
    """A netlink socket inside the network namespace of process ``pid``. A socket stays in
    the namespace it was made in, so this thread enters that namespace, makes the socket
    (and a first request on it: lo up) and comes back. (pyroute2's own netns= forks a
    child per namespace instead, about 40 ms each.)"""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            ipr = IPRoute()
            ipr.link("set", index=LOOPBACK, state="up")  # the socket exists, made here
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)
    return ipr


def index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise PlanError(f"no interface {name}")
    return found[0]


def _last_pid():
    with open("/proc/loadavg") as f:
        return int(f.read().split()[4])


def _given_out(pid, previous, last):
    """Whether the kernel gave out ``pid`` after ``previous`` and up to ``last`` (the last PIDs
    of two looks; it counts up, then wraps around to low numbers)."""
    if previous is None:
        return False  # a first look: every process is new anyway
    if previous <= last:
        return previous < pid <= last
    return pid > previous or pid <= last


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _parent(stat):
    """The parent's PID in a /proc/PID/stat line ("" when unreadable)."""
    fields = stat.rpartition(")")[2].split()
    return fields[1] if len(fields) > 1 else ""


def _child_of_a_shim(stat):
    """Whether the process of ``stat`` (its /proc/PID/stat) is a container's main process as
    a runtime's shim started it: simlab's hosts run a reaping shell as pid 1 (engines/client.py
    MAIN_PROCESS), found as it is, not by its `sleep` child, whose fork still reads `sh`."""
    parent = _read(f"/proc/{_parent(stat)}/comm")
    return parent is not None and parent.startswith(SHIMS)


def _reaping_shell(pid):
    """Whether ``pid`` is a container's reaping shell (then its `sleep` is not the main process)."""
    stat = _read(f"/proc/{pid}/stat") if pid else None
    return stat is not None and stat.partition("(")[2].rpartition(")")[0] == "sh" and _child_of_a_shim(stat)


class Processes:
    """Which process runs in which container, from the engine host's /proc: only the main
    process of a lab container matters (``sleep``, after the runtime exec'd it, so the
    container's namespaces are complete), and its container id is in its cgroup or in the
    source of its /etc/hostname mount."""

    def __init__(self):
        self._seen = set()  # /proc's entries already looked at for good
        self._starting = set()  # runtimes' inits: looked at again on every scan
        self._owner = {}  # pid -> the container ids it names (lab containers' processes only)
        self._pid_of = {}  # container id -> pid
        self._last = None  # the last PID the kernel gave out, at the last full look
        self._changed = threading.Condition()
        self.waiting = 0  # builds waiting for a container's process (changed under _changed)
        self.cost = 0.0  # seconds the last scan took

    def look_everywhere(self):
        """Make the next scan list /proc even if no process is new (kept for plans that come
        later: their containers may have started before)."""
        self._last = None

    def scan(self):
        """Look at the processes that are new since the last scan, and again at runtimes'
        inits. /proc/loadavg says the last PID the kernel gave out: while it stays, nothing is
        new and /proc is not listed (with a thousand containers that costs milliseconds)."""
        started = time.monotonic()
        last = _last_pid()
        new: set[str] = set()
        if last != self._last:
            previous, self._last = self._last, last
            names = set(os.listdir("/proc"))
            # A PID the kernel gave out since the last look is a new process, even if an old
            # one had it before (PIDs wrap around): forget what the old one was.
            reused = {n for n in names & self._seen if n.isdigit() and _given_out(int(n), previous, last)}
            for gone in (self._seen - names) | reused:
                self._seen.discard(gone)
                for container in self._owner.pop(gone, ()):
                    if self._pid_of.get(container) == int(gone):
                        del self._pid_of[container]
            self._starting &= names
            new = names - self._seen - self._starting
        found = False
        for pid in [*new, *self._starting]:
            ids = self._identify(pid) if pid.isdigit() else frozenset()
            if ids is STARTING:
                self._starting.add(pid)
                continue
            self._starting.discard(pid)
            self._seen.add(pid)
            if ids:
                self._owner[pid] = ids
                for container in ids:
                    self._pid_of[container] = int(pid)
                found = True
        self.cost = time.monotonic() - started
        if found:
            with self._changed:
                self._changed.notify_all()

    @staticmethod
    def _identify(pid):
        """The container ids a process names; frozenset() when it is none of ours; STARTING
        for a runtime's init (it waits, under load for seconds, before it execs the
        container's command)."""
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            return frozenset()  # no such process (any more)
        comm = stat.partition("(")[2].rpartition(")")[0]
        if comm.startswith(RUNTIME_INIT):
            return STARTING  # about to exec the container's command: looked at on every scan
        if comm == "sh":
            if not _child_of_a_shim(stat):
                return frozenset()
        elif comm != "sleep" or _reaping_shell(_parent(stat)):
            return frozenset()  # not a main process; a reaping shell's sleep: the shell names the container
        # Only the /etc/hostname mount: a process of the engine host (a shell's `sleep 5`)
        # sees every other mount rootful Podman makes there, each container's shm included.
        text = (_read(f"/proc/{pid}/cgroup") or "") + "".join(
            line for line in (_read(f"/proc/{pid}/mountinfo") or "").splitlines(True) if " /etc/hostname " in line)
        return frozenset(CONTAINER_ID.findall(text))

    def pids(self, containers):
        """PIDs of those of ``containers`` whose process is known."""
        pid_of = self._pid_of
        return {container: pid_of[container] for container in containers if container in pid_of}

    def wait(self, timeout):
        """Wait (at most ``timeout`` seconds) for a scan that finds a lab container; scans
        run while some build waits here."""
        with self._changed:
            self.waiting += 1
            self._changed.wait(timeout)
            self.waiting -= 1


class Build:
    """One plan, built as its containers come up."""

    def __init__(self, plan, processes, cancelled):
        self.plan, self.processes, self.cancelled = plan, processes, cancelled
        self.limit, self.stall = float(plan.get("limit", 60)), float(plan.get("stall", STALL))
        self.expires = time.monotonic() + self.stall  # pushed on by each container that comes up
        self.bridges = {}  # container -> {bridge name: index}
        self.created_up = set()  # (container, ifname) made up at creation

    def run(self):
        """Build as the containers come: a switch's bridge once it runs, a veth once both its
        ends run, a host's addresses and routes once all its veths are made."""
        plan = self.plan
        hosts = {h["container"]: h for h in plan["hosts"]}
        # by container: its bridges, its veths, veths not made
        bridges: dict[str, list[dict]] = {}
        touching: dict[str, list[dict]] = {}
        left: dict[str, int] = {}
        for bridge in plan["bridges"]:
            bridges.setdefault(bridge["container"], []).append(bridge)
        for veth in plan["veths"]:
            for end in {veth["a"], veth["b"]}:
                touching.setdefault(end, []).append(veth)
                left[end] = left.get(end, 0) + 1
        wanted = set(hosts) | set(bridges) | set(touching)
        self.processes.look_everywhere()
        pids: dict[str, int] = {}
        made: set[int] = set()  # id() of each veth made
        configured: set[str] = set()
        with IPRoute() as home:  # the helper's own namespace: veths are made from here
            while len(pids) < len(wanted) or len(configured) < len(hosts):
                found = self.processes.pids(wanted - pids.keys())
                if not found:
                    self._wait(wanted - pids.keys())
                    continue
                pids.update(found)
                # containers still starting: wait on while they come; all up: the plan's limit
                self.expires = time.monotonic() + (self.limit if len(pids) == len(wanted) else self.stall)
                for container in found:
                    for bridge in bridges.get(container, []):
                        self._bridge(bridge, pids)
                candidates = set(found)
                for container in found:
                    for veth in touching.get(container, []):
                        if id(veth) not in made and veth["a"] in pids and veth["b"] in pids:
                            self._veth(home, veth, pids)
                            made.add(id(veth))
                            for end in {veth["a"], veth["b"]}:
                                left[end] -= 1
                                candidates.add(end)
                for container in candidates:
                    if container in hosts and container not in configured and not left.get(container):
                        self._configure(hosts[container], pids[container])
                        configured.add(container)
        return pids

    def _wait(self, missing):
        if self.cancelled():
            raise Cancelled()
        if time.monotonic() > self.expires:
            names = sorted({h["host"] for h in self.plan["hosts"] if h["container"] in missing})
            raise PlanError(f"the containers of {', '.join(names) or 'the switches'} did not start: none came up "
                            f"for {self.stall:g} s")
        self.processes.wait(0.05)

    def _bridge(self, bridge, pids):
        with netns(pids[bridge["container"]]) as ipr:
            ipr.link("add", ifname=bridge["name"], kind="bridge", state="up")
            self.bridges.setdefault(bridge["container"], {})[bridge["name"]] = index(ipr, bridge["name"])

    def _veth(self, home, veth, pids):
        """The "a" end (a switch port, with its master) is made up; the "b" end by its host."""
        master = {"master": self.bridges[veth["a"]][veth["a_master"]]} if veth["a_master"] else {}
        try:
            home.link("add", ifname=veth["a_name"], kind="veth", net_ns_pid=pids[veth["a"]], state="up", **master,
                      peer={"ifname": veth["b_name"], "net_ns_pid": pids[veth["b"]]})
        except NetlinkError as exc:
            raise PlanError(f"veth {veth['a_host']}:{veth['a_name']}<->{veth['b_host']}:{veth['b_name']}: "
                            f"{exc.args[-1]}") from None
        self.created_up.add((veth["a"], veth["a_name"]))

    def _configure(self, host, pid):
        with netns(pid) as ipr:
            indices = {"lo": LOOPBACK}  # each lookup is a netlink round trip and a decode: once per interface
            for name in host["up"]:
                if (host["container"], name) not in self.created_up:
                    ipr.link("set", ifname=name, state="up")

            def index_of(name):
                if name not in indices:
                    indices[name] = index(ipr, name)
                return indices[name]
            for ifname, cidr in host["addresses"]:
                address, prefixlen = cidr.split("/")
                try:
                    # no duplicate address detection: a file's IPv6 address is usable at once, as
                    # Docker's own are (with it, the address stays "tentative" for a second or two)
                    flags = {"flags": IFA_F_NODAD} if ":" in address else {}
                    ipr.addr("add", index=index_of(ifname), address=address, prefixlen=int(prefixlen), **flags)
                except NetlinkError as exc:
                    raise PlanError(f"host {host['host']}: address {cidr} on {ifname}: {exc.args[-1]}") from None
            for route in host["routes"]:
                spec = {"dst": route["dst"]}
                if route["gateway"]:
                    spec["gateway"] = route["gateway"]
                try:
                    if route["dev"]:
                        spec["oif"] = index_of(route["dev"])
                    ipr.route("add", **spec)
                except (NetlinkError, PlanError) as exc:
                    raise PlanError(f"host {host['host']}: route {route['text']!r}: {exc.args[-1]}") from None


class Handoff:
    """The files of one plan in the hand-off folder."""

    def __init__(self, folder, plan_id):
        self.folder, self.id = folder, plan_id
        self.build = None
        self.started = time.monotonic()

    def abandoned(self, now):
        """Whether this plan is past every bound it has (a netlink call that never returns):
        the helper then stops waiting for it."""
        expires = self.build.expires if self.build is not None else self.started + READ_WAIT
        return now > expires + READ_WAIT + 1

    def path(self, kind):
        suffix = ".json" if kind == "go" else ""
        return os.path.join(self.folder, f"{kind}-{self.id}{suffix}")

    def serve(self, processes):
        try:
            with open(self.path("go")) as f:
                plan = json.load(f)
            self.build = Build(plan, processes, lambda: os.path.exists(self.path("cancel")))
            pids = self.build.run()
            outcome = "ok " + json.dumps(pids, separators=(",", ":"))
        except Cancelled:
            outcome = "cancelled"
        except PlanError as exc:
            outcome = str(exc)
        except Exception as exc:  # anything else still reaches simlab, as a reason
            outcome = f"{type(exc).__name__}: {exc}"
        self.answer(outcome)

    def answer(self, outcome):
        """Write the outcome, one line, into the FIFO simlab's exec is blocked reading: it
        wakes at once. Opened read-write, the FIFO never blocks this side and keeps the line
        until simlab opens it. Then wait until simlab has read it: ending the helper under
        simlab's exec would leave some engines never closing that exec's stream."""
        try:
            fifo = os.open(self.path("answer"), os.O_RDWR)
            os.write(fifo, (" ".join(outcome.split()) + "\n").encode())
        except OSError:
            fifo = None
        deadline = time.monotonic() + READ_WAIT
        while not os.path.exists(self.path("read")) and time.monotonic() < deadline:
            time.sleep(POLL)
        if fifo is not None:
            os.close(fifo)
        for kind in ("go", "answer", "read", "cancel"):
            try:
                os.unlink(self.path(kind))
            except OSError:
                pass


def close(folder):
    """Take no more plans: under the lock every hand-off takes, mark the folder closed."""
    with open(os.path.join(folder, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        open(os.path.join(folder, "closed"), "w").close()


def main():
    folder = sys.argv[1]
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else IDLE
    born = last_work = time.monotonic()
    processes = Processes()
    serving = {}  # plan id -> (Handoff, thread)
    closing = False
    while True:
        signal.alarm(WATCHDOG)  # a main loop that stops turning ends the process; the engine removes it
        for name in os.listdir(folder):
            if name.startswith("go-") and name.endswith(".json") and name[3:-5] not in serving:
                handoff = Handoff(folder, name[3:-5])
                thread = threading.Thread(target=handoff.serve, args=(processes,), daemon=True)
                serving[handoff.id] = handoff, thread
                thread.start()
        now = time.monotonic()
        for plan_id, (handoff, thread) in list(serving.items()):
            if not thread.is_alive() or handoff.abandoned(now):
                del serving[plan_id]
        if serving:
            last_work = now
        if processes.waiting:
            processes.scan()
        if closing and not serving:
            return 0
        if not closing and (now - last_work > idle or now - born > MAX_LIFE):
            close(folder)
            closing = True  # one more look at the folder: a plan handed over just before
            continue
        # a scan every SCAN seconds, but never more than a twentieth of the time (many processes)
        time.sleep(max(SCAN, 20 * processes.cost) if processes.waiting else POLL)


if __name__ == "__main__":
    sys.exit(main())
