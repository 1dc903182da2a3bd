"""The JSON Schema of scenario files, for editors (``simlab schema``).

simlab's own loader (scenario.py, topology.py) is what enforces the format
and names lines in its errors; this schema mirrors it so that editors can
complete and check files as they are typed. A test keeps the two in step.
"""

from __future__ import annotations

from simlab.checks.outcome import REASONS
from simlab.model.scenario import (CONNECT_EXPECT, KIND_KEYS, PACKET_PROTOS, PING_EXPECT, PROTOS, ROUTE_EXPECT,
                                   RUN_EXPECT)
from simlab.model.topology import IFNAME_CHAR, IFNAME_RE, MAX_IFNAME, MAX_NAME, NAME_CHARS, NAME_RE

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
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                "description": "seconds each command of the step may take (default 60)"},
}
KINDS = {
    "run": {**STRINGS, "description": "Shell command(s), run in order."},
    "ping": {"type": "string", "description": "Address or lab host name to ping."},
    "connect": {"type": "string", "pattern": r"^\S+:[0-9]{1,5}$", "description": "HOST:PORT to connect to."},
    "serve": {"type": "string", "description": "'tcp PORT' / 'udp PORT' (simlab's listener) or a command, "
                                               "run detached, logging to /var/log/simlab/NAME.log."},
    "route": {"type": "string", "description": "Destination for `ip route get`."},
    "trace": {"type": "string", "description": "Destination to trace (TTL-limited probes)."},
}
OPTIONS = {
    "expect": {"enum": sorted(set(RUN_EXPECT + PING_EXPECT + CONNECT_EXPECT + ROUTE_EXPECT))},
    "output": {"type": "string", "description": "Text the (last) command must print (whitespace-robust)."},
    "match": {"type": "string", "description": "A regular expression the (last) command's output matches."},
    "not_output": {"type": "string", "description": "Text the (last) command must not print."},
    "deadline": {"type": "number", "minimum": 0.1, "maximum": 60},
    "reason": {"enum": list(REASONS), "description": "Narrows 'unreachable': "
               + "; ".join(f"{k}: {v}" for k, v in REASONS.items())},
    "from": {"type": "string", "description": "The address that must answer (or send the ICMP error)."},
    "count": {"type": "integer", "minimum": 1, "maximum": 100,
              "description": "Probes to send (all must be answered for 'reply')."},
    "ttl": {"type": "integer", "minimum": 1, "maximum": 255},
    "source": {"type": "string", "description": "Address or interface to send from."},
    "size": {"type": "integer", "minimum": 0, "maximum": 65507, "description": "Payload bytes, sent with don't-fragment."},
    "proto": {"enum": list(PROTOS)},
    "appears_as": {"type": "string", "description": "The client address simlab's listener must see (after NAT)."},
    "name": {"type": "string", "pattern": NAME_RE.pattern, "description": "Names the service's log."},
    "ready": {"type": "string", "description": "Text the service's log shows once it is ready."},
    "via": {"type": "string"}, "dev": {"type": "string"}, "src": {"type": "string"},
    "path": {"type": "array", "minItems": 1, "items": {"type": "string"},
             "description": "Hop addresses ('*' a silent hop): how the path starts."},
    "whole": {"type": "boolean", "description": "The path is exactly `path`."},
    "max_hops": {"type": "integer", "minimum": 1, "maximum": 30},
    "seen": {"type": "array", "minItems": 1, "items": EVIDENCE,
             "description": "Packets a capture around the step must see."},
    "unseen": {"type": "array", "minItems": 1, "items": EVIDENCE,
               "description": "Packets a capture around the step must not see."},
}
EXPECT = {"run": RUN_EXPECT, "ping": PING_EXPECT, "connect": CONNECT_EXPECT, "route": ROUTE_EXPECT}


def _one_kind(kind: str) -> dict:
    """A step of ``kind``: its key, and no key that belongs only to other kinds."""
    others = (set(KIND_KEYS) | set().union(*KIND_KEYS.values())) - {kind} - KIND_KEYS[kind]
    branch: dict = {"required": [kind] + (["path"] if kind == "trace" else []),
                    "not": {"anyOf": [{"required": [key]} for key in sorted(others)]}}
    if kind in EXPECT:
        branch["properties"] = {"expect": {"enum": list(EXPECT[kind])}}
    return branch


def scenario_schema() -> dict:
    host = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "image": {"type": "string", "description": "Image for this host (default ubuntu_with_basic_net)."},
            "interfaces": {
                "type": "object",
                "description": "Interface name -> address(es) with prefix; the interface must be on a link or segment (or be lo).",
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
        "properties": {**COMMON, **{kind: info for kind, info in KINDS.items()}, **OPTIONS},
        "oneOf": [_one_kind(kind) for kind in KIND_KEYS],
        # a reason narrows 'unreachable' only
        "if": {"required": ["reason"]}, "then": {"properties": {"expect": {"const": "unreachable"}}, "required": ["expect"]},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
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
        },
    }
