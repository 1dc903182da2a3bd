"""The sysctls a scenario sets, read on a lab and compared with the reference.

A scenario sets sysctls in its topology (a host's ``sysctls``) and in its steps
(``sysctl -w KEY=VALUE`` on a host). ``net.ipv4.ip_forward`` is left out: the state
(collect.py) already reads forwarding in every namespace. Values are read with one
exec per host, all hosts at once.
"""

from __future__ import annotations

import re
import shlex

from simlab.labs.lab import Lab, run_parallel
from simlab.model.scenario import Scenario
from simlab.steps import kind_of

COVERED = {"net.ipv4.ip_forward", "net/ipv4/ip_forward"}
SYSCTL_W = re.compile(r"\bsysctl\s+(?:-\w+\s+)*-w\s+([\w./-]+)=")
KEY = re.compile(r"^[\w][\w./-]*$")

Sysctls = dict[str, dict[str, str]]  # host -> key -> value ("" when it cannot be read)


def scenario_sysctls(scenario: Scenario, upto: int) -> dict[str, list[str]]:
    """The keys, by host, that the topology or steps 1..``upto`` set in a host's own namespace."""
    keys = {name: [k for k in host.sysctls if k not in COVERED] for name, host in scenario.topology.hosts.items()}
    for step in scenario.steps[:upto]:
        if kind_of(step).changes_lab and not step.netns:
            for command in kind_of(step).commands(step):
                keys[step.host] += [k for k in SYSCTL_W.findall(command) if k not in COVERED]
    return {host: sorted(set(k for k in found if KEY.match(k))) for host, found in keys.items() if found}


def read_sysctls(lab: Lab, keys: dict[str, list[str]]) -> Sysctls:
    """The values of ``keys`` on each host of ``lab``."""
    def one(host: str) -> tuple[str, dict[str, str]]:
        script = "; ".join(f"printf '%s\\n' \"$(sysctl -n {shlex.quote(k)} 2>/dev/null)\"" for k in keys[host])
        lines = lab.exec(host, script).output.splitlines()
        return host, dict(zip(keys[host], [line.strip() for line in lines] + [""] * len(keys[host])))
    return dict(run_parallel(one, [host for host in keys if host in lab.containers]))


def sysctl_differences(reference: Sysctls, learner: Sysctls) -> list[tuple[str, str, str, str]]:
    """(host, key, the learner's value, the reference's) for every key whose values differ."""
    return [(host, key, learner.get(host, {}).get(key, ""), value)
            for host, values in sorted(reference.items()) for key, value in sorted(values.items())
            if _same(learner.get(host, {}).get(key, "")) != _same(value)]


def _same(value: str) -> str:
    return " ".join(value.split())  # sysctl prints tabs between the numbers of a vector
