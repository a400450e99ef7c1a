"""Light and dark themes (Fusion style + a QPalette each), layer-group colours and glyph icons.

`apply_theme(app, mode)` with mode "system", "light" or "dark"; "system" follows
`QStyleHints.colorScheme()` (Qt 6.5+) and keeps following it when the desktop switches.
`group_color` is the canvas's colour per layer `group` (gui/canvas/node_item.py), so the palette
icons match the cards.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QApplication

from gui.canvas.node_item import group_colour

THEME_MODES = ("system", "light", "dark")

ERROR_COLOR = "#d64541"  # invalid input, shape errors
_state = {"mode": "system", "connected": False}


def group_color(group: str) -> QColor:
    """The colour of a layer group: the canvas's own map, so palette and cards match."""
    return group_colour(group)


def is_dark(mode: str) -> bool:
    """Whether `mode` means dark right now ("system" asks the desktop)."""
    if mode == "dark":
        return True
    if mode == "light":
        return False
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, mode: str = "system") -> None:
    """Use Fusion with the light or dark palette for `mode` (one of THEME_MODES)."""
    if mode not in THEME_MODES:
        mode = "system"
    _state["mode"] = mode
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if is_dark(mode) else _light_palette())
    if not _state["connected"]:
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(lambda _scheme: _follow_system(app))
            _state["connected"] = True


def current_mode() -> str:
    return str(_state["mode"])


def _follow_system(app: QApplication) -> None:
    if _state["mode"] == "system":
        apply_theme(app, "system")


def _palette(colors: dict[QPalette.ColorRole, str], disabled_text: str) -> QPalette:
    palette = QPalette()
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled_text))
    return palette


def _light_palette() -> QPalette:
    R = QPalette.ColorRole
    return _palette(
        {
            R.Window: "#f3f4f6",
            R.WindowText: "#1f2328",
            R.Base: "#ffffff",
            R.AlternateBase: "#f0f2f5",
            R.ToolTipBase: "#ffffe6",
            R.ToolTipText: "#1f2328",
            R.PlaceholderText: "#8a9099",
            R.Text: "#1f2328",
            R.Button: "#e9ebef",
            R.ButtonText: "#1f2328",
            R.BrightText: "#ffffff",
            R.Highlight: "#3b7dd8",
            R.HighlightedText: "#ffffff",
            R.Link: "#2f6fbf",
            R.Mid: "#c3c7ce",
            R.Midlight: "#e3e5e9",
            R.Dark: "#a0a5ad",
            R.Shadow: "#6b7079",
            R.Light: "#ffffff",
        },
        "#9aa0a8",
    )


def _dark_palette() -> QPalette:
    R = QPalette.ColorRole
    return _palette(
        {
            R.Window: "#26292e",
            R.WindowText: "#e6e8eb",
            R.Base: "#1c1e22",
            R.AlternateBase: "#2b2e34",
            R.ToolTipBase: "#33373d",
            R.ToolTipText: "#e6e8eb",
            R.PlaceholderText: "#80868f",
            R.Text: "#e6e8eb",
            R.Button: "#33363c",
            R.ButtonText: "#e6e8eb",
            R.BrightText: "#ffffff",
            R.Highlight: "#4a8fe7",
            R.HighlightedText: "#ffffff",
            R.Link: "#7fb2f0",
            R.Mid: "#44484f",
            R.Midlight: "#3a3d43",
            R.Dark: "#17191c",
            R.Shadow: "#0d0e10",
            R.Light: "#4a4e55",
        },
        "#6c7179",
    )


def monospace_font(point_size: int | None = None) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size is not None:
        font.setPointSize(point_size)
    return font


def hint_color(widget_palette: QPalette) -> str:
    """A muted text colour readable on the current window background."""
    return widget_palette.color(QPalette.ColorRole.PlaceholderText).name()


# ---------------------------------------------------------------- group glyphs
def icon_canvas(size: int) -> tuple[QPixmap, QPainter]:
    """A transparent, antialiased pixmap at twice the resolution (sharp on high-DPI screens) and
    a painter on it; the caller draws in `size` units and ends the painter."""
    ratio = 2.0
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pixmap, painter


def group_icon(group: str, size: int = 32) -> QIcon:
    """A rounded square in the group's colour with a small white glyph for the group."""
    pixmap, painter = icon_canvas(size)
    s = float(size)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(group_color(group))
    painter.drawRoundedRect(QRectF(1, 1, s - 2, s - 2), s * 0.22, s * 0.22)
    pen = QPen(QColor("white"), max(1.5, s / 14))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    _GLYPHS.get(group, _glyph_default)(painter, s)
    painter.end()
    return QIcon(pixmap)


