"""The scenario `simlab new NAME` writes: the README's hello world, which passes check and run."""

from __future__ import annotations

STARTER = """\
# yaml-language-server: $schema={schema}
# {name}: two hosts on one wire. `simlab check {file}` checks it, `simlab run {file}` runs it.
name: {name}
description: a reaches b over a veth pair, and nobody holds 10.0.0.9
hosts:
  a: {{interfaces: {{eth0: 10.0.0.1/24}}}}
  b: {{interfaces: {{eth0: 10.0.0.2/24}}}}
links:
  - [a:eth0, b:eth0]
steps:
  - title: a reaches b
    host: a
    ping: b                       # a lab host's name, or an address
  - title: nobody holds 10.0.0.9, so ARP gets no answer
    host: a
    ping: 10.0.0.9
    expect: unreachable           # reply | no-reply | unreachable
    reason: host
  - title: the route to b goes out of eth0
    host: a
    route: 10.0.0.2
    dev: eth0
"""
SCHEMA_FILE = "simlab.schema.json"  # written beside it: editors validate and complete offline


def starter(name: str, file: str) -> str:
    return STARTER.format(name=name, file=file, schema=SCHEMA_FILE)
