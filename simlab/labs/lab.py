"""A lab: the running containers of one topology, found again by their labels.

``start_lab`` creates the hosts (and a switch per shared segment) in
parallel, wires them with the fabric, applies each host's setup commands,
and removes everything it made if any of that fails or is interrupted.
``destroy_lab``, ``list_labs`` and ``open_lab`` find containers by the
``simlab.lab`` label, never by name patterns.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from simlab.engines.client import ContainerSpec, ExecResult
from simlab.engines.interface import EngineAPI
from simlab.errors import Cancelled, EngineError, InputError, NameTaken, PrivilegedRefused, SimlabError
from simlab.events import Emit, Event, Tally, ignore
from simlab.labs.fabric import (
    INFRA_IMAGE,
    cancel_plan,
    plan_fabric,
    remove_stale_helpers,
    shared_helper,
    start_helper,
    switched_segments,
    wire,
)
from simlab.labs.images import ensure_host_images
from simlab.labs.security import (
    HOST_CAPS,
    Trust,
    check_trust,
    engine_isolation,
    host_options,
    require_isolation,
    share_sysfs,
)
from simlab.labs.shell import MAX_OUTPUT, HostShell, cut_note
from simlab.model.topology import MAX_NAME, Host, Topology, valid_name

LABEL_LAB = "simlab.lab"
LABEL_NODE = "simlab.host"
LABEL_ROLE = "simlab.role"
LABEL_FILE = "simlab.file"
MAX_LAB_NAME = MAX_NAME + 8  # a scenario's name plus the suffix that keeps copies apart
LABEL_RUN = "simlab.run"  # one `up`: a rollback removes only what this start made
# Hosts route only what a scenario says: forwarding is off unless a host
# turns it on, whatever the engine host's own setting would leak in.
# ICMP errors unthrottled: a router otherwise answers a second probe within a second with silence.
DEFAULT_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv4.icmp_ratelimit": "0"}
# Docker turns IPv6 off in a container that is on no IPv6 network; a host with an IPv6
# address or route gets it back (``default`` for the interfaces the fabric moves in later).
# Its ICMPv6 errors are not rate-limited either (see icmp_ratelimit in the README).
IPV6_SYSCTLS = {"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.default.disable_ipv6": "0",
                "net.ipv6.icmp.ratelimit": "0"}

MAX_PARALLEL = 8  # engine calls at once: more only queue up in the engine
SETUP_TIMEOUT = 120  # seconds a host's setup command may take
SHELL_ENV = {"LC_ALL": "C"}  # the hosts' shells: probes read the English messages of ping and friends
NAME_ATTEMPTS = 5  # names tried when another run takes the chosen one at the same moment
# Signals that end simlab the way Ctrl-C does: `kill`, a CI timeout, a closed terminal or ssh.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
T = TypeVar("T")
R = TypeVar("R")


def container_name(lab: str, node: str) -> str:
    return f"simlab-{lab}-{node}"


@dataclass
class Lab:
    """A running lab: its name and the container of each host."""

    name: str
    engine: EngineAPI
    containers: dict[str, str] = field(default_factory=dict)
    _shells: dict[str, HostShell] = field(default_factory=dict, repr=False)

    def shell(self, host: str) -> HostShell:
        """The long-lived shell of ``host`` that steps, captures and setup share (see shell.py)."""
        if host not in self._shells:
            self._shells[host] = HostShell(self.engine, self.container(host), SHELL_ENV)
        return self._shells[host]

    def close_shells(self) -> None:
        """End every host's shell: a lab kept after a run keeps no simlab process."""
        for shell in self._shells.values():
            shell.close()

    def container(self, host: str) -> str:
        if host not in self.containers:
            known = ", ".join(sorted(self.containers))
            raise InputError(f"lab {self.name} has no host {host!r} (hosts: {known})")
        return self.containers[host]

    def exec(self, host: str, command: str, netns: str | None = None) -> ExecResult:
        """Run a shell command on ``host``, inside ``netns`` when given; its first MAX_OUTPUT bytes
        of output (the rest counted in ``cut``, and noted)."""
        result = self.engine.exec(self.container(host), shell_argv(command, netns), max_output=MAX_OUTPUT)
        if result.cut:
            result.output += f"\n[{cut_note(result.cut)}]"
        return result


