"""How a learner's lab differs from the reference, and why a probe fails, in the learner's words.

``compare`` turns the facts two states differ in (diff.py: namespaces, interfaces,
up, bridge masters, addresses, routes, forwarding, NAT and filter rules; never MACs,
link indexes or rule order) into ``Difference`` objects: what is missing or wrong
(they make the lab differ) and what is only extra and harmless (notes). Each missing
piece names the step of the scenario that makes it, so the learner knows which
section to reread. ``explain_probe`` says, for a probe that failed, where its packet
goes astray in the learner's lab (paths.py) and which differences lie on its way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from simlab.results import StepResult
from simlab.state.diff import Change, diff_states
from simlab.state.model import ROOT, LabState
from simlab.state.paths import Hop, Place, Walk, reply_walk, walk, where

# Extra facts in the learner's lab that change no outcome the scenario checks.
HARMLESS_EXTRA = {"route", "namespace", "interface", "up", "forwarding", "master"}


@dataclass(frozen=True)
class Origin:
    """The step of the scenario that makes a fact (index 0: the lab as the topology builds it)."""

    index: int = 0
    title: str = ""
    section: str = ""

    def describe(self) -> str:
        if not self.index:
            return "set up by the scenario's topology when the lab starts"
        section = f" (section {self.section!r})" if self.section else ""
        return f"step {self.index} {self.title!r}{section}"


@dataclass
class Difference:
    """One way the learner's lab differs from the reference: ``missing`` (the reference has
    it, the lab does not) or extra; ``text`` says it as a learner would read it."""

    change: Change
    text: str
    missing: bool
    harmless: bool = False
    origin: Origin = field(default_factory=Origin)

    @property
    def place(self) -> Place:
        return self.change.host, self.change.netns

    def source(self) -> str:
        """Where the fact comes from: the scenario's step for a missing one; an extra one is not the scenario's."""
        return self.origin.describe() if self.missing else "not in the scenario here"

    def to_dict(self) -> dict:
        return {"text": self.text, "missing": self.missing, "harmless": self.harmless,
                "step": self.origin.index or None, "section": self.origin.section or None,
                **{k: v for k, v in self.change.to_dict().items() if k != "change"}}


def compare(reference: LabState, learner: LabState, origins: dict[tuple, Origin] | None = None
            ) -> list[Difference]:
    """How ``learner`` differs from ``reference``; ``origins`` maps a fact (kind, host, netns,
    interface, item) to the step that makes it (see ``origins_of``)."""
    found = []
    learner_rules = _rules_by_place(learner)
    for change in diff_states(learner, reference):  # "added": in the reference, not in the lab
        missing = change.added
        difference = Difference(change, describe(change, missing, learner_rules), missing,
                                harmless=not missing and change.what in HARMLESS_EXTRA)
        key = (change.what, change.host, change.netns, change.interface, change.item)
        difference.origin = (origins or {}).get(key, Origin())
        found.append(difference)
    _pair_wrong_values(found)
    _routes_of_down_links(found)
    return found


def sysctl_difference(host: str, key: str, value: str, expected: str, origin: Origin) -> Difference:
    """A sysctl of ``host`` whose value is not the reference's."""
    change = Change(True, "sysctl", host, ROOT, f"{key} = {expected}")
    text = f"{host}: {key} = {value or '(cannot be read)'}, the scenario sets {expected} (sysctl -w {key}={expected})"
    return Difference(change, text, True, origin=origin)


def origins_of(changes: dict[int, tuple[str, str, list[Change]]]) -> dict[tuple, Origin]:
    """Each fact a step adds, by the first step that adds it: ``changes`` maps a step's
    index to its title, section and the changes it made (StateRecorder's)."""
    found: dict[tuple, Origin] = {}
    for index in sorted(changes):
        title, section, made = changes[index]
        for change in made:
            key = (change.what, change.host, change.netns, change.interface, change.item)
            if change.added and key not in found:
                found[key] = Origin(index, title, section)
    return found


