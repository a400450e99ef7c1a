"""On the canvas: the node the Step-through shows gets a highlight frame, and its incoming edges
a small label with the numbers they carry (forward: the values going in; backward: the gradient
going back). The marks are items of their own over the canvas scene, not part of the nodes: they
go when the panel shows nothing (closed, a new document) and follow a moved node."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from gui.canvas import CanvasView
from gui.step_through.views import StepView

FRAME = QColor("#f59e0b")
LABEL_BACK = QColor(255, 251, 235, 235)
MARK_Z = 5.0  # over nodes (1) and edges (0)


class CanvasMarks:
    def __init__(self, canvas: CanvasView):
        self.canvas = canvas
        self.items: list[QGraphicsItem] = []
        self.node_id: str | None = None
        self.labels: dict[tuple[str, str], str] = {}
        canvas.document.node_moved.connect(lambda _node_id: self._draw())

    def show(self, node_id: str | None, view: StepView | None) -> None:
        """Highlight `node_id` (None: no node) with `view`'s edge labels; (None, None) clears."""
        self.node_id = node_id
        self.labels = dict(view.edge_labels) if view is not None and node_id is not None else {}
        self._draw()

    def clear(self) -> None:
        self.show(None, None)

    def _draw(self) -> None:
        scene = self.canvas.scene()
        for item in self.items:
            if item.scene() is scene:
                scene.removeItem(item)
        self.items = []
        node = self.canvas.node_item(self.node_id) if self.node_id is not None else None
        if node is None:
            return
        frame = QGraphicsRectItem(node.sceneBoundingRect().adjusted(-6, -6, 6, 6))
        pen = QPen(FRAME, 3)
        pen.setCosmetic(True)
        frame.setPen(pen)
        self._add(frame)
        for (source, target), text in self.labels.items():
            start, end = self.canvas.node_item(source), self.canvas.node_item(target)
            if start is None or end is None or not text:
                continue
            a, b = start.port_position("out"), end.port_position("in")
            label = QGraphicsSimpleTextItem(text)
            box = label.boundingRect()
            top = min(start.sceneBoundingRect().top(), end.sceneBoundingRect().top())
            label.setPos((a.x() + b.x()) / 2 - box.width() / 2, top - box.height() - 10)
            back = QGraphicsRectItem(QRectF(label.pos(), box.size()).adjusted(-3, -1, 3, 1))
            back.setBrush(QBrush(LABEL_BACK))
            back.setPen(QPen(FRAME, 1))
            self._add(back)
            self._add(label)

    def _add(self, item: QGraphicsItem) -> None:
        item.setZValue(MARK_Z)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        item.setAcceptHoverEvents(False)
        self.canvas.scene().addItem(item)
        self.items.append(item)
