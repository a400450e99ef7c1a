"""Live plots repaint at 20 Hz; most of what they show (axes, title, legend) changes rarely.

Qt re-rasterises text on every paint, which costs GUI-thread time, and that thread holds the GIL
while it paints (PySide6 does not release it in C++ calls), stalling the training thread. Cached
as device pixmaps, those parts are blitted until they change (Qt drops the cache on update()).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache


def cache_decorations(plot: pg.PlotWidget | pg.PlotItem) -> None:
    """Pixmap-cache the axes, title and legend of a plot (call after adding the legend)."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    for name in ("left", "bottom", "top", "right"):
        item.getAxis(name).setCacheMode(_CACHE)
    item.titleLabel.setCacheMode(_CACHE)
    if item.legend is not None:
        item.legend.setCacheMode(_CACHE)
