"""Where every box, wire and label of a picture goes (pure Python, no Graphviz).

Hosts sit in rows no wider than a page (ROW_MAX); a chain turns at a row's end and comes
back the other way, so that neighbours stay side by side. Two hosts wired to each other
and side by side in a row get a straight wire across, the gap between them as wide as
their labels need. Every other wire leaves its host from the bottom (or comes in at the
top, from the row above) and runs along a track of its own in the channel between two
rows; a segment of three or more is a bus along a track, its switch a pill on it. Wires
between rows further apart go round by a lane left of the rows. Each end's name and
addresses sit beside where it leaves its box, in a slot of the box's edge wide enough for
them; whatever still collides is moved by labels.Placer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simlab.graph.labels import Label, Placer, text_width
from simlab.graph.model import Edge, Node, Picture
from simlab.graph.style import CHANGED, colors

NS_W, NS_H, BR_W, BR_H = 140, 54, 130, 40
PAD, TITLE = 24, 30
INNER_GAP = 74  # between the namespace row and the bridge row: room for the veth labels
HOST_MIN_W, HOST_H = 150, 64
ROW_MAX = 1100  # a row of hosts fits the HTML report's width
MARGIN = 30
GAP_MIN = 60  # between two hosts of a row with no wire across
CHANNEL_MIN = 40  # between two rows
ZONE = 32  # under a host (or over it): an end's name and addresses
TRACK, BUS_TRACK = 14, 32
LANE = 14  # lanes left of the rows, for wires between rows further apart
LANES_GAP = 16  # between the lanes and the rows
SLOT_PAD = 12
PILL_H = 24
Point = tuple[float, float]


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

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def toward(self, x: float, y: float) -> Point:
        """Where the line from the centre to (x, y) leaves the box."""
        dx, dy = x - self.cx, y - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        scale = min(self.w / 2 / abs(dx) if dx else math.inf, self.h / 2 / abs(dy) if dy else math.inf)
        return self.cx + dx * scale, self.cy + dy * scale


@dataclass
class Wire:
    edge: Edge
    points: list[Point]
    labels: list[Label] = field(default_factory=list)


@dataclass
class Drawing:
    boxes: dict[str, Box]
    wires: list[Wire]
    buses: dict[str, list[list[Point]]]  # switch id -> its bus lines
    texts: dict[str, list[Label]]  # node id -> the texts of its box
    width: float = 0
    height: float = 0


@dataclass
class _Slot:
    """Where one wire end leaves a host: its side (bottom or top) and the room its labels take."""

    edge: Edge
    end: str  # "a" or "b"
    side: str
    width: float
    x: float = 0


@dataclass
class _Plan:
    """Which wires go straight across a row, which wires and buses run in the channels."""

    across: list[Edge] = field(default_factory=list)
    routed: list[Edge] = field(default_factory=list)
    inside: list[Edge] = field(default_factory=list)
    slots: dict[str, list[_Slot]] = field(default_factory=dict)  # host id -> its slots


def layout(picture: Picture) -> Drawing:
    order = _host_order(picture)
    inner = {h: _natural_width(picture, picture.nodes[h]) for h in order}
    widths = dict(inner)
    for _ in range(4):  # slots widen hosts, which can move the row breaks: settle
        rows = _rows(picture, order, widths)
        plan = _plan(picture, rows)
        wanted = {h: max(inner[h], *(_slot_span(plan.slots.get(h, []), side) for side in ("bottom", "top")))
                  for h in order}
        if wanted == widths:
            break
        widths = wanted
    return _Builder(picture, rows, plan, widths).build()


def _natural_width(picture: Picture, host: Node) -> float:
    children = picture.children(host.id)
    top = sum(c.kind == "netns" for c in children)
    low = sum(c.kind in ("bridge", "root") for c in children)
    title = max([text_width(host.label, 14, True), *(text_width(d, 10) for d in host.detail)]) + 24
    return max(HOST_MIN_W, top * (NS_W + PAD) + PAD, low * (BR_W + PAD) + PAD, title)


def _slot_span(slots: list[_Slot], side: str) -> float:
    return SLOT_PAD + sum(s.width for s in slots if s.side == side)


def end_width(label: str, detail: str) -> float:
    """The room an end's name (bold 11) and addresses (10) take beside its wire."""
    return max(text_width(label, 11, True) if label else 0, text_width(detail, 10) if detail else 0)


