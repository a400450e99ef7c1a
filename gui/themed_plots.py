"""Plots in the window's colours: widgets whose plots follow the light or dark theme.

The training views keep their own dark plot background; the plots that sit among ordinary
widgets (the inspector's activation plot, the Loss Explorer) take the palette's Base and Text
colours, and take them again whenever the theme changes (a PaletteChange reaches the widget).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette


def colour_plot(plot: pg.PlotWidget, palette: QPalette) -> QColor:
    """Draw `plot`'s background and axes in `palette`'s Base and Text colours (the axis lines a
    shade darker on a light background); returns the text colour, for titles and legends."""
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    plot.setBackground(base)
    line = QColor(text).darker(110) if base.lightness() > 128 else text
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(line))
        axis.setTextPen(pg.mkPen(text))
    return text


class ThemedPlots:
    """Mixed into a QWidget (before it in the bases) that defines `apply_palette()`, which
    colours its plots: it runs again on every palette change, so the plots follow the theme."""

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()  # type: ignore[attr-defined]  (the widget's own)
        super().changeEvent(event)  # type: ignore[misc]  (the QWidget after this class)
