"""Live plots repaint at 20 Hz; most of what they show (axes, title, legend) changes rarely.

Qt re-rasterises text on every paint, which costs GUI-thread time, and that thread holds the GIL
while it paints (PySide6 does not release it in C++ calls), stalling the training thread. Cached
as device pixmaps, those parts are blitted until they change (Qt drops the cache on update()).
pyqtgraph's automatic SI prefix re-sets each axis label, and so re-lays out the plot, whenever
the axis range moves (every redraw of a growing curve); our axes show plain numbers, without it.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache


def cache_decorations(plot: pg.PlotWidget | pg.PlotItem) -> None:
    """Pixmap-cache the axes, title and legend of a plot (call after adding the legend), and
    turn off the axes' SI-prefix relabelling."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    for name in ("left", "bottom", "top", "right"):
        axis = item.getAxis(name)
        axis.setCacheMode(_CACHE)
        axis.enableAutoSIPrefix(False)
    item.titleLabel.setCacheMode(_CACHE)
    if item.legend is not None:
        item.legend.setCacheMode(_CACHE)
