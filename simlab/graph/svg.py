"""SVG of a picture with a small pure-Python layout, so that no Graphviz (or any other
program) is needed where simlab runs: hosts side by side, each a box holding its
namespaces (top row) and bridges (below), switches in a row underneath, wires as
lines labelled at each end with the interface and its addresses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from simlab.graph.model import Edge, Node, Picture

NS_W, NS_H, BR_W, BR_H = 140, 54, 130, 40
PAD, TITLE, GAP_X, ROW_GAP, MARGIN = 24, 30, 140, 120, 30
INNER_GAP = 74  # between the namespace row and the bridge row: room for the veth labels
HOST_MIN_W, HOST_H = 180, 64
SWITCH_W, SWITCH_H = 150, 40
CHANGED = "#e8590c"
NETNS_COLORS = {"red": ("#fff5f5", "#e03131"), "blue": ("#e7f5ff", "#1971c2"), "green": ("#ebfbee", "#2f9e44")}
STYLE = {"host": ("#f8f9fa", "#495057"), "netns": ("#f3f0ff", "#7048e8"), "bridge": ("#fff9db", "#f08c00"),
         "root": ("#f1f3f5", "#868e96"), "switch": ("#e6fcf5", "#0c8599")}


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def toward(self, x: float, y: float) -> tuple[float, float]:
        """Where the line from the centre to (x, y) leaves the box."""
        dx, dy = x - self.cx, y - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        scale = min(self.w / 2 / abs(dx) if dx else math.inf, self.h / 2 / abs(dy) if dy else math.inf)
        return self.cx + dx * scale, self.cy + dy * scale


def render_svg(picture: Picture) -> str:
    boxes, order = layout(picture)
    width = max((b.x + b.w for b in boxes.values()), default=200) + MARGIN
    height = max((b.y + b.h for b in boxes.values()), default=100) + MARGIN + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
             f'class="simlab-graph">',
             f"<title>{escape(picture.title)}</title>",
             '<rect width="100%" height="100%" fill="#ffffff"/>']
    for node in picture.nodes.values():
        if node.kind == "host":
            parts.append(_box(node, boxes[node.id]))
    for node in picture.nodes.values():
        if node.kind != "host":
            parts.append(_box(node, boxes[node.id]))
    hosts = {node_id: i for i, node_id in enumerate(order)}
    for edge in picture.edges:
        a, b = picture.nodes[edge.a], picture.nodes[edge.b]
        parts.append(_wire(edge, boxes, hosts, inside=bool(a.parent) and a.parent == b.parent))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def layout(picture: Picture) -> tuple[dict[str, Box], list[str]]:
    """A box for every node, and the left-to-right order of the hosts."""
    order = _host_order(picture)
    boxes: dict[str, Box] = {}
    x = MARGIN
    for host_id in order:
        boxes.update(_host_layout(picture, picture.nodes[host_id], x, MARGIN))
        x += boxes[host_id].w + GAP_X
    bottom = max((b.y + b.h for b in boxes.values()), default=MARGIN)
    _place_switches(picture, boxes, bottom + ROW_GAP)
    return boxes, order


def _host_order(picture: Picture) -> list[str]:
    """Hosts in declared order, but two hosts wired point-to-point go side by side at the end of
    the row (an upstream router then sits at the edge, as in the tutorial's figures)."""
    order = [n.id for n in picture.hosts()]
    for edge in picture.edges:
        a, b = _host_of(picture, edge.a), _host_of(picture, edge.b)
        if a in order and b in order and a != b and abs(order.index(a) - order.index(b)) > 1:
            order.remove(a)
            order.remove(b)
            order += [a, b]
    return order


def _host_of(picture: Picture, node_id: str) -> str:
    node = picture.nodes.get(node_id)
    if node is None:
        return ""
    return node.parent or node.id


def _host_layout(picture: Picture, host: Node, x: float, y: float) -> dict[str, Box]:
    children = picture.children(host.id)
    top = [c for c in children if c.kind == "netns"]
    low = [c for c in children if c.kind in ("bridge", "root")]
    width = max(HOST_MIN_W, len(top) * (NS_W + PAD) + PAD, len(low) * (BR_W + PAD) + PAD)
    boxes = {}
    row_y = y + TITLE + 12 * len(host.detail) + 10
    top_span = len(top) * NS_W + (len(top) - 1) * PAD
    # One bridge under the namespaces spans them, so that their wires drop straight into it.
    bridge_w = max(BR_W, top_span) if len(low) == 1 and top else BR_W
    for row, (w, h) in ((top, (NS_W, NS_H)), (low, (bridge_w, BR_H))):
        if not row:
            continue
        span = len(row) * w + (len(row) - 1) * PAD
        for i, child in enumerate(row):
            boxes[child.id] = Box(x + (width - span) / 2 + i * (w + PAD), row_y, w, h)
        row_y += h + (INNER_GAP if row is top and low else 20)
    height = max(HOST_H, row_y - y + (0 if children else 10))
    boxes[host.id] = Box(x, y, width, height)
    return boxes


def _place_switches(picture: Picture, boxes: dict[str, Box], y: float) -> None:
    wanted = []
    for node in picture.nodes.values():
        if node.kind != "switch":
            continue
        ends = [boxes[e.a] for e in picture.edges if e.b == node.id and e.a in boxes]
        ends += [boxes[e.b] for e in picture.edges if e.a == node.id and e.b in boxes]
        cx = sum(b.cx for b in ends) / len(ends) if ends else MARGIN + SWITCH_W / 2
        wanted.append((cx, node.id))
    x_min = MARGIN
    for cx, node_id in sorted(wanted):
        x = max(x_min, cx - SWITCH_W / 2)
        boxes[node_id] = Box(x, y, SWITCH_W, SWITCH_H)
        x_min = x + SWITCH_W + GAP_X


def _colors(node: Node) -> tuple[str, str]:
    if node.kind == "netns" and node.label in NETNS_COLORS:
        return NETNS_COLORS[node.label]
    return STYLE[node.kind]


def _box(node: Node, box: Box) -> str:
    fill, stroke = _colors(node)
    classes = ["node", node.kind] + (["changed"] if node.changed else []) + (["missing"] if node.missing else [])
    width = 3 if node.changed else 1.5
    dash = ' stroke-dasharray="6 4"' if node.missing else ""
    radius = {"netns": 14, "switch": 20}.get(node.kind, 6)
    parts = [f'<g class={quoteattr(" ".join(classes))} data-id={quoteattr(node.id)}>',
             f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="{radius}" '
             f'fill="{"#f1f3f5" if node.missing else fill}" stroke="{CHANGED if node.changed else stroke}" '
             f'stroke-width="{width}"{dash}/>']
    label = {"switch": f"switch {node.label}", "netns": f"netns {node.label}"}.get(node.kind, node.label)
    if node.kind == "host":
        parts.append(_text(box.x + 10, box.y + 20, label, 14, weight="bold", color=stroke))
        for i, line in enumerate(node.detail):
            parts.append(_text(box.x + 10, box.y + 36 + 12 * i, line, 10, color="#868e96"))
    else:
        lines = [label, *node.detail[:2]]
        top = box.cy - (len(lines) - 1) * 7 + 4
        for i, line in enumerate(lines):
            parts.append(_text(box.cx, top + 14 * i, line, 12 if i == 0 else 10, anchor="middle",
                               weight="bold" if i == 0 else "normal", color=stroke if i == 0 else "#495057"))
    if node.changed:
        parts.append(_text(box.x + box.w - 6, box.y - 4, "changed", 9, anchor="end", color=CHANGED, weight="bold"))
    parts.append("</g>")
    return "".join(parts)


def _stacked(a: Box, b: Box) -> bool:
    """One box above the other with their spans overlapping: a straight vertical wire fits."""
    upper, lower = (a, b) if a.y < b.y else (b, a)
    return upper.y + upper.h < lower.y and upper.x < lower.x + lower.w and lower.x < upper.x + upper.w


def _text(x: float, y: float, text: str, size: int, anchor: str = "start", weight: str = "normal",
          color: str = "#212529", halo: bool = False) -> str:
    extra = ' paint-order="stroke" stroke="#ffffff" stroke-width="4" stroke-linejoin="round"' if halo else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{color}"{extra}>{escape(text)}</text>')


def _wire(edge: Edge, boxes: dict[str, Box], hosts: dict[str, int], inside: bool) -> str:
    """A wire; ``inside``: both ends are boxes in one host."""
    a, b = boxes[edge.a], boxes[edge.b]
    color, width = (CHANGED, 3) if edge.changed else ("#495057", 1.6)
    classes = "wire changed" if edge.changed else "wire"
    if edge.a in hosts and edge.b in hosts and abs(hosts[edge.a] - hosts[edge.b]) > 1:
        # hosts apart in the row: the wire dips under the hosts between them
        (x1, y1), (x2, y2) = (a.cx, a.y + a.h), (b.cx, b.y + b.h)
        dip = max(y1, y2) + 70
        path = f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{dip:.1f} {x2:.1f},{dip:.1f} {x2:.1f},{y2:.1f}" fill="none"'
        ends = ((x1, y1, 0, 1), (x2, y2, 0, 1))
    elif inside and _stacked(a, b):
        upper, lower = (a, b) if a.y < b.y else (b, a)
        x = min(max(upper.cx, lower.x + 12), lower.x + lower.w - 12)
        y1, y2 = (upper.y + upper.h, lower.y) if upper is a else (lower.y, upper.y + upper.h)
        path = f'<path d="M{x:.1f},{y1:.1f} L{x:.1f},{y2:.1f}" fill="none"'
        parts = [f'<g class="{classes}">', f'{path} stroke="{color}" stroke-width="{width}"/>']
        for y, label, detail in ((y1, edge.a_label, edge.a_detail), (y2, edge.b_label, edge.b_detail)):
            at_top = y == upper.y + upper.h
            ly = y + 14 if at_top else y - (19 if detail else 6)
            parts.append(_text(x + 6, ly, label, 11, "start", "bold", halo=True))
            if detail:
                parts.append(_text(x + 6, ly + 12, detail, 10, "start", color="#1864ab", halo=True))
        return "".join(parts) + "</g>"
    else:
        x1, y1 = a.toward(b.cx, b.cy)
        x2, y2 = b.toward(a.cx, a.cy)
        if edge.a in hosts and edge.b in hosts:  # neighbours in the row: straight across, at the shorter's middle
            y1 = y2 = max(a.y, b.y) + min(a.h, b.h) / 2
            x1, x2 = (a.x + a.w, b.x) if a.x < b.x else (a.x, b.x + b.w)
        length = math.hypot(x2 - x1, y2 - y1) or 1
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        path = f'<path d="M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}" fill="none"'
        ends = ((x1, y1, ux, uy), (x2, y2, -ux, -uy))
    parts = [f'<g class="{classes}">', f'{path} stroke="{color}" stroke-width="{width}"/>']
    for (x, y, ux, uy), label, detail in zip(ends, (edge.a_label, edge.b_label), (edge.a_detail, edge.b_detail)):
        if not label:
            continue
        if abs(uy) < 0.2:  # along a row: the name above the wire, the addresses below
            anchor, lx, ly = ("start", x + 8, y - 6) if ux > 0 else ("end", x - 8, y - 6)
            detail_y = y + 13
        else:
            lx, ly = x + ux * 24, y + uy * 24
            anchor, lx = ("end", lx - 6) if ux >= 0 else ("start", lx + 6)
            detail_y = ly + 13
        parts.append(_text(lx, ly, label, 11, anchor, "bold", "#212529", halo=True))
        if detail:
            parts.append(_text(lx, detail_y, detail, 10, anchor, color="#1864ab", halo=True))
    parts.append("</g>")
    return "".join(parts)