def _curve(painter: QPainter, s: float, fn) -> None:
    path = QPainterPath()
    for i in range(41):
        t = i / 40
        point = QPointF(s * (0.2 + 0.6 * t), s * (0.78 - 0.56 * fn(t)))
        path.moveTo(point) if i == 0 else path.lineTo(point)
    painter.drawPath(path)


def _glyph_core(painter: QPainter, s: float) -> None:
    left = [QPointF(s * 0.28, s * y) for y in (0.3, 0.5, 0.7)]
    right = [QPointF(s * 0.72, s * y) for y in (0.38, 0.62)]
    thin = QPen(painter.pen())
    thin.setWidthF(s / 28)
    painter.setPen(thin)
    for a in left:
        for b in right:
            painter.drawLine(a, b)
    painter.setBrush(QColor("white"))
    for point in left + right:
        painter.drawEllipse(point, s * 0.07, s * 0.07)


def _glyph_activation(painter: QPainter, s: float) -> None:
    _curve(painter, s, lambda t: 1 / (1 + math.exp(-12 * (t - 0.5))))


def _glyph_normalization(painter: QPainter, s: float) -> None:
    _curve(painter, s, lambda t: math.exp(-((t - 0.5) ** 2) / 0.03))


def _glyph_regularization(painter: QPainter, s: float) -> None:
    painter.setBrush(QColor("white"))
    for i, x in enumerate((0.3, 0.5, 0.7)):
        for j, y in enumerate((0.3, 0.5, 0.7)):
            radius = s * (0.035 if (i + j) % 2 else 0.075)
            painter.drawEllipse(QPointF(s * x, s * y), radius, radius)


def _glyph_reshape(painter: QPainter, s: float) -> None:
    painter.drawRect(QRectF(s * 0.22, s * 0.3, s * 0.2, s * 0.4))
    painter.drawLine(QPointF(s * 0.48, s * 0.5), QPointF(s * 0.62, s * 0.5))
    painter.drawLine(QPointF(s * 0.56, s * 0.44), QPointF(s * 0.62, s * 0.5))
    painter.drawLine(QPointF(s * 0.56, s * 0.56), QPointF(s * 0.62, s * 0.5))
    painter.drawLine(QPointF(s * 0.7, s * 0.24), QPointF(s * 0.7, s * 0.76))


def _glyph_merge(painter: QPainter, s: float) -> None:
    join = QPointF(s * 0.55, s * 0.5)
    painter.drawLine(QPointF(s * 0.24, s * 0.28), join)
    painter.drawLine(QPointF(s * 0.24, s * 0.72), join)
    painter.drawLine(join, QPointF(s * 0.78, s * 0.5))


def _glyph_convolution(painter: QPainter, s: float) -> None:
    """An image with a 3x3 window sliding over it."""
    painter.drawRect(QRectF(s * 0.2, s * 0.2, s * 0.6, s * 0.6))
    thin = QPen(painter.pen())
    thin.setWidthF(s / 28)
    painter.setPen(thin)
    painter.setBrush(QColor(255, 255, 255, 110))
    painter.drawRect(QRectF(s * 0.3, s * 0.3, s * 0.3, s * 0.3))
    for k in (1, 2):
        painter.drawLine(QPointF(s * (0.3 + 0.1 * k), s * 0.3), QPointF(s * (0.3 + 0.1 * k), s * 0.6))
        painter.drawLine(QPointF(s * 0.3, s * (0.3 + 0.1 * k)), QPointF(s * 0.6, s * (0.3 + 0.1 * k)))


def _glyph_pooling(painter: QPainter, s: float) -> None:
    """Four cells become one."""
    thin = QPen(painter.pen())
    thin.setWidthF(s / 24)
    painter.setPen(thin)
    for i in range(2):
        for j in range(2):
            painter.drawRect(QRectF(s * (0.18 + 0.14 * i), s * (0.36 + 0.14 * j), s * 0.14, s * 0.14))
    painter.drawLine(QPointF(s * 0.52, s * 0.5), QPointF(s * 0.64, s * 0.5))
    painter.setBrush(QColor("white"))
    painter.drawRect(QRectF(s * 0.68, s * 0.43, s * 0.14, s * 0.14))


def _glyph_default(painter: QPainter, s: float) -> None:
    painter.drawRoundedRect(QRectF(s * 0.3, s * 0.3, s * 0.4, s * 0.4), s * 0.06, s * 0.06)


_GLYPHS = {
    "Core": _glyph_core,
    "Activation": _glyph_activation,
    "Normalization": _glyph_normalization,
    "Regularization": _glyph_regularization,
    "Reshape": _glyph_reshape,
    "Merge": _glyph_merge,
    "Convolution": _glyph_convolution,
    "Pooling": _glyph_pooling,
}
