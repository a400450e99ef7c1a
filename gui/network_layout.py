"""Where layer cards go: the card size, automatic layout and the free spot for a new card.

Pure Python (no Qt): the geometry of a network's drawing, which the document (a new layer placed
beside another, the undoable auto-layout) and the canvas (cards, arrows, drops) share, so the
model needs no view for it. Automatic layout puts layers left to right by topological depth,
rows ordered to cut crossings. The algorithm is the first half of Sugiyama's: longest-path
layering, then a few barycentric sweeps (each node moves towards the mean row of its neighbours
in the layers already placed), alternating left-to-right and right-to-left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CARD_SIZE = (184.0, 100.0)  # width and height of a layer card on the canvas
X_GAP = 240.0  # from one layer's left edge to the next one's (card width + room for arrows)
Y_GAP = 140.0  # from one row's top edge to the next one's
SWEEPS = 4


def layer_depths(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of every node (sources are 0); nodes on a cycle stay at 0."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for source, target in edges:
        if source in succ and target in succ:
            succ[source].append(target)
            indegree[target] += 1
    depth = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        node = ready.pop()
        for nxt in succ[node]:
            depth[nxt] = max(depth[nxt], depth[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return depth


def order_layers(
    nodes: Sequence[str], edges: Sequence[tuple[str, str]], depth: dict[str, int], sweeps: int = SWEEPS
) -> list[list[str]]:
    """Nodes grouped by depth, each group ordered top to bottom by barycentric sweeps."""
    count = max(depth.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    for node in nodes:
        layers[depth[node]].append(node)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        if source in preds and target in preds:
            succs[source].append(target)
            preds[target].append(source)

    # centred row numbers, so layers of different sizes line up around a common middle
    row = {n: i - (len(layer) - 1) / 2 for layer in layers for i, n in enumerate(layer)}
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        neighbours = preds if forward else succs
        for index in range(count) if forward else reversed(range(count)):
            layer = layers[index]
            keys = {
                node: sum(row[n] for n in neighbours[node]) / len(neighbours[node])
                if neighbours[node]
                else row[node]
                for node in layer
            }
            layer.sort(key=keys.__getitem__)
            row.update((n, i - (len(layer) - 1) / 2) for i, n in enumerate(layer))
    return layers


def layered_positions(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    origin: tuple[float, float] = (0.0, 0.0),
    x_gap: float = X_GAP,
    y_gap: float = Y_GAP,
) -> dict[str, tuple[float, float]]:
    """Top-left position of every node; the layout's top-left corner is at `origin`."""
    layers = order_layers(nodes, edges, layer_depths(nodes, edges))
    positions: dict[str, tuple[float, float]] = {}
    for column, layer in enumerate(layers):
        for row, node in enumerate(layer):
            offset = row - (len(layer) - 1) / 2
            positions[node] = (column * x_gap, offset * y_gap)
    top = min((y for _, y in positions.values()), default=0.0)
    return {n: (origin[0] + x, origin[1] + y - top) for n, (x, y) in positions.items()}


def free_position(
    wanted: tuple[float, float],
    occupied: Iterable[tuple[float, float]],
    size: tuple[float, float],
    gap: float = 16.0,
    step: float = 24.0,
) -> tuple[float, float]:
    """The top-left corner nearest to `wanted` where a card of `size` keeps `gap` from every card
    whose top-left corner is in `occupied` (all cards the same size): a new layer never covers
    another one or its ports. Candidates lie on rings of `step` around `wanted`."""
    width, height = size[0] + gap, size[1] + gap
    others = list(occupied)

    def free(x: float, y: float) -> bool:
        return all(abs(x - ox) >= width or abs(y - oy) >= height for ox, oy in others)

    x0, y0 = wanted
    for ring in range(200):
        spots = [
            (x0 + dx * step, y0 + dy * step)
            for dx in range(-ring, ring + 1)
            for dy in range(-ring, ring + 1)
            if max(abs(dx), abs(dy)) == ring
        ]
        spots.sort(key=lambda p: (p[0] - x0) ** 2 + (p[1] - y0) ** 2)
        for x, y in spots:
            if free(x, y):
                return x, y
    return x0, y0