def _host_order(picture: Picture) -> list[str]:
    """Hosts in declared order, but two hosts wired point-to-point go side by side at the end of
    the row (an upstream router then sits at the edge, as in the tutorial's figures)."""
    order = [n.id for n in picture.hosts()]
    for edge in picture.edges:
        a, b = host_of(picture, edge.a), host_of(picture, edge.b)
        if a in order and b in order and a != b and abs(order.index(a) - order.index(b)) > 1:
            if len(order) > 4 and _linked(picture, a) + _linked(picture, b) > 2:
                continue  # a mesh: moving pairs would only shuffle it
            order.remove(a)
            order.remove(b)
            order += [a, b]
    return order


def _linked(picture: Picture, host: str) -> int:
    """How many host-to-host wires ``host`` has."""
    return sum(host in (e.a, e.b) and _is_host(picture, e.a) and _is_host(picture, e.b) for e in picture.edges)


def host_of(picture: Picture, node_id: str) -> str:
    node = picture.nodes.get(node_id)
    if node is None:
        return ""
    return node.parent or node.id


def _is_host(picture: Picture, node_id: str) -> bool:
    node = picture.nodes.get(node_id)
    return node is not None and node.kind == "host"


def _across_edge(picture: Picture, left: str, right: str) -> Edge | None:
    """The first wire straight between two host boxes (not their namespaces)."""
    return next((e for e in picture.edges if {e.a, e.b} == {left, right} and left != right), None)


def _across_gap(edge: Edge | None) -> float:
    if edge is None:
        return GAP_MIN
    return max(GAP_MIN, end_width(edge.a_label, edge.a_detail) + end_width(edge.b_label, edge.b_detail) + 30)


@dataclass
class _Row:
    hosts: list[str]
    reverse: bool  # laid out right to left: the chain turned at the end of the row above


def _rows(picture: Picture, order: list[str], widths: dict[str, float]) -> list[_Row]:
    rows: list[_Row] = []
    current: list[str] = []
    span = 0.0
    for host in order:
        gap = _across_gap(_across_edge(picture, current[-1], host)) if current else 0
        if current and span + gap + widths[host] > ROW_MAX:
            rows.append(_Row(current, False))
            current, span, gap = [], 0.0, 0
        current.append(host)
        span += gap + widths[host]
    if current:
        rows.append(_Row(current, False))
    for above, row in zip(rows, rows[1:]):  # a wire from the end of a row to the start of the next: turn
        turn = _across_edge(picture, above.hosts[-1], row.hosts[0]) is not None
        row.reverse = above.reverse != turn
    return rows


def _plan(picture: Picture, rows: list[_Row]) -> _Plan:
    plan = _Plan()
    row_of = {h: i for i, row in enumerate(rows) for h in row.hosts}
    neighbours = {frozenset(pair) for row in rows for pair in zip(row.hosts, row.hosts[1:])}
    for edge in picture.edges:
        if edge.a not in picture.nodes or edge.b not in picture.nodes:
            continue
        ha, hb = host_of(picture, edge.a), host_of(picture, edge.b)
        if ha == hb and ha:
            plan.inside.append(edge)
            continue
        pair = frozenset((edge.a, edge.b))
        if pair in neighbours and _is_host(picture, edge.a) and _is_host(picture, edge.b):
            neighbours.discard(pair)  # a second wire between the two runs in the channel
            plan.across.append(edge)
            continue
        plan.routed.append(edge)
        for end, host, other in (("a", ha, hb), ("b", hb, ha)):
            if host not in row_of:
                continue  # a switch
            side = "top" if other in row_of and row_of[other] < row_of[host] else "bottom"
            label, detail = (edge.a_label, edge.a_detail) if end == "a" else (edge.b_label, edge.b_detail)
            plan.slots.setdefault(host, []).append(_Slot(edge, end, side, end_width(label, detail) + 6 + SLOT_PAD))
    return plan