def shell_argv(command: str, netns: str | None = None) -> list[str]:
    argv = ["sh", "-c", command]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


@dataclass
class LabSummary:
    name: str
    file: str
    hosts: dict[str, str]  # host -> container state


def new_run_id() -> str:
    """The id of one start: every container it makes carries it, so that it removes exactly those."""
    return uuid.uuid4().hex[:12]


def start_lab(engine: EngineAPI, topology: Topology, name: str, emit: Emit = ignore,
              privileged: bool = False, file: str = "", cancel: threading.Event | None = None,
              exact: bool = True, run_id: str | None = None, shells: Iterable[str] = (),
              trust: Trust | None = None) -> Lab:
    """Start every host, wire them, run setup; on any failure or Ctrl-C remove what was made.
    The hosts in ``shells`` (those a run's steps use) get their shell as soon as they run.
    ``cancel`` set from another thread stops the start (after the containers it is creating).
    With ``exact`` False, ``name`` is a base: the lab gets it if free, else it plus a suffix,
    and a name that another run claims at the same moment makes this one take another.
    ``run_id`` (default: a new one) labels every container this start makes. ``trust`` (default:
    the default mode, with every host privileged if ``privileged``) is checked on ``topology``
    before anything starts: InputError for what it does not grant, EngineError for an engine
    that hardened mode cannot use."""
    trust = trust or Trust(privileged=privileged)
    check_trust(topology, trust, file)
    privileged = trust.privileged
    if not valid_name(name, MAX_LAB_NAME):
        raise InputError(f"lab name {name!r} must be letters, digits, '_', '.' or '-' (at most {MAX_LAB_NAME}), "
                         f"starting with a letter or digit")
    if trust.untrusted:
        require_isolation(engine)
    ensure_host_images(engine, topology, emit)
    existing = engine.containers({LABEL_ROLE: None})  # labs and fabric helpers, in one call
    helpers = [c for c in existing if c.labels.get(LABEL_ROLE) == "fabric"]
    remove_stale_helpers(engine, helpers, time.time())
    taken = {c.labels[LABEL_LAB] for c in existing if LABEL_LAB in c.labels}
    run_id = run_id or new_run_id()
    for attempt in range(NAME_ATTEMPTS):
        lab_name = name if attempt == 0 else f"{name}-{uuid.uuid4().hex[:6]}"
        if lab_name in taken:
            if exact:
                raise InputError(f"a lab named {name} is already up (another run's, or one kept with --keep; "
                                 f"`simlab ls` lists them): pass another --name, or `simlab down {name}` "
                                 f"if it is one you left")
            continue
        try:
            return _start(engine, topology, lab_name, run_id, emit, privileged, file, cancel, shared_helper(helpers),
                          {*shells, *(host.name for host in topology.hosts.values() if host.setup)})
        except NameTaken:
            if exact:
                raise NameTaken(f"another run is starting a lab named {name} at this moment; "
                                f"pass another --name") from None
    raise InputError(f"no free lab name found for {name} after {NAME_ATTEMPTS} tries; pass --name")