def describe(change: Change, missing: bool, rules: dict[Place, list[str]] | None = None) -> str:
    """One difference in the learner's words."""
    at = where((change.host, change.netns))
    item, name = change.item, change.interface
    if change.what == "host":
        return f"{change.host} is {item} in the reference" if missing else f"{change.host} is {item}"
    if change.what == "namespace":
        return f"{change.host} has no namespace {item} (ip netns add {item})" if missing else \
            f"{change.host} has a namespace {item} the scenario does not make"
    if change.what == "interface":
        iface = item.split(" ")[0]
        return f"there is no {item} in {at}" if missing else f"{at} has an extra interface {iface}"
    if change.what == "up":
        if missing:
            return f"{name} is down ({at}): ip link set {name} up"
        return f"{name} is up ({at}), down in the reference"
    if change.what == "master":
        return f"{name} is not plugged into {item} ({at})" if missing else f"{name} is plugged into {item} ({at})"
    if change.what == "address":
        return f"{name} in {at} lacks the address {item}" if missing else \
            f"{name} in {at} has an address the reference lacks: {item}"
    if change.what == "route":
        return _route_text(at, item, missing)
    if change.what == "forwarding":
        return f"{at} does not forward (net.ipv4.ip_forward = 0)" if missing else \
            f"{at} forwards (net.ipv4.ip_forward = 1), the reference does not"
    if change.what == "rule":
        return _rule_text(change, at, missing, (rules or {}).get((change.host, change.netns), []))
    return f"{'missing' if missing else 'extra'} {change.what} {item} ({at})"


def _route_text(at: str, route: str, missing: bool) -> str:
    dst = route.split()[0] if route else "?"
    target = "a default route" if dst == "default" else f"a route to {dst}"
    if missing:
        lacks = f"{at} has no route to {dst}" if dst != "default" else f"{at} has no default route"
        return f"{lacks} (the reference: {route})"
    return f"{at} has {target} the reference lacks: {route}"


def _rule_text(change: Change, at: str, missing: bool, learner_rules: list[str]) -> str:
    table, _, rule = change.item.partition(" ")[2].partition(" ")
    command = f"iptables -t {table} {rule}"
    words = rule.split()
    if missing and "MASQUERADE" in words:
        source = words[words.index("-s") + 1] if "-s" in words else "any source"
        others = [r for r in learner_rules if "MASQUERADE" in r]
        wrong = f"; it has {'; '.join(others)} instead" if others else ""
        return f"no MASQUERADE for {source} on {at} ({command}){wrong}"
    if missing:
        return f"{at} lacks the {table} rule: {command}"
    return f"{at} has a {table} rule the reference lacks: {command}"


def _rules_by_place(state: LabState) -> dict[Place, list[str]]:
    return {(h.name, ns.name): [f"-t {t} {r}" for t, rules in ns.rules.items() for r in rules]
            for h in state.hosts.values() for ns in h.namespaces()}


def _pair_wrong_values(found: list[Difference]) -> None:
    """An extra value where one is missing (an address with the wrong prefix, a route by
    another gateway) is the same mistake: say it once, on the missing one."""
    extras = {(d.change.what, d.change.host, d.change.netns, d.change.interface, _key(d.change)): d
              for d in found if not d.missing}
    for difference in [d for d in found if d.missing]:
        change = difference.change
        if change.what == "interface":
            _elsewhere(difference, found)
            continue
        extra = extras.get((change.what, change.host, change.netns, change.interface, _key(change)))
        if extra is not None and change.what in ("address", "route"):
            difference.text += f"; it has {extra.change.item} instead"
            found.remove(extra)
        elif change.what == "rule" and "MASQUERADE" in change.item.split():
            _masquerades_said(difference, found)


def _routes_of_down_links(found: list[Difference]) -> None:
    """A route through a link that is down is not there: the kernel removes a link's routes
    when it goes down, and refuses a gateway on a link that is not up. Say so on each."""
    down = {(d.change.host, d.change.netns, d.change.interface) for d in found if d.missing and d.change.what == "up"}
    for difference in found:
        change = difference.change
        words = change.item.split()
        if not (difference.missing and change.what == "route" and "dev" in words[:-1]):
            continue
        link = words[words.index("dev") + 1]
        if (change.host, change.netns, link) not in down:
            continue
        if "scope" in words and "link" in words and "via" not in words:
            difference.text += f": it comes back with ip link set {link} up"
        else:
            difference.text += (f": {link} is down, and the kernel drops the routes of a link that goes down "
                                f"(and refuses a gateway on one that is not up); add it again once {link} is up")