class _Builder:
    """Puts the rows on the page, then the channels, the wires and their labels."""

    def __init__(self, picture: Picture, rows: list[_Row], plan: _Plan, widths: dict[str, float]) -> None:
        self.picture, self.rows, self.plan, self.widths = picture, rows, plan, widths
        self.boxes: dict[str, Box] = {}
        self.row_of = {h: i for i, row in enumerate(rows) for h in row.hosts}
        self.tracks: dict[int, list[tuple[str, float]]] = {}  # channel -> (key, height) in order
        self.lanes: list[str] = []  # keys of what goes round by the left lanes
        self.buses: dict[str, list[list[Point]]] = {}

    def build(self) -> Drawing:
        self._claim_tracks()
        left = MARGIN + (len(self.lanes) * LANE + LANES_GAP if self.lanes else 0)
        self._place_rows(left)
        wires = [self._inside(e) for e in self.plan.inside]
        wires += [self._across(e) for e in self.plan.across]
        switch_edges: dict[str, list[Edge]] = {}
        for edge in self.plan.routed:
            switch = self._switch_end(edge)
            if switch:
                switch_edges.setdefault(switch, []).append(edge)
            else:
                wires.append(self._routed(edge))
        for node in self.picture.nodes.values():
            if node.kind == "switch":
                wires += self._bus(node, switch_edges.get(node.id, []))
        texts = {node.id: node_labels(node, self.boxes[node.id]) for node in self.picture.nodes.values()
                 if node.id in self.boxes}
        placer = Placer(label for labels in texts.values() for label in labels)
        for wire in wires:
            wire.labels = [placed for group in _groups(wire.labels) for placed in placer.place(group)]
        return self._drawing(wires, texts, placer.placed)

    def _switch_end(self, edge: Edge) -> str:
        for end in (edge.a, edge.b):
            if self.picture.nodes[end].kind == "switch":
                return end
        return ""

    def _claim_tracks(self) -> None:
        """A track in a channel for every routed wire and every bus; a lane for what spans rows."""
        for edge in self.plan.routed:
            switch = self._switch_end(edge)
            if switch:
                continue
            ra, rb = sorted(self.row_of.get(host_of(self.picture, end), 0) for end in (edge.a, edge.b))
            key = _key(edge)
            self._track(ra, key)
            if rb > ra + 1:
                self._track(rb - 1, key + "/2")
                self.lanes.append(key)
        for node in self.picture.nodes.values():
            if node.kind != "switch":
                continue
            rows = sorted({self.row_of.get(host_of(self.picture, e.a if e.b == node.id else e.b), 0)
                           for e in self.plan.routed if node.id in (e.a, e.b)}) or [len(self.rows) - 1]
            for i, row in enumerate(rows):
                self._track(row, f"{node.id}#{row}", BUS_TRACK if i == 0 else TRACK)
            if len(rows) > 1:
                self.lanes.append(node.id)

    def _track(self, channel: int, key: str, height: float = TRACK) -> None:
        self.tracks.setdefault(max(channel, 0), []).append((key, height))

    def _place_rows(self, left: float) -> None:
        y: float = MARGIN
        previous: list[Box] = []
        self.track_y: dict[str, float] = {}
        for index, row in enumerate(self.rows):
            xs = self._row_xs(row, left, previous)
            for host, x in zip(row.hosts, xs):
                self.boxes.update(_host_layout(self.picture, self.picture.nodes[host], x, y, self.widths[host]))
            boxes = [self.boxes[h] for h in row.hosts]
            bottom = max(b.bottom for b in boxes)
            below = self.rows[index + 1].hosts if index + 1 < len(self.rows) else []
            slots = [s for h in row.hosts for s in self.plan.slots.get(h, []) if s.side == "bottom"]
            top_next = [s for h in below for s in self.plan.slots.get(h, []) if s.side == "top"]
            cursor = bottom + (ZONE if slots else 10)
            for key, height in self.tracks.get(index, []):
                self.track_y[key] = cursor + height / 2
                cursor += height
            cursor += ZONE if top_next else 10
            y = max(cursor, bottom + CHANNEL_MIN) if below else cursor
            previous = [self.boxes[h] for h in row.hosts]
        self._slot_xs()

    def _row_xs(self, row: _Row, left: float, previous: list[Box]) -> list[float]:
        """The x of each host of ``row``: left to right, or right to left under the end of the
        row above when the chain turns there."""
        gaps = [0.0] + [_across_gap(_across_edge(self.picture, a, b)) for a, b in zip(row.hosts, row.hosts[1:])]
        span = sum(gaps) + sum(self.widths[h] for h in row.hosts)
        if row.reverse and previous:
            right = max(previous[-1].x + previous[-1].w, left + span)
            xs, x = [], right
            for host, gap in zip(row.hosts, gaps):
                x -= gap + self.widths[host]
                xs.append(x)
            return xs
        x = previous[-1].x if previous and self.rows.index(row) > 0 and self._turned(row) else left
        x = max(left, min(x, left + ROW_MAX - span))
        xs = []
        for host, gap in zip(row.hosts, gaps):
            x += gap
            xs.append(x)
            x += self.widths[host]
        return xs

    def _turned(self, row: _Row) -> bool:
        above = self.rows[self.rows.index(row) - 1]
        return _across_edge(self.picture, above.hosts[-1], row.hosts[0]) is not None

    def _slot_xs(self) -> None:
        """Slots packed from each host's left edge, top and bottom apart."""
        for host, slots in self.plan.slots.items():
            box = self.boxes[host]
            for side in ("bottom", "top"):
                x = box.x + SLOT_PAD
                for slot in (s for s in slots if s.side == side):
                    slot.x = x
                    x += slot.width

    def _slot(self, edge: Edge, end: str) -> _Slot | None:
        host = host_of(self.picture, edge.a if end == "a" else edge.b)
        return next((s for s in self.plan.slots.get(host, []) if s.edge is edge and s.end == end), None)

    def _end_points(self, edge: Edge, end: str) -> tuple[list[Point], Point, list[Label]]:
        """The lines from an end's box to where it leaves its host, the point where it does, and its labels."""
        slot = self._slot(edge, end)
        assert slot is not None  # every end of a drawn wire got a slot when the wires were planned
        node_id = edge.a if end == "a" else edge.b
        host = self.boxes[host_of(self.picture, node_id)]
        label, detail = (edge.a_label, edge.a_detail) if end == "a" else (edge.b_label, edge.b_detail)
        y = host.bottom if slot.side == "bottom" else host.y
        lead: list[Point] = []
        if node_id != host_of(self.picture, node_id):  # from a namespace or bridge inside the host
            inner = self.boxes[node_id]
            lead = [(inner.cx, inner.bottom if slot.side == "bottom" else inner.y)]
        return lead, (slot.x, y), _end_labels(slot.x, y, slot.side, label, detail)

    def _routed(self, edge: Edge) -> Wire:
        ends = sorted(("a", "b"), key=lambda end: self.row_of[host_of(self.picture, edge.a if end == "a" else
                                                                         edge.b)])
        lead1, (x1, y1), labels1 = self._end_points(edge, ends[0])
        lead2, (x2, y2), labels2 = self._end_points(edge, ends[1])
        key = _key(edge)
        ty = self.track_y[key]
        if key in self.lanes:
            lane = MARGIN + (self.lanes.index(key) + 0.5) * LANE
            ty2 = self.track_y[key + "/2"]
            middle = [(x1, ty), (lane, ty), (lane, ty2), (x2, ty2)]
        else:
            middle = [(x1, ty), (x2, ty)]
        points = [*lead1, (x1, y1), *middle, (x2, y2), *reversed(lead2)]
        return Wire(edge, points, labels=labels1 + labels2)

    def _bus(self, node: Node, edges: list[Edge]) -> list[Wire]:
        """The drops from the members to the bus, the bus in each channel, the pill on the first."""
        drops: dict[int, list[float]] = {}
        wires = []
        for edge in edges:
            end = "a" if edge.b == node.id else "b"
            lead, (x, y), labels = self._end_points(edge, end)
            row = self.row_of[host_of(self.picture, edge.a if end == "a" else edge.b)]
            ty = self.track_y[f"{node.id}#{row}"]
            drops.setdefault(row, []).append(x)
            wires.append(Wire(edge, [*lead, (x, y), (x, ty)], labels=labels))
        rows = sorted(drops) or [len(self.rows) - 1]
        pill_w = text_width(f"switch {node.label}", 12, True) + 24
        first_y = self.track_y[f"{node.id}#{rows[0]}"]
        pill_x = _pill_x(sorted(drops.get(rows[0], [])), pill_w, MARGIN + len(self.lanes) * LANE + LANES_GAP)
        self.boxes[node.id] = Box(pill_x, first_y - PILL_H / 2, pill_w, PILL_H)
        lines = []
        lane = MARGIN + (self.lanes.index(node.id) + 0.5) * LANE if node.id in self.lanes else None
        for i, row in enumerate(rows):
            ty = self.track_y[f"{node.id}#{row}"]
            xs = drops.get(row, []) + ([pill_x, pill_x + pill_w] if i == 0 else []) + ([lane] if lane else [])
            lines.append([(min(xs), ty), (max(xs), ty)])
        if lane is not None:
            lines.append([(lane, self.track_y[f"{node.id}#{rows[0]}"]), (lane, self.track_y[f"{node.id}#{rows[-1]}"])])
        self.buses[node.id] = lines
        return wires

    def _across(self, edge: Edge) -> Wire:
        """Two hosts side by side: straight across at the shorter's middle, names above, addresses below."""
        a, b = self.boxes[edge.a], self.boxes[edge.b]
        y = max(a.y, b.y) + min(a.h, b.h) / 2
        (x1, x2) = (a.x + a.w, b.x) if a.x < b.x else (a.x, b.x + b.w)
        labels = []
        for x, toward, label, detail in ((x1, x2, edge.a_label, edge.a_detail), (x2, x1, edge.b_label, edge.b_detail)):
            anchor, lx = ("start", x + 8) if toward > x else ("end", x - 8)
            labels += _pair(lx, y - 6, y + 13, anchor, label, detail)
        return Wire(edge, [(x1, y), (x2, y)], labels=labels)

    def _inside(self, edge: Edge) -> Wire:
        """Both ends in one host: straight down when one box is above the other, else centre to centre."""
        a, b = self.boxes[edge.a], self.boxes[edge.b]
        if _stacked(a, b):
            upper, lower = (a, b) if a.y < b.y else (b, a)
            x = min(max(upper.cx, lower.x + 12), lower.x + lower.w - 12)
            y1, y2 = (upper.bottom, lower.y) if upper is a else (lower.y, upper.bottom)
            labels = []
            for y, label, detail in ((y1, edge.a_label, edge.a_detail), (y2, edge.b_label, edge.b_detail)):
                ly = y + 14 if y == upper.bottom else y - (19 if detail else 6)
                labels += _pair(x + 6, ly, ly + 12, "start", label, detail)
            return Wire(edge, [(x, y1), (x, y2)], labels=labels)
        x1, y1 = a.toward(b.cx, b.cy)
        x2, y2 = b.toward(a.cx, a.cy)
        length = math.hypot(x2 - x1, y2 - y1) or 1
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        labels = []
        for (x, y, dx, dy), label, detail in zip(((x1, y1, ux, uy), (x2, y2, -ux, -uy)),
                                                 (edge.a_label, edge.b_label), (edge.a_detail, edge.b_detail)):
            lx, ly = x + dx * 24, y + dy * 24
            anchor, lx = ("end", lx - 6) if dx >= 0 else ("start", lx + 6)
            labels += _pair(lx, ly, ly + 13, anchor, label, detail)
        return Wire(edge, [(x1, y1), (x2, y2)], labels=labels)

    def _drawing(self, wires: list[Wire], texts: dict[str, list[Label]], labels: list[Label]) -> Drawing:
        xs = [b.x + b.w for b in self.boxes.values()] + [lb.bounds()[2] for lb in labels]
        ys = [b.bottom for b in self.boxes.values()] + [lb.bounds()[3] for lb in labels]
        for lines in self.buses.values():
            xs += [x for line in lines for x, _ in line]
            ys += [y for line in lines for _, y in line]
        return Drawing(self.boxes, wires, self.buses, texts, max(xs, default=200) + MARGIN,
                       max(ys, default=100) + MARGIN)


