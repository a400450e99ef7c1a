"""PortItem: the round connector on a card's left (input) or right (output) edge.

Ports do not handle the mouse themselves: the view sees a press on a port and runs the
connection drag (preview curve, green/red target hint, `document.connect` on release).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneHoverEvent, QStyleOptionGraphicsItem, QWidget

PORT_RADIUS = 5.5
HOVER_RADIUS = 7.0


class PortItem(QGraphicsItem):
    def __init__(self, node: QGraphicsItem, kind: str, centre: QPointF):
        super().__init__(node)
        self.kind = kind  # "in" or "out"
        self.colour = QColor("#64748b")
        self.hovered = False
        self.setPos(centre)
        self.setZValue(2.0)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip(
            "Drag to an input port to connect" if kind == "out" else "Drag from here to choose its input"
        )

    @property
    def node_id(self) -> str:
        return self.parentItem().node_id

    def boundingRect(self) -> QRectF:
        r = HOVER_RADIUS + 3.0  # a little more than drawn: a forgiving hit area
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = self.parentItem().theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        radius = HOVER_RADIUS if self.hovered else PORT_RADIUS
        painter.setPen(QPen(self.colour, 2.0))
        painter.setBrush(self.colour if self.hovered else theme.card)
        painter.drawEllipse(QPointF(0.0, 0.0), radius, radius)


class ConnectHint(QGraphicsItem):
    """The tooltip-like label near the cursor while dragging a connection: green "Connect
    a → b" over a valid target, red with `spec.can_connect`'s reason over an invalid one.
    Drawn at the same size whatever the zoom (ItemIgnoresTransformations)."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.colour = QColor("#30a46c")
        self.font = QFont()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(10.0)
        self.setVisible(False)

    def show_text(self, text: str, colour: QColor, font: QFont) -> None:
        self.prepareGeometryChange()
        self.text, self.colour, self.font = text, colour, font
        self.setVisible(bool(text))

    def boundingRect(self) -> QRectF:
        metrics = QFontMetricsF(self.font)
        return QRectF(14.0, 16.0, metrics.horizontalAdvance(self.text) + 16.0, metrics.height() + 8.0)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = self.boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(rect, 5.0, 5.0)
        painter.setPen(QColor("white"))
        painter.setFont(self.font)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.text)
