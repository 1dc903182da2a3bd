"""Generated labs of any size, for the tests of pictures and progress at scale."""

from __future__ import annotations

from pathlib import Path


def chain(hosts: int, name: str = "chain") -> str:
    """A scenario file's text: h1 - h2 - ... - hN, each pair on a /24 of its own, the hosts
    between forwarding, and a ping from h1 to h2."""
    lines = [f"name: {name}", "hosts:"]
    for i in range(1, hosts + 1):
        interfaces = []
        if i > 1:
            interfaces.append(f"eth0: 10.{(i - 1) // 250}.{(i - 1) % 250}.2/24")
        if i < hosts:
            interfaces.append(f"eth1: 10.{i // 250}.{i % 250}.1/24")
        lines.append(f"  h{i}:")
        lines.append(f"    interfaces: {{{', '.join(interfaces)}}}")
        if 1 < i < hosts:
            lines.append("    sysctls: {net.ipv4.ip_forward: 1}")
    lines.append("links:")
    lines += [f"  - [h{i}:eth1, h{i + 1}:eth0]" for i in range(1, hosts)]
    lines += ["steps:", "  - title: h1 reaches h2", "    host: h1", "    ping: h2", "    expect: reply"]
    return "\n".join(lines) + "\n"


def office(hosts: int, name: str = "office") -> str:
    """A scenario file's text: a router joined to an upstream host, and ``hosts - 2`` PCs on one
    segment with it (a switch)."""
    pcs = hosts - 2
    lines = [f"name: {name}", "hosts:", "  router:", "    interfaces: {eth0: 192.168.0.1/24, eth1: 198.51.100.2/30}",
             "    sysctls: {net.ipv4.ip_forward: 1}", "  upstream:", "    interfaces: {eth0: 198.51.100.1/30}"]
    for i in range(1, pcs + 1):
        lines += [f"  pc{i}:", f"    interfaces: {{eth0: 192.168.0.{10 + i}/24}}", "    routes: [default via 192.168.0.1]"]
    lines += ["links:", "  - [router:eth1, upstream:eth0]", "segments:",
              "  lan: [router:eth0, " + ", ".join(f"pc{i}:eth0" for i in range(1, pcs + 1)) + "]"]
    lines += ["steps:", "  - title: pc1 reaches the router", "    host: pc1", "    ping: router", "    expect: reply"]
    return "\n".join(lines) + "\n"


def write(folder: Path, text: str, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path