def _masquerades_said(missing: Difference, found: list[Difference]) -> None:
    """The extra MASQUERADE rules of the same place, which a missing one's text already names
    ("it has ... instead"), are not said twice."""
    for extra in [d for d in found if not d.missing and d.change.what == "rule" and d.place == missing.place]:
        if "MASQUERADE" in extra.change.item.split():
            found.remove(extra)


def _elsewhere(missing: Difference, found: list[Difference]) -> None:
    """An interface missing in one namespace and extra in another of the same host was not
    moved (ip link set NAME netns NS) or moved to the wrong one."""
    change = missing.change
    for extra in [d for d in found if not d.missing and d.change.what == "interface"]:
        if extra.change.host == change.host and extra.change.item == change.item:
            name = change.item.split(" ")[0]
            now = where((change.host, extra.change.netns))
            move = f"ip link set {name} netns {change.netns}" if change.netns else "it belongs in the host itself"
            missing.text = f"{name} is in {now}, not in {where((change.host, change.netns))} ({move})"
            found.remove(extra)
            return


def _key(change: Change) -> str:
    """What two values of the same thing share: an address's IP, a route's destination."""
    if change.what == "address":
        return change.item.split("/")[0]
    if change.what == "route":
        return change.item.split()[0]
    return change.item


@dataclass
class Probe:
    """What ``explain_probe`` needs of a step that probes: where it starts and what it reaches."""

    host: str
    netns: str | None
    target: str
    section: str = ""
    hint: str = ""
    expects_failure: bool = False  # the step expects no answer: a lab that answers is ahead of the scenario


def explain_probe(probe: Probe, reference: LabState, learner: LabState, differences: list[Difference]
                  ) -> list[str]:
    """Why ``probe`` fails in the learner's lab: where its packet goes astray there, the
    differences on the reference's path of that packet (each with the step that makes
    it), the section to reread and the step's hint."""
    lines: list[str] = []
    start = (probe.host, probe.netns or ROOT)
    target = probe_address(probe.target)
    if probe.expects_failure:
        return _ahead(probe, differences)
    wrong = [d for d in differences if not d.harmless]
    relevant = wrong
    if target:
        learned, learned_back = _walks(learner, start, target)
        lines += _astray(learned, learned_back)
        expected, expected_back = _walks(reference, start, target)
        hops = expected.hops + (expected_back.hops if expected_back else [])
        relevant = [d for d in wrong if on_the_way(d, hops)] or wrong
    for difference in relevant:
        lines.append(f"{difference.text} [{difference.source()}]")
        if target and difference.change.what == "rule" and "MASQUERADE" in difference.change.item:
            lines += _masquerade_why(reference, learner, start, target, difference)
    if not relevant:
        lines.append("the state matches the reference: the difference is elsewhere (a filter, a process, timing)")
    if probe.section:
        lines.append(f"reread the section {probe.section!r}")
    if probe.hint:
        lines.append(f"hint: {probe.hint}")
    return lines


def _ahead(probe: Probe, differences: list[Difference]) -> list[str]:
    """Why a probe that expects no answer gets one: what the lab has that the reference lacks."""
    extra = [d for d in differences if not d.missing]
    lines = ["your lab answers where the scenario, at this point, does not yet: it is ahead"]
    lines += [f"{d.text}" for d in extra] or ["(no extra piece of state explains it)"]
    if probe.section:
        lines.append(f"verify it at a later step (--upto), or reread the section {probe.section!r}")
    return lines


def on_the_way(difference: Difference, hops: list[Hop]) -> bool:
    """Whether a difference lies on the reference's way of a packet: at a namespace it
    passes; a route only if the packet takes it there; a MASQUERADE only where the
    packet's source is rewritten."""
    change = difference.change
    here = [hop for hop in hops if hop.place == difference.place]
    if not here:
        return False
    if change.what == "route":
        return any(hop.route is not None and hop.route.text == change.item for hop in here)
    if change.what == "rule" and "MASQUERADE" in change.item:
        return any(hop.masqueraded for hop in here)
    return True


