"""Pictures of a lab: a picture model built from a topology (no engine) or a LabState,
rendered as SVG (pure-Python layout, no host dependency), mermaid or Graphviz dot.

Owns: model.py (``Picture``, ``from_topology``, ``from_state``), layout.py (rows, channels,
wires and label places), labels.py (text widths, labels placed without overlap), style.py
(colours), svg.py (drawing the layout), text.py (mermaid, dot).
May import: model.topology, state.model and state.diff; never docker or the engine.
"""

from simlab.graph.model import Edge, Node, Picture, from_state, from_topology
from simlab.graph.svg import render_svg
from simlab.graph.text import render_dot, render_mermaid

FORMATS = {"svg": render_svg, "mermaid": render_mermaid, "dot": render_dot}

__all__ = ["FORMATS", "Edge", "Node", "Picture", "from_state", "from_topology", "render_dot", "render_mermaid",
           "render_svg"]