def _key(edge: Edge) -> str:
    return f"{edge.a}|{edge.a_label}|{edge.b}|{edge.b_label}"


def _groups(labels: list[Label]) -> list[list[Label]]:
    """An end's name and its addresses move together: each group starts with a bold name."""
    groups: list[list[Label]] = []
    for label in labels:
        if label.bold or not groups:
            groups.append([label])
        else:
            groups[-1].append(label)
    return groups


def _pair(x: float, name_y: float, detail_y: float, anchor: str, label: str, detail: str) -> list[Label]:
    pair = [Label(x, name_y, label, 11, anchor, True, halo=True)] if label else []
    return pair + ([Label(x, detail_y, detail, 10, anchor, color="#1864ab", halo=True)] if detail else [])


def _end_labels(x: float, y: float, side: str, label: str, detail: str) -> list[Label]:
    """Beside a wire leaving a box's bottom (labels under the box) or top (labels over it)."""
    if side == "bottom":
        return _pair(x + 6, y + 13, y + 25, "start", label, detail)
    return _pair(x + 6, y - (17 if detail else 5), y - 5, "start", label, detail)


def _pill_x(drops: list[float], width: float, left: float) -> float:
    """Where a switch's pill goes on its bus: in the first gap between two drops wide enough,
    else after the last."""
    if not drops:
        return left
    for x1, x2 in zip(drops, drops[1:]):
        if x2 - x1 >= width + 2 * SLOT_PAD + 100:  # room for the labels of the drop on the left
            return x2 - SLOT_PAD - width
    return drops[-1] + 100