def _start(engine: EngineAPI, topology: Topology, name: str, run_id: str, emit: Emit, privileged: bool,
           file: str, cancel: threading.Event | None, helper: str | None, shells: set[str]) -> Lab:
    """Create every container (and a fabric helper if the engine has none running), hand the
    wiring plan to the helper, then start the containers: the helper wires each link as soon
    as both its ends run, while the engine starts the rest."""
    lab = Lab(name, engine)
    started = time.monotonic()
    new_helper = partial(start_helper, engine, {LABEL_ROLE: "fabric"}, emit)
    wiring: Future | None = None
    nodes = _Nodes(lab, emit, shells)
    nodes.pool.submit(engine.kind)  # asked for after the wiring: known by then
    try:
        hosts, switches, helper = nodes.create(topology, run_id, privileged, file, helper or new_helper)
        plan = plan_fabric(topology, hosts, switches)
        emit(Event("lab.wiring", f"wiring {len(topology.links)} link(s), {len(topology.segments)} segment(s)", name))
        wiring = in_background(partial(wire, engine, helper, plan, new_helper))
        nodes.started()
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"starting lab {name} was cancelled")
        helper, pids = _wired(wiring, plan)
        emit(Event("lab.wired", f"wired {len(topology.links)} link(s), {len(topology.segments)} segment(s)", name))
        if engine_isolation(engine):
            share_sysfs(engine, helper, [pids[container] for container in hosts.values()])
        # Setup commands can take long: on Ctrl-C do not wait for them, the rollback removes
        # their containers, which ends them.
        tasks = [partial(_run_setup, lab, host, emit) for host in topology.hosts.values() if host.setup]
        run_parallel(lambda task: task(), tasks, wait_on_error=False)
    except BaseException:
        nodes.stop()
        emit(Event("lab.rollback", "removing what was started", name))
        lab.close_shells()
        if wiring is not None and not wiring.done():
            assert helper is not None  # the wiring began once create() had the helper
            cancel_plan(engine, helper, plan)
        remove_run(engine, run_id, name, emit)
        raise
    emit(Event("lab.up", f"lab {name} is up: {len(topology.hosts)} host(s) in "
               f"{time.monotonic() - started:.1f}s", name))
    return lab


def _wired(wiring: Future, plan: dict) -> tuple[str, dict[str, int]]:
    """The helper that wired the lab and the containers' PIDs, once every container runs:
    within the plan's limit (the helper bounds itself the same way)."""
    try:
        return wiring.result(timeout=plan["limit"] + 10)
    except FutureTimeout:
        raise EngineError(f"wiring the lab failed: the fabric helper gave no answer within {plan['limit']:g} s "
                          f"of the containers' start") from None


def in_background(task: Callable[[], T]) -> Future:
    """Run ``task`` in a thread of its own (a daemon: it never holds the process up)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(task())
        except BaseException as exc:
            future.set_exception(exc)
    threading.Thread(target=run, daemon=True).start()
    return future


class _Nodes:
    """The lab's containers, created all at once (and the fabric helper started, when the
    engine has none running), each started as soon as it is created: the creates come first
    in the queue, so the wiring plan (which needs every id) goes out early."""

    def __init__(self, lab: Lab, emit: Emit, shells: set[str]) -> None:
        self.lab, self.emit, self.shells = lab, emit, shells
        self.pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL)
        self.starts: list[Future] = []
        self._lock = threading.Lock()
        self.total = self.created = self.running = 0  # containers: all, created, started

    def create(self, topology: Topology, run_id: str, privileged: bool, file: str,
               helper: str | Callable[[], str]) -> tuple[dict[str, str], dict[str, str], str]:
        """Create the hosts (into ``lab.containers`` as each is made) and a switch per shared segment; return
        the container of each host and of each switch (by segment), and the helper's id."""
        lab = self.lab
        names = host_entries(topology)
        hosts = [_host_spec(lab.name, host, privileged, run_id, file, names) for host in topology.hosts.values()]
        switched = switched_segments(topology)
        switches = [ContainerSpec(container_name(lab.name, f"-sw-{seg}"), INFRA_IMAGE,
                                  _labels(lab.name, seg, "switch", run_id, file), hostname=seg) for seg in switched]
        self.total = len(hosts) + len(switches)
        helper_future = self.pool.submit(helper if callable(helper) else lambda: helper)
        created = [self.pool.submit(self._create, spec) for spec in hosts + switches]
        ids = _results([*created, helper_future])
        helper_id = ids.pop()
        lab.containers = dict(zip(topology.hosts, ids))  # the same, in the file's order
        return dict(lab.containers), dict(zip(switched, ids[len(hosts):])), helper_id

    def _create(self, spec: ContainerSpec) -> str:
        container_id = self.lab.engine.create(spec)
        with self._lock:
            if spec.labels[LABEL_ROLE] == "host":  # before its start, which may open its shell
                self.lab.containers[spec.labels[LABEL_NODE]] = container_id
            self.created += 1
            self.emit(Event("lab.node_created", f"created {spec.name}", self.lab.name,
                            Tally(self.created, self.total)))
            self.starts.append(self.pool.submit(self._start_node, container_id, spec))
        return container_id

    def _start_node(self, container_id: str, spec: ContainerSpec) -> None:
        _start_node(self.lab, self.shells, (container_id, spec))
        with self._lock:
            self.running += 1
            self.emit(Event("lab.node_started", f"started {spec.name}", self.lab.name,
                            Tally(self.running, self.total)))

    def started(self) -> None:
        """Wait until every container has started."""
        _results(self.starts)
        self.pool.shutdown()

    def stop(self) -> None:
        """Cancel what has not begun and wait for what has, so that a rollback finds it all."""
        with deferred_interrupts():  # a second Ctrl-C must not cut the wait short
            self.pool.shutdown(wait=True, cancel_futures=True)


