"""Runs inside the fabric helper container, on the engine's kernel.

simlab copies this file and pyroute2 into a short-lived helper
container that shares the engine host's PID namespace, so /proc/PID/ns/net
reaches every lab container. It must import nothing but the standard
library and pyroute2. Veth ends are created directly inside the target
namespaces: nothing ever appears in the engine host's own namespace.

Plan (JSON, in the folder named by the first argument): {"bridges": [{"pid", "name"}],
       "veths": [{"a_pid", "a_name", "b_pid", "b_name", "b_master"}],
       "hosts": [{"host", "pid", "up": [names], "addresses": [[ifname, cidr]],
                  "routes": [{"text", "dst", "gateway", "dev"}]}]}
"""

import ctypes
import json
import os
import signal
import sys
import time

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError


class PlanError(Exception):
    pass


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def netns(pid):
    """A netlink socket inside the network namespace of process ``pid``. A socket stays in
    the namespace it was made in, so this thread enters that namespace, makes the socket
    (and a first request on it) and comes back: pyroute2's own netns= forks a child per
    namespace instead, about 40 ms each, most of the wiring time of a big lab."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            ipr = IPRoute()
            index(ipr, "lo")  # the socket exists, made here, before this thread goes back
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


def build(plan):
    switches = {}
    for bridge in plan["bridges"]:
        ipr = switches[bridge["pid"]] = netns(bridge["pid"])
        ipr.link("add", ifname=bridge["name"], kind="bridge")
        ipr.link("set", index=index(ipr, bridge["name"]), state="up")
    with IPRoute() as ipr:
        for veth in plan["veths"]:
            try:
                ipr.link("add", ifname=veth["a_name"], kind="veth", net_ns_pid=veth["a_pid"],
                         peer={"ifname": veth["b_name"], "net_ns_pid": veth["b_pid"]})
            except NetlinkError as exc:
                raise PlanError(f"veth {veth['a_name']}<->{veth['b_name']}: {exc.args[-1]}") from None
    for veth in plan["veths"]:
        if veth["b_master"]:
            sw = switches[veth["b_pid"]]
            sw.link("set", index=index(sw, veth["b_name"]), master=index(sw, veth["b_master"]), state="up")
    for ipr in switches.values():
        ipr.close()
    for host in plan["hosts"]:
        configure_host(host)


def configure_host(host):
    with netns(host["pid"]) as ipr:
        indices = {}  # each lookup is a netlink round trip and a decode: once per interface
        for name in ["lo"] + host["up"]:
            indices[name] = index(ipr, name)
            ipr.link("set", index=indices[name], state="up")
        for ifname, cidr in host["addresses"]:
            address, prefixlen = cidr.split("/")
            try:
                ipr.addr("add", index=indices.get(ifname) or index(ipr, ifname), address=address,
                         prefixlen=int(prefixlen))
            except NetlinkError as exc:
                raise PlanError(f"host {host['host']}: address {cidr} on {ifname}: {exc.args[-1]}") from None
        for route in host["routes"]:
            spec = {"dst": route["dst"]}
            if route["gateway"]:
                spec["gateway"] = route["gateway"]
            if route["dev"]:
                spec["oif"] = index(ipr, route["dev"])
            try:
                ipr.route("add", **spec)
            except (NetlinkError, PlanError) as exc:
                raise PlanError(f"host {host['host']}: route {route['text']!r}: {exc.args[-1]}") from None


def wait_for(path, timeout):
    """Wait until ``path`` exists; False if it did not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


PLAN_WAIT = 10  # seconds: simlab writes the plan as soon as the lab's containers run
READ_WAIT = 10  # seconds for simlab to read the outcome
ANSWER = "answer"  # a FIFO, made in the helper image
LIFETIME = 300  # a hard cap, whatever happens (a netlink call that never returns), plus
PER_ITEM = 0.25  # seconds for each host and link of the plan (fabric.HANDOFF_PER_ITEM)


def wait_for_plan(folder, timeout=PLAN_WAIT):
    """simlab starts the helper early and writes the plan later, then 'ready'."""
    if not wait_for(os.path.join(folder, "ready"), timeout):
        raise PlanError(f"no plan arrived within {timeout} s")
    with open(os.path.join(folder, "plan.json")) as f:
        return json.load(f)


def main():
    folder = sys.argv[1]
    signal.alarm(LIFETIME)  # SIGALRM ends the process: the engine then removes the container
    try:
        plan = wait_for_plan(folder)
        signal.alarm(LIFETIME + int(PER_ITEM * (len(plan["hosts"]) + len(plan["veths"]))))  # as simlab waits
        build(plan)
        outcome, code = "ok", 0
    except PlanError as exc:
        if not os.path.exists(os.path.join(folder, "ready")):
            return 1  # no plan came: simlab is gone, or will start another helper
        outcome, code = str(exc), 1
    except Exception as exc:  # anything else still reaches simlab, as a reason
        outcome, code = f"{type(exc).__name__}: {exc}", 1
    answer(folder, outcome)
    return code


def answer(folder, outcome):
    """Write the outcome, one line, into the FIFO simlab's exec is blocked reading (see
    fabric.run_plan): it wakes at once, and no loop polls for it meanwhile. Opened read-write,
    the FIFO never blocks this side and keeps the line until simlab opens it."""
    fifo = os.open(os.path.join(folder, ANSWER), os.O_RDWR)
    os.write(fifo, (" ".join(outcome.split())[:4000] + "\n").encode())
    # Stay until simlab has read the outcome: if this process ended first, the
    # container would stop under simlab's exec, and some engines then never
    # close that exec's stream.
    wait_for(os.path.join(folder, "read"), timeout=READ_WAIT)
    os.close(fifo)


if __name__ == "__main__":
    sys.exit(main())
