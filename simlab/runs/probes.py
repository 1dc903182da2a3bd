"""The scenario's probes that tell whether a lab is where the scenario is after step N.

Only read-only kinds run (a serve step would start a server in the learner's lab), and
for each packet (kind, host, namespace, target) only the last probe up to N: a later
probe of the same packet says what holds at that point. Which of these still hold at N
is told by running them on the reference lab (reference.py); verify then runs those on
the learner's lab, all at once, each in a shell of its own, so that the windows of
those that get no answer overlap.
"""

from __future__ import annotations

import dataclasses

from simlab.labs.lab import Lab, run_parallel
from simlab.model.scenario import Scenario
from simlab.results import StepResult
from simlab.runs.runner import judge
from simlab.runs.script import run_batch
from simlab.steps import Step, StepRun, kind_of

PROBE_KINDS = {"ping", "connect", "route", "trace", "neigh", "http"}  # read-only; serve starts a server
NEEDS_A_SERVER = {"connect", "http"}


def probes_until(scenario: Scenario, upto: int) -> tuple[list[tuple[int, Step]], list[str]]:
    """The probes to run for the point after step ``upto``: the last one of each kind, place
    and target; connect and http probes only where no serve step of the scenario comes
    first (verify starts no server in the learner's lab)."""
    last: dict[tuple, tuple[int, Step]] = {}
    skipped = []
    served = False
    for index, step in enumerate(scenario.steps[:upto], 1):
        kind = kind_of(step).key
        served = served or kind == "serve"
        if kind not in PROBE_KINDS:
            continue
        if kind in NEEDS_A_SERVER and served:
            skipped.append(f"step {index} {step.title!r}: needs the scenario's server (serve), which verify "
                           f"does not start in your lab")
            continue
        key = (kind, step.host, step.netns, getattr(step, "target", ""), getattr(step, "port", 0),
               getattr(step, "url", ""))
        last.pop(key, None)
        last[key] = index, dataclasses.replace(step, evidence=[], within=None)
    return list(last.values()), skipped


def run_probes(lab: Lab, probes: list[tuple[int, Step]]) -> list[StepResult]:
    """Run the probes (each with its index in the scenario) on the lab all at once, each in a
    shell of its own, so that the windows of those that get no answer overlap; their
    results in the same order."""
    def one(probe: tuple[int, Step]) -> StepResult:
        index, step = probe
        own = Lab(lab.name, lab.engine, lab.containers)  # its own shell on the host
        try:
            return judge(index, next(run_batch(own, step.host, [step]), None) or StepRun(step))
        finally:
            own.close_shells()
    return run_parallel(one, probes)
