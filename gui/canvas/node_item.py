"""NodeItem: one layer drawn as a rounded card, plus the canvas colours shared by all items.

The card shows the type (in its group's colour, with a colour strip on the left), the id, the
layer's own short description ("Dense 128 · relu"), the output shape and the parameter count.
A node with a problem gets a red outline and a "!" badge, and the engine's message as tooltip.
The item caches its pixels (DeviceCoordinateCache): moving it or repainting the view does not
repaint the card, only a content or state change does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui.canvas.port_item import PortItem
from gui.network_layout import CARD_SIZE

WIDTH, HEIGHT = CARD_SIZE
RADIUS = 9.0
STRIP = 5.0
PAD = 12.0
ACTIVITY_STEPS = 150  # the activity bar is ~150 px wide at 100% zoom

GROUP_COLOURS = {
    "Core": "#3b82f6",
    "Activation": "#f59e0b",
    "Regularization": "#8b5cf6",
    "Reshape": "#14b8a6",
    "Merge": "#ec4899",
    "Normalization": "#22c55e",
    "Convolution": "#f97316",
    "Pooling": "#06b6d4",
    "Recurrent": "#a855f7",
}
_SPARE_COLOURS = ("#64748b", "#84cc16", "#e11d48", "#0ea5e9", "#d946ef")


def group_colour(group: str) -> QColor:
    """The colour of a registry group (a stable spare colour for groups not listed)."""
    if group in GROUP_COLOURS:
        return QColor(GROUP_COLOURS[group])
    return QColor(_SPARE_COLOURS[sum(map(ord, group)) % len(_SPARE_COLOURS)])


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3], strict=True)))


@dataclass
class CanvasTheme:
    """Colours and fonts of the canvas, derived from the view's palette and font."""

    dark: bool
    canvas: QColor
    grid: QColor
    card: QColor
    border: QColor
    text: QColor
    muted: QColor
    highlight: QColor
    edge: QColor
    error: QColor = field(default_factory=lambda: QColor("#e5484d"))
    valid: QColor = field(default_factory=lambda: QColor("#30a46c"))
    fonts: dict[str, QFont] = field(default_factory=dict)

    @classmethod
    def from_palette(cls, palette: QPalette, font: QFont | None = None) -> CanvasTheme:
        window = palette.color(QPalette.ColorRole.Window)
        text = palette.color(QPalette.ColorRole.WindowText)
        dark = window.lightnessF() < 0.5
        canvas = window.darker(125) if dark else _mix(window, QColor("white"), 0.45)
        card = window.lighter(135) if dark else QColor("white")
        theme = cls(
            dark=dark,
            canvas=canvas,
            grid=_mix(canvas, text, 0.22 if dark else 0.2),
            card=card,
            border=_mix(card, text, 0.22 if dark else 0.16),
            text=text,
            muted=_mix(text, card, 0.4),
            highlight=palette.color(QPalette.ColorRole.Highlight),
            edge=_mix(canvas, text, 0.5 if dark else 0.45),
        )
        base = QFont(font) if font is not None else QFont()
        size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
        # every text at the base size (weight and colour make the hierarchy): fitting a network
        # zooms out only until text is 9 px high (CanvasView.readable_scale), 75 % for 12 px text
        for name, scale, weight in (
            ("type", 1.0, QFont.Weight.DemiBold),
            ("title", 1.0, QFont.Weight.Bold),
            ("body", 1.0, QFont.Weight.Normal),
            ("small", 1.0, QFont.Weight.Normal),
        ):
            item_font = QFont(base)
            item_font.setPointSizeF(size * scale)
            item_font.setWeight(weight)
            theme.fonts[name] = item_font
        theme.fonts["type"].setCapitalization(QFont.Capitalization.AllUppercase)
        return theme


@dataclass(frozen=True)
class NodeContent:
    """What a card shows; the item repaints only when this changes."""

    type_name: str
    group: str
    title: str
    detail: str
    shape: str
    params: str
    problem: str = ""


