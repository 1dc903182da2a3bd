"""SVG of a picture, laid out by layout.py in pure Python, so that no Graphviz (or any other
program) is needed where simlab runs: hosts in rows, each a box holding its namespaces
(top row) and bridges (below), wires as lines labelled at each end with the interface and
its addresses, segments as buses with their switch on them."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from simlab.graph.labels import Label
from simlab.graph.layout import Box, Drawing, Point, Wire, layout
from simlab.graph.model import Node, Picture
from simlab.graph.style import CHANGED, colors

WIRE = "#495057"


def render_svg(picture: Picture) -> str:
    drawing = layout(picture)
    width, height = drawing.width, drawing.height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
             f'class="simlab-graph">',
             f"<title>{escape(picture.title)}</title>",
             '<rect width="100%" height="100%" fill="#ffffff"/>']
    texts = drawing.texts
    for kinds in (("host",), ("netns", "bridge", "root")):
        parts += [_box(node, drawing.boxes[node.id], texts[node.id]) for node in picture.nodes.values()
                  if node.kind in kinds and node.id in drawing.boxes]
    parts += [_wire(wire) for wire in drawing.wires]
    parts += [_switch(node, drawing, texts[node.id]) for node in picture.nodes.values()
              if node.kind == "switch" and node.id in drawing.boxes]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _box(node: Node, box: Box, texts: list[Label]) -> str:
    fill, stroke = colors(node)
    classes = ["node", node.kind] + (["changed"] if node.changed else []) + (["missing"] if node.missing else [])
    width = 3 if node.changed else 1.5
    dash = ' stroke-dasharray="6 4"' if node.missing else ""
    radius = {"netns": 14, "switch": 12}.get(node.kind, 6)
    parts = [f'<g class={quoteattr(" ".join(classes))} data-id={quoteattr(node.id)}>',
             f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="{radius}" '
             f'fill="{"#f1f3f5" if node.missing else fill}" stroke="{CHANGED if node.changed else stroke}" '
             f'stroke-width="{width}"{dash}/>']
    parts += [_text(label) for label in texts]
    parts.append("</g>")
    return "".join(parts)


def _switch(node: Node, drawing: Drawing, texts: list[Label]) -> str:
    """A segment: its bus lines, then the pill on them."""
    color, width = (CHANGED, 3) if node.changed else (colors(node)[1], 2.5)
    lines = "".join(f'<path d="{_path(line)}" fill="none" stroke="{color}" stroke-width="{width}"/>'
                    for line in drawing.buses.get(node.id, []))
    return f'<g class="bus">{lines}</g>' + _box(node, drawing.boxes[node.id], texts)


def _path(points: list[Point]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _text(label: Label) -> str:
    extra = ' paint-order="stroke" stroke="#ffffff" stroke-width="4" stroke-linejoin="round"' if label.halo else ""
    return (f'<text x="{label.x:.1f}" y="{label.y:.1f}" font-size="{label.size}" text-anchor="{label.anchor}" '
            f'font-weight="{"bold" if label.bold else "normal"}" fill="{label.color}"{extra}>'
            f"{escape(label.text)}</text>")


def _wire(wire: Wire) -> str:
    color, width = (CHANGED, 3) if wire.edge.changed else (WIRE, 1.6)
    classes = "wire changed" if wire.edge.changed else "wire"
    return (f'<g class="{classes}"><path d="{_path(wire.points)}" fill="none" stroke="{color}" '
            f'stroke-width="{width}" stroke-linejoin="round"/>' + "".join(_text(lb) for lb in wire.labels) + "</g>")
