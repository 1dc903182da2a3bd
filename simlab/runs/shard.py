"""Splitting one batch over N jobs (`simlab validate --shard I/N`), the same way on every machine.

Every job finds the same files (the paths given, each folder sorted), reads them all and
computes the same split from them alone: each scenario gets a weight (its recorded duration
from ``--durations FILE``, else an estimate from its size), then the heaviest goes first to
the lightest shard (longest-processing-time first; ties broken by file name and shard
number, never by the order a file system lists files). Nothing here touches an engine.

The scenario set (every file in report order, with a digest of its contents) and the split's
own digest go into each shard's report, so that `simlab merge` can tell reports of different
sets or different splits apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from simlab.errors import InputError
from simlab.model.scenario import Scenario
from simlab.results import ScenarioResult

# A lab's fixed cost, then each host (a container start, ~0.1 s here) and each step: only
# the ratios matter, they rank scenarios when no durations were recorded.
LAB_WEIGHT, HOST_WEIGHT, STEP_WEIGHT = 1.0, 0.15, 0.05


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``total``, counted from 1 (as CI systems number their jobs)."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """``I/N`` as ``Shard``; InputError saying what is wrong otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise InputError(f"--shard {text}: expected I/N, two whole numbers such as 2/3 (shard 2 of 3)")
    index, total = int(match[1]), int(match[2])
    if total < 1:
        raise InputError(f"--shard {text}: the number of shards must be at least 1")
    if not 1 <= index <= total:
        raise InputError(f"--shard {text}: shards are counted from 1 to {total} (1/{total} ... {total}/{total})")
    return Shard(index, total)


@dataclass(frozen=True)
class ScenarioSet:
    """Every file a run found, in the order its report lists them, and one digest of their
    names and contents: two machines agree on it only when they ran the same files."""

    files: tuple[str, ...]
    digest: str

    def to_dict(self) -> dict:
        return {"digest": self.digest, "files": list(self.files)}


def scenario_set(files: list[str]) -> ScenarioSet:
    outer = hashlib.sha256()
    for name in files:
        outer.update(f"{name}\0{_content_digest(name)}\n".encode("utf-8", "surrogateescape"))
    return ScenarioSet(tuple(files), "sha256:" + outer.hexdigest())


def _content_digest(name: str) -> str:
    try:
        return hashlib.sha256(Path(name).read_bytes()).hexdigest()
    except OSError:
        return "-"  # a path that is not there (its result says so): its name alone counts


def size_weight(scenario: Scenario) -> float:
    """The estimate used when no duration was recorded: a lab, its hosts, its steps."""
    return LAB_WEIGHT + HOST_WEIGHT * len(scenario.topology.hosts) + STEP_WEIGHT * len(scenario.steps)


def read_durations(path: str) -> dict[str, float]:
    """Each scenario file's recorded duration, from any `simlab validate --json` or `simlab
    merge --json` report (the plain list older versions wrote too). Keys: file, and name."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--durations {path}: cannot read it: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"--durations {path}: not a JSON report of simlab validate ({exc})") from None
    results = data.get("results") if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise InputError(f"--durations {path}: not a JSON report of simlab validate (no results in it)")
    durations: dict[str, float] = {}
    for entry in results:
        if isinstance(entry, dict) and isinstance(entry.get("duration"), (int, float)) and entry["duration"] > 0:
            for key in (entry.get("file"), f"name:{entry.get('scenario')}"):
                if isinstance(key, str):
                    durations[key] = float(entry["duration"])
    return durations


def weights(scenarios: list[Scenario], durations: dict[str, float] | None) -> list[float]:
    """One weight per scenario: its recorded duration (by file, else by name), else the mean of
    those recorded, else (no durations at all) its size."""
    if durations is None:
        return [size_weight(s) for s in scenarios]
    found = [durations.get(s.file, durations.get(f"name:{s.name}")) for s in scenarios]
    known = [d for d in found if d is not None]
    fallback = sum(known) / len(known) if known else None
    return [d if d is not None else fallback if fallback is not None else size_weight(s)
            for d, s in zip(found, scenarios)]


def split(keys: list[str], item_weights: list[float], total: int) -> list[int]:
    """The shard (1..total) of each item: heaviest first, each to the shard with the least
    weight so far (then the fewest items). Depends only on the keys and weights, not on
    their order."""
    if len(keys) != len(item_weights):
        raise ValueError("one weight per key")
    order = sorted(range(len(keys)), key=lambda i: (-item_weights[i], keys[i], i))
    loads, counts = [0.0] * total, [0] * total
    shard_of = [0] * len(keys)
    for i in order:
        lightest = min(range(total), key=lambda s: (loads[s], counts[s], s))  # weightless items: by count
        loads[lightest] += item_weights[i]
        counts[lightest] += 1
        shard_of[i] = lightest + 1
    return shard_of


def split_digest(keys: list[str], shard_of: list[int]) -> str:
    """A digest of which file went to which shard: equal on every machine that split alike."""
    text = "\n".join(f"{shard}\0{key}" for key, shard in sorted(zip(keys, shard_of)))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def imbalance(item_weights: list[float], shard_of: list[int], total: int) -> float:
    """Longest shard over the mean shard (1.0: perfectly even)."""
    loads = [0.0] * total
    for weight, shard in zip(item_weights, shard_of):
        loads[shard - 1] += weight
    mean = sum(loads) / total
    return max(loads) / mean if mean else 1.0


@dataclass
class ShardRun:
    """What one shard runs: its part of the files that could not run (each an error result)
    and of the scenarios, with what its report records about the whole."""

    shard: Shard
    scenario_set: ScenarioSet
    split: str
    errors: list[ScenarioResult]
    scenarios: list[Scenario]

    def report_header(self) -> dict:
        return {"index": self.shard.index, "total": self.shard.total, "split": self.split}


def select(shard: Shard, errors: list[ScenarioResult], scenarios: list[Scenario],
           durations: dict[str, float] | None = None) -> ShardRun:
    """Shard ``shard``'s part of a run whose report would list ``errors`` then ``scenarios``.
    A result for a file that could not run weighs nothing but still belongs to one shard, so
    that the merged report lists it once, as one run would."""
    keys = [r.file for r in errors] + [s.file for s in scenarios]
    item_weights = [0.0] * len(errors) + weights(scenarios, durations)
    shard_of = split(keys, item_weights, shard.total)
    mine = [owner == shard.index for owner in shard_of]
    return ShardRun(shard, scenario_set(keys), split_digest(keys, shard_of),
                    [r for r, keep in zip(errors, mine) if keep],
                    [s for s, keep in zip(scenarios, mine[len(errors):]) if keep])
