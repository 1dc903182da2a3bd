"""Mermaid (renders in GitHub Markdown) and Graphviz dot text of a picture."""

from __future__ import annotations

import re

from simlab.graph.model import Edge, Node, Picture

SHAPES = {"host": ('["', '"]'), "netns": ('(["', '"])'), "bridge": ('[["', '"]]'), "root": ('["', '"]'),
          "switch": ('{{"', '"}}')}


def _id(node_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def _text(value: str) -> str:
    return value.replace('"', "'")


def _end(label: str, detail: str) -> str:
    return " ".join(part for part in (label, detail) if part)


def _edge_text(edge: Edge) -> str:
    return " — ".join(part for part in (_end(edge.a_label, edge.a_detail), _end(edge.b_label, edge.b_detail)) if part)


def _node_text(node: Node) -> str:
    return "<br/>".join(_text(line) for line in [node.label, *node.detail])


def render_mermaid(picture: Picture) -> str:
    """A mermaid flowchart: each host a subgraph holding its namespaces and bridges."""
    lines = ["flowchart TB"]
    for host in picture.hosts():
        lines.append(f'  subgraph {_id(host.id)}_box["{_text(host.label)}"]')
        lines.append(f'    {_id(host.id)}["{_node_text(host)}"]')
        for child in picture.children(host.id):
            start, end = SHAPES[child.kind]
            lines.append(f"    {_id(child.id)}{start}{_node_text(child)}{end}")
        lines.append("  end")
    for node in picture.nodes.values():
        if node.kind == "switch":
            lines.append(f'  {_id(node.id)}{{{{"switch {_text(node.label)}"}}}}')
    for edge in picture.edges:
        lines.append(f'  {_id(edge.a)} ---|"{_text(_edge_text(edge))}"| {_id(edge.b)}')
    changed = [_id(n.id) for n in picture.nodes.values() if n.changed]
    missing = [_id(n.id) for n in picture.nodes.values() if n.missing]
    lines.append("  classDef changed stroke:#e8590c,stroke-width:3px")
    lines.append("  classDef missing stroke-dasharray:4,fill:#eee")
    if changed:
        lines.append(f"  class {','.join(changed)} changed")
    if missing:
        lines.append(f"  class {','.join(missing)} missing")
    return "\n".join(lines) + "\n"


def render_dot(picture: Picture) -> str:
    """Graphviz dot: each host a cluster; wires labelled at both ends."""
    lines = [f'graph "{_text(picture.title)}" {{', "  rankdir=TB; node [fontname=Helvetica, fontsize=11];",
             "  edge [fontname=Helvetica, fontsize=9];"]
    for host in picture.hosts():
        lines.append(f'  subgraph cluster_{_id(host.id)} {{ label="{_text(host.label)}"; style=rounded;')
        lines.append(f'    {_id(host.id)} [label="{_dot_label(host)}", shape=box];')
        for child in picture.children(host.id):
            shape = {"netns": "ellipse", "bridge": "box3d"}.get(child.kind, "box")
            lines.append(f'    {_id(child.id)} [label="{_dot_label(child)}", shape={shape}];')
        lines.append("  }")
    for node in picture.nodes.values():
        if node.kind == "switch":
            lines.append(f'  {_id(node.id)} [label="switch {_text(node.label)}", shape=hexagon];')
    for edge in picture.edges:
        style = ", color=\"#e8590c\", penwidth=2" if edge.changed else ""
        lines.append(f'  {_id(edge.a)} -- {_id(edge.b)} [taillabel="{_text(_end(edge.a_label, edge.a_detail))}", '
                     f'headlabel="{_text(_end(edge.b_label, edge.b_detail))}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_label(node: Node) -> str:
    return "\\n".join(_text(line) for line in [node.label, *node.detail])
