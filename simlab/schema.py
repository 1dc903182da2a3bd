"""The JSON Schema of scenario files, for editors (``simlab schema``).

simlab's own loader (scenario.py, topology.py) is what enforces the format
and names lines in its errors; this schema mirrors it so that editors can
complete and check files as they are typed. A test keeps the two in step.
"""

from __future__ import annotations

from simlab.scenario import PING_EXPECT, RUN_EXPECT
from simlab.topology import IFNAME_CHAR, IFNAME_RE, MAX_IFNAME, MAX_NAME, NAME_CHARS, NAME_RE

NAME = {"type": "string", "pattern": NAME_RE.pattern, "maxLength": MAX_NAME}
IFNAME = {"type": "string", "pattern": IFNAME_RE.pattern, "maxLength": MAX_IFNAME}
ENDPOINT = {"type": "string", "pattern": f"^{NAME_CHARS}:{IFNAME_CHAR}{{1,{MAX_IFNAME}}}$",
            "description": "HOST:IFACE, like red:eth0"}
CIDR = {"type": "string", "pattern": r"^[0-9a-fA-F.:]+/[0-9]{1,3}$", "description": "address/prefix, like 10.0.0.1/24"}
STRINGS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


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
        "properties": {
            "title": {"type": "string"},
            "note": {"type": "string", "description": "The tutorial's explanation, shown to the learner."},
            "section": {"type": "string", "description": "The tutorial section this step reproduces."},
            "host": {"type": "string"},
            "netns": {"type": "string", "description": "Run inside this network namespace of the host."},
            "run": {**STRINGS, "description": "Shell command(s), run in order."},
            "ping": {"type": "string", "description": "Address to ping."},
            "expect": {"enum": list(RUN_EXPECT + PING_EXPECT)},
            "output": {"type": "string", "description": "Text the (last) command must print."},
            "deadline": {"type": "number", "minimum": 0.1, "maximum": 60},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                        "description": "seconds each command of the step may take (default 60)"},
        },
        "oneOf": [
            {"required": ["run"], "not": {"anyOf": [{"required": ["ping"]}, {"required": ["deadline"]}]},
             "properties": {"expect": {"enum": list(RUN_EXPECT)}}},
            {"required": ["ping"], "not": {"anyOf": [{"required": ["run"]}, {"required": ["output"]}]},
             "properties": {"expect": {"enum": list(PING_EXPECT)}}},
        ],
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