def _results(futures: list[Future]) -> list:
    """The futures' results, in order; the first error (as soon as there is one) raised."""
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    for future in done:
        if (error := future.exception()) is not None:
            raise error
    return [future.result() for future in futures]


def _start_node(lab: Lab, shells: set[str], node: tuple[str, ContainerSpec]) -> None:
    """Start a container; open its host's shell when a step or setup command will need it
    (the exec that costs, while the engine still starts the rest and the fabric wires)."""
    container_id, spec = node
    try:
        lab.engine.start(container_id, spec.name, spec.privileged)
    except PrivilegedRefused as exc:
        raise PrivilegedRefused(f"{exc} simlab's default (capabilities {', '.join(HOST_CAPS)}, apparmor "
                                f"unconfined, writable /proc/sys/net) runs every step of the shipped "
                                f"scenarios.") from None
    host = spec.labels.get(LABEL_NODE)
    if spec.labels.get(LABEL_ROLE) == "host" and host in shells:
        lab.shell(host).open()


def host_entries(topology: Topology) -> list[str]:
    """/etc/hosts lines ("NAME:ADDRESS") that let every host reach the others by name, as on a
    Docker network: NAME is the host's first address (its first interface other than lo, in
    file order; lo when it has no other), NAME-IFACE the first address of each interface."""
    entries = []
    for host in topology.hosts.values():
        interfaces = [i for i, addresses in host.addresses.items() if addresses]
        interfaces.sort(key=lambda iface: iface == "lo")  # stable: file order, lo last
        for n, iface in enumerate(interfaces):
            address = host.addresses[iface][0].ip
            if n == 0:
                entries.append(f"{host.name}:{address}")
            if valid_name(f"{host.name}-{iface}"):
                entries.append(f"{host.name}-{iface}:{address}")
    return entries


def _host_spec(lab: str, host: Host, privileged: bool, run_id: str, file: str,
               names: list[str]) -> ContainerSpec:
    options = host_options(privileged or host.privileged)
    return ContainerSpec(
        name=container_name(lab, host.name), image=host.image, labels=_labels(lab, host.name, "host", run_id, file),
        hostname=host.name, sysctls={**DEFAULT_SYSCTLS, **(IPV6_SYSCTLS if uses_ipv6(host) else {}), **host.sysctls},
        privileged=options.privileged,
        cap_add=options.cap_add, cap_drop=options.cap_drop, security_opt=options.security_opt,
        readonly_paths=options.readonly_paths, cgroupns=options.cgroupns, extra_hosts=names)


def uses_ipv6(host: Host) -> bool:
    """Whether the file gives ``host`` an IPv6 address (other than lo's own ::1) or route."""
    addresses = [a.ip for addrs in host.addresses.values() for a in addrs if not a.ip.is_loopback]
    routes = [route.via or route.destination for route in host.routes]  # None: a default route via nobody
    return any(found is not None and found.version == 6 for found in addresses + routes)


def _labels(lab: str, node: str, role: str, run_id: str, file: str) -> dict[str, str]:
    return {LABEL_LAB: lab, LABEL_NODE: node, LABEL_ROLE: role, LABEL_RUN: run_id, LABEL_FILE: file}


