"""The JSON Schema of scenario files, for editors (``simlab schema``).

simlab's own loader (scenario.py, topology.py) is what enforces the format
and names lines in its errors; this schema mirrors it so that editors can
complete and check files as they are typed. A test keeps the two in step.
"""

from __future__ import annotations

from simlab.checks.capture import PROTOS as PACKET_PROTOS
from simlab.model.scenario import KIND_KEYS, MAX_STEP_TIMEOUT
from simlab.model.topology import IFNAME_CHAR, IFNAME_RE, MAX_IFNAME, MAX_NAME, NAME_CHARS, NAME_RE
from simlab.steps import KINDS

NAME = {"type": "string", "pattern": NAME_RE.pattern, "maxLength": MAX_NAME}
IFNAME = {"type": "string", "pattern": IFNAME_RE.pattern, "maxLength": MAX_IFNAME}
ENDPOINT = {"type": "string", "pattern": f"^{NAME_CHARS}:{IFNAME_CHAR}{{1,{MAX_IFNAME}}}$",
            "description": "HOST:IFACE, like red:eth0"}
CIDR = {"type": "string", "pattern": r"^[0-9a-fA-F.:]+/[0-9]{1,3}$", "description": "address/prefix, like 10.0.0.1/24"}
STRINGS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


POSITIVE = {"type": "number", "exclusiveMinimum": 0}
IP = {"type": "string", "pattern": r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"}  # IPv4 or IPv6
EVIDENCE = {
    "type": "object", "additionalProperties": False, "required": ["at"],
    "properties": {
        "at": {"type": "string", "pattern": f"^{NAME_CHARS}(/{NAME_CHARS})?:{IFNAME_CHAR}+$",
               "description": "HOST[/NETNS]:IFACE to capture on (tcpdump)."},
        "src": IP, "dst": IP, "proto": {"enum": list(PACKET_PROTOS)},
        "count": {"type": "integer", "minimum": 1, "description": "Exactly this many (default: at least one)."},
    },
}
COMMON = {
    "title": {"type": "string"},
    "note": {"type": "string", "description": "The tutorial's explanation, shown to the learner."},
    "section": {"type": "string", "description": "The tutorial section this step reproduces."},
    "host": {"type": "string"},
    "netns": {"type": "string", "description": "Run inside this network namespace of the host."},
    "within": {**POSITIVE, "maximum": 600, "description": "Retry for up to this many seconds until the check holds."},
    "hint": {"type": "string", "description": "Shown to the learner when the step fails."},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_STEP_TIMEOUT,
                "description": "seconds each command of the step may take (default 60)"},
}
EVIDENCE_OPTIONS = {
    "seen": {"type": "array", "minItems": 1, "items": EVIDENCE,
             "description": "Packets a capture around the step must see."},
    "unseen": {"type": "array", "minItems": 1, "items": EVIDENCE,
               "description": "Packets a capture around the step must not see."},
}


def _options() -> dict:
    """Every option key with its schema. ``expect``, which each kind words its own way, takes
    any kind's values here: the branch of each kind narrows it."""
    options: dict = {}
    for kind in KINDS.values():
        for key, schema in kind.options.items():
            options.setdefault(key, schema)
    expects = [kind.options["expect"] for kind in KINDS.values() if "expect" in kind.options]
    words = sorted({word for schema in expects for word in schema.get("enum", [])})
    options["expect"] = {"anyOf": [{"enum": words}, *[s for s in expects if "enum" not in s]]}
    return {**options, **EVIDENCE_OPTIONS}


def _one_kind(kind: str) -> dict:
    """A step of ``kind``: its key, and no key that belongs only to other kinds."""
    others = (set(KIND_KEYS) | set().union(*KIND_KEYS.values())) - {kind} - KIND_KEYS[kind]
    branch: dict = {"required": [kind, *KINDS[kind].required],
                    "not": {"anyOf": [{"required": [key]} for key in sorted(others)]}}
    if "expect" in KINDS[kind].options:
        branch["properties"] = {"expect": KINDS[kind].options["expect"]}
    return branch


def scenario_schema() -> dict:
    host = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "image": {"type": "string", "description": "Image for this host (default ubuntu_with_basic_net)."},
            "interfaces": {
                "type": "object",
                "description": "Interface name -> address(es) with prefix; the interface must be on a link or "
                               "segment (or be lo).",
                "propertyNames": IFNAME,
                "additionalProperties": {"oneOf": [CIDR, {"type": "array", "items": CIDR}, {"type": "null"}]},
            },
            "routes": {"type": "array", "items": {"type": "string", "pattern": r"^\S+ (via|dev) \S+( (via|dev) \S+)?$"},
                       "description": "'DEST via GATEWAY' or 'DEST dev IFACE'; DEST a network or 'default'."},
            "sysctls": {"type": "object", "propertyNames": {"pattern": r"^net\."},
                        "additionalProperties": {"type": ["string", "integer", "boolean"]}},
            "setup": {**STRINGS, "description": "Shell commands run on the host once the lab is wired."},
            "privileged": {"type": "boolean"},
        },
    }
    step = {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "host"],
        "properties": {**COMMON, **{key: kind.schema for key, kind in KINDS.items()}, **_options()},
        "oneOf": [_one_kind(kind) for kind in KIND_KEYS],
        # a reason narrows 'unreachable' only
        "if": {"required": ["reason"]},  # narrows unreachable (and refused: local, a reset the sender forged)
        "then": {"properties": {"expect": {"enum": ["unreachable", "refused"]}}, "required": ["expect"]},
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",  # the draft editors support (yaml-language-server)
        "title": "simlab scenario",
        "type": "object",
        "additionalProperties": False,
        "required": ["hosts"],
        "properties": {
            "name": NAME,
            "description": {"type": "string"},
            "tutorial": {"type": "string", "description": "The tutorial section(s) this scenario reproduces."},
            "image": {"type": "string"},
            "hosts": {"type": "object", "minProperties": 1, "propertyNames": NAME, "additionalProperties": host},
            "links": {"type": "array", "items": {"type": "array", "items": ENDPOINT, "minItems": 2, "maxItems": 2}},
            "segments": {"type": "object", "propertyNames": NAME,
                         "additionalProperties": {"type": "array", "items": ENDPOINT, "minItems": 2}},
            "steps": {"type": "array", "items": step},
            "duplicate_addresses": {"type": "array", "items": IP,
                                    "description": "Addresses two hosts hold on one link or segment on purpose "
                                                   "(a lesson on address conflicts): a warning, not an error."},
        },
    }
