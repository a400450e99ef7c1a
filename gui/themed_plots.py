"""Plots in the window's colours, for the plots that sit among ordinary widgets (the inspector's
activation plot, the Loss Explorer): the training views keep their own dark plot background.
Each widget calls `colour_plot` again on a PaletteChange, so its plots follow the theme.
"""

from __future__ import annotations

import pyqtgraph as pg
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