def _run_setup(lab: Lab, host: Host, emit: Emit) -> None:
    for command in host.setup:  # few and short: one at a time keeps their errors apart
        result = lab.shell(host.name).run(command, timeout=SETUP_TIMEOUT)
        if result.exit_code != 0:
            raise InputError(f"setup of host {host.name} failed: `{command}` exited {result.exit_code}: "
                             f"{result.output.strip()}")
    emit(Event("lab.setup_done", f"{host.name}: {len(host.setup)} setup command(s)", lab.name))


def open_lab(engine: EngineAPI, name: str) -> Lab:
    """The running lab called ``name``; InputError if there is none."""
    found = engine.containers({LABEL_LAB: name, LABEL_ROLE: "host"})
    if not found:
        raise InputError(f"no lab named {name!r} is up; `simlab ls` lists the labs")
    return Lab(name, engine, {c.labels[LABEL_NODE]: c.id for c in found})


def destroy_lab(engine: EngineAPI, name: str | None, emit: Emit = ignore) -> int:
    """Remove every container of lab ``name`` (all labs when None); return how many. Emits
    'lab.removing' with how many there are, then 'lab.node_removed' as each goes."""
    return _remove(engine, {LABEL_LAB: name}, emit, name or "every lab")


def remove_run(engine: EngineAPI, run_id: str, lab: str, emit: Emit = ignore) -> None:
    """Remove every container one start made. Where the engine cannot be reached, say that
    the lab is left and how to remove it, instead of failing over the cleanup."""
    try:
        _remove(engine, {LABEL_RUN: run_id})
    except SimlabError as exc:
        emit(Event("lab.left", f"the lab {lab} is left on the engine ({exc}); `simlab down {lab}` "
                               f"removes it once the engine answers", lab))


def _remove(engine: EngineAPI, labels: dict[str, str | None], emit: Emit = ignore, lab: str = "") -> int:
    with deferred_interrupts():
        found = engine.containers(labels)
        if found:
            emit(Event("lab.removing", f"removing {len(found)} container(s) of {lab}", lab, Tally(0, len(found))))
        removed = 0
        lock = threading.Lock()

        def remove(container: str) -> None:
            nonlocal removed
            engine.remove(container)
            with lock:
                removed += 1
                emit(Event("lab.node_removed", f"removed {container[:12]}", lab, Tally(removed, len(found))))
        run_parallel(remove, [c.id for c in found])
    return len(found)


def list_labs(engine: EngineAPI) -> list[LabSummary]:
    labs: dict[str, LabSummary] = {}
    for c in engine.containers({LABEL_LAB: None, LABEL_ROLE: "host"}):
        lab = labs.setdefault(c.labels[LABEL_LAB], LabSummary(c.labels[LABEL_LAB], c.labels.get(LABEL_FILE, ""), {}))
        lab.hosts[c.labels.get(LABEL_NODE, c.name)] = c.state
    return sorted(labs.values(), key=lambda lab: lab.name)


def run_parallel(fn: Callable[[T], R], items: Iterable[T], wait_on_error: bool = True) -> list[R]:
    """``[fn(x) for x in items]`` in threads. On the first error (or Ctrl-C) cancel what has
    not started and raise; with ``wait_on_error`` first wait for what has started, so that
    callers clean up after everything it made."""
    items = list(items)
    if len(items) <= 1:
        return [fn(x) for x in items]
    pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)))
    try:
        results = _results([pool.submit(fn, x) for x in items])
    except BaseException:
        with deferred_interrupts():  # a second Ctrl-C must not cut the wait short
            pool.shutdown(wait=wait_on_error, cancel_futures=True)
        raise
    pool.shutdown()
    return results


@contextmanager
def deferred_interrupts(reraise: bool = True) -> Iterator[None]:
    """Let cleanup finish: a Ctrl-C (or another stop signal) during the block is held and, with
    ``reraise``, raised after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum))
                for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received and reraise:
            raise KeyboardInterrupt
