"""CanvasScene: mirrors a NetworkDocument as node and edge items.

The scene creates, moves, updates and removes items only in response to the document's
signals; it never edits the spec. The one thing it reports back is the selection (through
`document.set_selection`), guarded by a QSignalBlocker against echo loops.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QRectF, QSignalBlocker
from PySide6.QtWidgets import QGraphicsScene

from engine.registry import LAYERS
from gui.canvas.edge_item import EdgeItem
from gui.canvas.node_item import CanvasTheme, NodeContent, NodeItem
from gui.document import NetworkDocument

MARGIN = 800.0  # room to pan around the network
VIEW_SLACK = 32.0  # view pixels of scene kept beyond what a view shows (rounding never centres it)


def shape_text(shape: tuple[int, ...] | None) -> str:
    """'→ (None, 128)' (the batch dimension first, Keras style), or '→ ?' when unknown."""
    if shape is None:
        return "→ ?"
    return "→ (None, " + ", ".join(str(d) for d in shape) + ")"


def node_content(document: NetworkDocument, node_id: str, problems: dict[str, list[str]]) -> NodeContent:
    """What the card of `node_id` shows, read from the spec and the last shape report."""
    spec, report = document.spec, document.shape_report
    node = spec.nodes[node_id]
    layer = LAYERS.get(node.type)
    shape = report.shapes.get(node_id)
    params = ""
    if shape is not None:
        in_shapes = [report.shapes[s] for s in spec.inputs_of(node_id)]
        count = sum(math.prod(s) for s in layer.weight_shapes(node.params, in_shapes).values())
        params = f"{count:,} param" + ("" if count == 1 else "s") if count else ""
    return NodeContent(
        type_name=node.type,
        group=layer.group,
        title=node_id,
        detail=layer.describe(node.params),
        shape=shape_text(shape),
        params=params,
        problem="\n".join(problems.get(node_id, [])),
    )


class CanvasScene(QGraphicsScene):
    def __init__(self, document: NetworkDocument, theme: CanvasTheme, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.theme = theme
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[tuple[str, str], EdgeItem] = {}
        document.node_added.connect(self._node_added)
        document.node_removed.connect(self._node_removed)
        document.node_moved.connect(self._node_moved)
        document.node_changed.connect(self._refresh_node)
        document.edge_added.connect(self._edge_added)
        document.edge_removed.connect(self._edge_removed)
        document.shapes_changed.connect(self.refresh)
        document.document_reset.connect(self.rebuild)
        document.selection_changed.connect(self._select)
        self.selectionChanged.connect(self._report_selection)
        self.rebuild()

    # ------------------------------------------------------------------ public
    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        for item in self.node_items.values():
            item.set_theme(theme)
        for edge in self.edge_items.values():
            edge.update()

    def rebuild(self) -> None:
        """Drop every item and build them again from the document (after new/open/revert)."""
        with QSignalBlocker(self):
            for key in list(self.edge_items):
                self._edge_removed(*key)
            for node_id in list(self.node_items):
                self._node_removed(node_id)
            for node_id in self.document.spec.nodes:
                self._node_added(node_id, refresh=False)
            for source, target in self.document.spec.edges:
                self._edge_added(source, target)
        self.refresh()
        self._select(self.document.selected_ids)

    def refresh(self) -> None:
        """Update every card's content (shape, parameter count, problem) and the scene rect."""
        problems = self._problems()
        for node_id, item in self.node_items.items():
            item.set_content(node_content(self.document, node_id, problems))
        self.update_rect()

    def content_rect(self) -> QRectF:
        """Bounding rect of the network's items (cards and edges), in scene coordinates."""
        rect = QRectF()
        for item in [*self.node_items.values(), *self.edge_items.values()]:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def update_rect(self, also: QRectF | None = None) -> None:
        """The network plus MARGIN, and always what each view shows (and `also`): an edit that
        grows or shrinks the network never scrolls or re-centres a view (a scene rect smaller
        than the view is centred in it; one that no longer holds the shown part is scrolled)."""
        rect = self.content_rect()
        if rect.isNull():
            rect = QRectF(-400.0, -300.0, 800.0, 600.0)
        rect = rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
        for view in self.views():
            slack = VIEW_SLACK / max(view.transform().m11(), 1e-6)
            rect = rect.united(
                view.mapToScene(view.viewport().rect()).boundingRect().adjusted(-slack, -slack, slack, slack)
            )
        if also is not None:
            rect = rect.united(also)
        if rect != self.sceneRect():
            self.setSceneRect(rect)

    # ------------------------------------------------------- document signals
    def _problems(self) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        for problem in self.document.shape_report.problems:
            if problem.node_id is not None:
                problems.setdefault(problem.node_id, []).append(problem.message)
        return problems

    def _node_added(self, node_id: str, refresh: bool = True) -> None:
        item = NodeItem(node_id, self.theme)
        item.setPos(*self.document.spec.nodes[node_id].pos)
        self.addItem(item)
        self.node_items[node_id] = item
        if refresh:
            self._refresh_node(node_id)

    def _node_removed(self, node_id: str) -> None:
        item = self.node_items.pop(node_id)
        for edge in list(item.edges):
            self._edge_removed(*edge.key)
        self.removeItem(item)

    def _node_moved(self, node_id: str) -> None:
        self.node_items[node_id].setPos(*self.document.spec.nodes[node_id].pos)

    def _refresh_node(self, node_id: str) -> None:
        self.node_items[node_id].set_content(node_content(self.document, node_id, self._problems()))

    def _edge_added(self, source: str, target: str) -> None:
        edge = EdgeItem(self.node_items[source], self.node_items[target])
        self.addItem(edge)
        self.edge_items[(source, target)] = edge

    def _edge_removed(self, source: str, target: str) -> None:
        edge = self.edge_items.pop((source, target))
        edge.detach()
        self.removeItem(edge)

    def _select(self, ids: list[str]) -> None:
        wanted = set(ids)
        with QSignalBlocker(self):
            for node_id, item in self.node_items.items():
                item.setSelected(node_id in wanted)

    def _report_selection(self) -> None:
        selected = {item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)}
        self.document.set_selection([i for i in self.document.spec.nodes if i in selected])
