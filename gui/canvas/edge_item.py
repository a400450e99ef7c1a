"""EdgeItem: a cubic Bézier from a card's output port to another card's input port, with an
arrowhead. It follows its two NodeItems when they move (they call `update_path`).

Edges that skip over a layer on the same row run in a lane below the cards in between instead
of through them (residual connections read like the usual ResNet diagrams).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui.canvas.node_item import HEIGHT, NodeItem
from gui.canvas.port_item import PORT_RADIUS
from gui.network_layout import X_GAP

ARROW_LENGTH = 9.0
ARROW_WIDTH = 8.0
MAGNITUDE_STEPS = 50  # weight-style levels: finer width or opacity steps do not show
BEND = 34.0  # horizontal room a skip connection takes to drop into its lane (< the gap)
LANE_CLEARANCE = 22.0  # how far below the cards skip connections run
POSITIVE = QColor("#2f6fde")  # weight colours while training (TensorFlow Playground style)
NEGATIVE = QColor("#e8772e")


def edge_path(start: QPointF, tip: QPointF) -> QPainterPath:
    """The curve from an output port centre to the arrow's tip (the curve stops at the
    arrow's base, so the line does not poke through the arrowhead)."""
    end = tip - QPointF(ARROW_LENGTH, 0.0)
    dx, dy = end.x() - start.x(), end.y() - start.y()
    path = QPainterPath(start)
    if dx > 1.5 * X_GAP and abs(dy) < HEIGHT:
        # a skip connection along a row: drop into a lane below the cards, run, and rise
        lane = max(start.y(), end.y()) + HEIGHT / 2 + LANE_CLEARANCE
        down, up = QPointF(start.x() + BEND, lane), QPointF(end.x() - BEND, lane)
        path.cubicTo(start + QPointF(BEND * 0.8, 0.0), down - QPointF(BEND * 0.8, 0.0), down)
        path.lineTo(up)
        path.cubicTo(up + QPointF(BEND * 0.8, 0.0), end - QPointF(BEND * 0.8, 0.0), end)
        return path
    reach = max(abs(dx) * 0.5, 40.0) if dx >= 0 else max(abs(dx) * 0.35, 90.0)
    path.cubicTo(start + QPointF(reach, 0.0), end - QPointF(reach, 0.0), end)
    return path


class EdgeItem(QGraphicsItem):
    def __init__(self, source: NodeItem, target: NodeItem):
        super().__init__()
        self.source, self.target = source, target
        self.magnitude: float | None = None
        self.sign = 1
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._tip = QPointF()
        self._rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0.0)
        self.setToolTip(f"{source.node_id} → {target.node_id}  (select and press Del to disconnect)")
        source.edges.append(self)
        target.edges.append(self)
        self.update_path()

    @property
    def key(self) -> tuple[str, str]:
        return self.source.node_id, self.target.node_id

    def detach(self) -> None:
        """Forget the two nodes (called before the scene removes this item)."""
        for node in (self.source, self.target):
            if self in node.edges:
                node.edges.remove(self)

    def set_weight_style(self, magnitude: float | None, sign: int) -> None:
        """Colour by a weight summary while training: `magnitude` in [0, 1] sets width and
        opacity, `sign` >= 0 is blue, < 0 orange; None goes back to the plain style. Rounded to
        1/MAGNITUDE_STEPS, so a change the eye cannot see does not repaint."""
        if magnitude is not None:
            magnitude = round(min(max(float(magnitude), 0.0), 1.0) * MAGNITUDE_STEPS) / MAGNITUDE_STEPS
        if (magnitude, sign) != (self.magnitude, self.sign):
            self.magnitude, self.sign = magnitude, sign
            self.update()

    def update_path(self) -> None:
        self.prepareGeometryChange()
        start = self.source.port_position("out")
        self._tip = self.target.port_position("in") - QPointF(PORT_RADIUS + 1.0, 0.0)
        self._path = edge_path(start, self._tip)
        self._shape = None
        pad = ARROW_WIDTH + 4.0
        self._rect = (
            self._path.controlPointRect().united(QRectF(self._tip, self._tip)).adjusted(-pad, -pad, pad, pad)
        )

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(12.0)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = self.source.theme
        width = 1.6
        colour = QColor(theme.edge)
        if self.isSelected():
            colour, width = QColor(theme.highlight), 3.0
        elif self.magnitude is not None:
            colour = QColor(POSITIVE if self.sign >= 0 else NEGATIVE)
            colour.setAlphaF(0.3 + 0.7 * self.magnitude)
            width = 1.0 + 4.0 * self.magnitude
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        tip = self._tip
        half = ARROW_WIDTH / 2 + (width - 1.6) / 2
        arrow = QPolygonF(
            [tip, tip + QPointF(-ARROW_LENGTH - 1.0, -half), tip + QPointF(-ARROW_LENGTH - 1.0, half)]
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(arrow)


class PreviewEdge(QGraphicsItem):
    """The dashed curve that follows the cursor while a connection is being dragged."""

    def __init__(self, colour: QColor):
        super().__init__()
        self.colour = colour
        self._path = QPainterPath()
        self.setZValue(5.0)

    def set_ends(self, start: QPointF, tip: QPointF) -> None:
        self.prepareGeometryChange()
        self._path = edge_path(start, tip + QPointF(ARROW_LENGTH, 0.0))

    def boundingRect(self) -> QRectF:
        return self._path.controlPointRect().adjusted(-4.0, -4.0, 4.0, 4.0)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.colour, 2.0, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap))
        painter.drawPath(self._path)