def _stacked(a: Box, b: Box) -> bool:
    """One box above the other with their spans overlapping: a straight vertical wire fits."""
    upper, lower = (a, b) if a.y < b.y else (b, a)
    return upper.bottom < lower.y and upper.x < lower.x + lower.w and lower.x < upper.x + upper.w


def _host_layout(picture: Picture, host: Node, x: float, y: float, width: float) -> dict[str, Box]:
    children = picture.children(host.id)
    top = [c for c in children if c.kind == "netns"]
    low = [c for c in children if c.kind in ("bridge", "root")]
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


def node_labels(node: Node, box: Box) -> list[Label]:
    """The texts of a box: a host's name and details at its top left, the others' centred."""
    stroke = colors(node)[1]
    label = {"switch": f"switch {node.label}", "netns": f"netns {node.label}"}.get(node.kind, node.label)
    if node.kind == "host":
        texts = [Label(box.x + 10, box.y + 20, label, 14, bold=True, color=stroke)]
        texts += [Label(box.x + 10, box.y + 36 + 12 * i, line, 10, color="#868e96")
                  for i, line in enumerate(node.detail)]
    else:
        lines = [label, *node.detail[:2]] if node.kind != "switch" else [label]
        top = box.cy - (len(lines) - 1) * 7 + 4
        texts = [Label(box.cx, top + 14 * i, line, 12 if i == 0 else 10, "middle", i == 0,
                       stroke if i == 0 else "#495057") for i, line in enumerate(lines)]
    if node.changed:
        texts.append(Label(box.x + box.w - 6, box.y - 4, "changed", 9, "end", True, CHANGED))
    return texts