class NodeItem(QGraphicsItem):
    """A layer card. `pos()` is its top-left corner (== the spec's node position)."""

    def __init__(self, node_id: str, theme: CanvasTheme):
        super().__init__()
        self.node_id = node_id
        self.theme = theme
        self.content = NodeContent("", "", node_id, "", "", "")
        self.edges: list = []  # EdgeItems touching this node; they follow it when it moves
        self.activity: float | None = None
        self.connect_hint: bool | None = None  # green (True) / red (False) while dragging an edge
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1.0)
        self.input_port = PortItem(self, "in", QPointF(0.0, HEIGHT / 2))
        self.output_port = PortItem(self, "out", QPointF(WIDTH, HEIGHT / 2))

    # ---------------------------------------------------------------- content
    def set_content(self, content: NodeContent) -> None:
        if content == self.content:
            return
        self.content = content
        colour = group_colour(content.group)
        self.input_port.colour = self.output_port.colour = colour
        self.input_port.setVisible(content.type_name != "Input")
        self.setToolTip(content.problem or content.detail)
        self.update()

    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        self.update()

    def set_activity(self, value: float | None) -> None:
        """Show a small bar for `value` in [0, 1] (e.g. mean activation while training); None hides.
        Rounded to 1/ACTIVITY_STEPS, so a change the bar cannot show does not repaint the card."""
        if value is not None:
            value = round(min(max(float(value), 0.0), 1.0) * ACTIVITY_STEPS) / ACTIVITY_STEPS
        if value != self.activity:
            self.activity = value
            self.update()

    def set_connect_hint(self, valid: bool | None) -> None:
        if valid != self.connect_hint:
            self.connect_hint = valid
            self.update()

    def port_position(self, kind: str) -> QPointF:
        """Scene position of the input ("in") or output ("out") port's centre."""
        return self.pos() + QPointF(WIDTH if kind == "out" else 0.0, HEIGHT / 2)

    # --------------------------------------------------------------- geometry
    def boundingRect(self) -> QRectF:
        return QRectF(-4.0, -8.0, WIDTH + 12.0, HEIGHT + 12.0)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)

    # ---------------------------------------------------------------- drawing
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme, content = self.theme, self.content
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(0.0, 0.0, WIDTH, HEIGHT)
        colour = group_colour(content.group)
        # soft shadow
        painter.setPen(Qt.PenStyle.NoPen)
        shadow = QColor(0, 0, 0, 70 if theme.dark else 22)
        painter.setBrush(shadow)
        painter.drawRoundedRect(card.translated(0.0, 2.0), RADIUS, RADIUS)
        # card and colour strip
        painter.setBrush(theme.card)
        painter.drawRoundedRect(card, RADIUS, RADIUS)
        painter.save()
        painter.setClipRect(QRectF(0.0, 0.0, STRIP, HEIGHT))
        painter.setBrush(colour)
        painter.drawRoundedRect(card, RADIUS, RADIUS)
        painter.restore()
        self._paint_text(painter, colour)
        if self.activity is not None:
            bar = QRectF(STRIP + PAD - 2.0, HEIGHT - 8.0, WIDTH - STRIP - 2 * PAD + 2.0, 3.0)
            painter.setBrush(_mix(theme.card, theme.text, 0.1))
            painter.drawRoundedRect(bar, 1.5, 1.5)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(bar.x(), bar.y(), bar.width() * self.activity, 3.0), 1.5, 1.5)
        # outline: connect hint > selection > problem > plain
        if self.connect_hint is not None:
            pen = QPen(theme.valid if self.connect_hint else theme.error, 3.0)
        elif self.isSelected():
            pen = QPen(theme.highlight, 2.5)
        elif content.problem:
            pen = QPen(theme.error, 2.0)
        else:
            pen = QPen(theme.border, 1.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(card.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        if content.problem:
            self._paint_badge(painter)

    def _paint_text(self, painter: QPainter, colour: QColor) -> None:
        theme, content = self.theme, self.content
        left, width = STRIP + PAD - 2.0, WIDTH - STRIP - 2 * PAD + 2.0
        type_colour = colour.lighter(130) if theme.dark else colour
        badge_room = 22.0 if content.problem else 0.0
        shape_colour = theme.text
        if content.shape == "→ ?":  # unknown: its own problem (red) or one upstream (muted)
            shape_colour = theme.error if content.problem else theme.muted
        rows = (
            ("type", type_colour, content.type_name, 8.0, 15.0, badge_room),
            ("title", theme.text, content.title, 23.0, 19.0, badge_room),
            ("body", theme.muted, content.detail, 42.0, 16.0, 0.0),
            ("body", shape_colour, content.shape, 58.0, 16.0, 0.0),
            ("small", theme.muted, content.params, 74.0, 16.0, 0.0),
        )
        for font_name, pen, text, top, height, reserve in rows:
            self._text(painter, font_name, pen, text, QRectF(left, top, width - reserve, height))

    def _text(
        self,
        painter: QPainter,
        font_name: str,
        colour: QColor,
        text: str,
        rect: QRectF,
        align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft,
    ) -> None:
        font = self.theme.fonts[font_name]
        painter.setFont(font)
        painter.setPen(colour)
        shown = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(align | Qt.AlignmentFlag.AlignVCenter), shown)

    def _paint_badge(self, painter: QPainter) -> None:
        centre = QPointF(WIDTH - 15.0, 17.0)
        painter.setPen(QPen(self.theme.card, 1.5))
        painter.setBrush(QBrush(self.theme.error))
        painter.drawEllipse(centre, 8.5, 8.5)
        font = QFont(self.theme.fonts["title"])
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(
            QRectF(centre.x() - 8.5, centre.y() - 8.5, 17.0, 17.0), int(Qt.AlignmentFlag.AlignCenter), "!"
        )
