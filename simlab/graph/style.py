"""The colours of a picture: each kind of box, the tutorial's red and blue namespaces, changes."""

from __future__ import annotations

from simlab.graph.model import Node

CHANGED = "#e8590c"
NETNS_COLORS = {"red": ("#fff5f5", "#e03131"), "blue": ("#e7f5ff", "#1971c2"), "green": ("#ebfbee", "#2f9e44")}
STYLE = {"host": ("#f8f9fa", "#495057"), "netns": ("#f3f0ff", "#7048e8"), "bridge": ("#fff9db", "#f08c00"),
         "root": ("#f1f3f5", "#868e96"), "switch": ("#e6fcf5", "#0c8599")}


def colors(node: Node) -> tuple[str, str]:
    """Fill and stroke of a node's box."""
    if node.kind == "netns" and node.label in NETNS_COLORS:
        return NETNS_COLORS[node.label]
    return STYLE[node.kind]