def diagnose(state: LabState, host: str, netns: str | None, target: str) -> list[str]:
    """Where a packet from ``host`` (in ``netns``) to ``target`` goes astray in ``state``, and
    its reply: what a failed reachability step of `run` or `validate` shows under why ([]
    when the walk finds the way clear: the cause is elsewhere, a filter or a process)."""
    address = probe_address(target)
    if not address:
        return []
    forward, back = _walks(state, (host, netns or ROOT), address)
    return [line.replace("in your lab the packet", "the packet", 1) for line in _astray(forward, back)]


def _walks(state: LabState, start: Place, target: str) -> tuple[Walk, Walk | None]:
    forward = walk(state, start, target)
    return forward, reply_walk(state, forward, target)


def _astray(forward: Walk, back: Walk | None) -> list[str]:
    """Where the packet (or its reply) stops in the learner's lab."""
    path = " -> ".join(hop.where for hop in forward.hops)
    if not forward.arrived:
        return [f"in your lab the packet goes {path} and stops: {forward.stop}"]
    if back is not None and not back.arrived:
        first = back.hops[0]
        gateway = ""
        if first.route is not None and first.route.via:
            kind = "its default gateway" if first.route.dst == "default" else "its gateway"
            gateway = f" for {first.route.via}, {kind}"
        way = " -> ".join(hop.where for hop in back.hops)
        return [f"in your lab the packet arrives ({path}) from {forward.source}, but the reply leaves "
                f"{first.where}{(':' + first.route.dev) if first.route else ''}{gateway}, and is lost after "
                f"{way}: {back.stop}"]
    return []


def _masquerade_why(reference: LabState, learner: LabState, start: Place, target: str,
                    difference: Difference) -> list[str]:
    """What a missing MASQUERADE does: the reply goes to the learner's own address, which the
    target can only send to its gateway; in the reference it comes back to the NAT host."""
    learned = walk(learner, start, target)
    expected = walk(reference, start, target)
    if not learned.arrived or not expected.arrived or learned.source == expected.source:
        return []
    return [f"  so {learned.hops[-1].where} sees {learned.source}, a private address it has no way back to; "
            f"with MASQUERADE on {difference.change.host} it sees {expected.source} and answers there"]


def probe_address(target: str) -> str:
    """The address in a probe's target ('10.0.0.2', 'pc2 (10.0.0.2)', '10.0.0.2:80'), or ''."""
    for word in target.replace("(", " ").replace(")", " ").split():
        candidate = word.rsplit(":", 1)[0] if word.count(":") == 1 else word
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return ""


@dataclass
class ProbeCheck:
    """A probe of the scenario as it went on the learner's lab, and why it failed."""

    result: StepResult
    why: list[str] = field(default_factory=list)
    captured: list[str] | None = None  # its packets' path, flow by flow (None: a probe that sends none)

    def to_dict(self) -> dict:
        return {"step": self.result.index, "title": self.result.title, "where": self.result.where,
                "section": self.result.section or None, "expected": self.result.expected, "got": self.result.got,
                "passed": self.result.passed, "why": self.why, "captured": self.captured,
                "hint": self.result.hint or None}


@dataclass
class VerifyReport:
    lab: str
    scenario: str
    file: str
    upto: int  # the last step the lab is compared at (0: the lab as built)
    section: str = ""  # the section of that step
    differences: list[Difference] = field(default_factory=list)
    probes: list[ProbeCheck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # probes not run, and why
    duration: float = 0.0
    learner: LabState | None = None  # the lab as verify found it (for a picture; not in to_dict)

    @property
    def wrong(self) -> list[Difference]:
        return [d for d in self.differences if not d.harmless]

    @property
    def notes(self) -> list[Difference]:
        return [d for d in self.differences if d.harmless]

    @property
    def passed(self) -> bool:
        return not self.wrong and all(p.result.passed for p in self.probes)

    def to_dict(self) -> dict:
        return {"lab": self.lab, "scenario": self.scenario, "file": self.file, "upto": self.upto,
                "section": self.section or None, "passed": self.passed,
                "differences": [d.to_dict() for d in self.wrong], "notes": [d.to_dict() for d in self.notes],
                "probes": [p.to_dict() for p in self.probes], "skipped": self.skipped,
                "duration": round(self.duration, 3)}
