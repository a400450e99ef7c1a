"""The decision boundary (or regression surface) over the 2-D input plane with the data points,
and a small heatmap per hidden unit showing what it responds to, as TensorFlow Playground does."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.training.monitor import Surface
from gui.training.empty_hint import EmptyHint
from gui.training.plot_cache import cache_decorations

CLASS_COLOURS = [
    "#f5923e",
    "#2563eb",
    "#22c55e",
    "#a855f7",
    "#ef4444",
    "#14b8a6",
    "#eab308",
    "#ec4899",
    "#64748b",
    "#84cc16",
]
_CLASS_BRUSHES = [pg.mkBrush(colour) for colour in CLASS_COLOURS]
UNIT_TILES = 16
UNIT_COLUMNS = 4
# One light tint per class: each class colour blended halfway towards white.
CLASS_LUT = (
    (np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLOURS]) + 255) // 2
).astype(np.uint8)
# Playground's colours: class 0 orange, class 1 blue, undecided white; the same map for units.
SURFACE_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(245, 146, 62), (245, 245, 245), (37, 99, 235)])
SURFACE_LUT = SURFACE_MAP.getLookupTable(nPts=256)  # computed once: a frame draws up to 17 images


def class_brushes(classes: np.ndarray) -> list:
    """A brush per point by class, the same brush object for a class: pyqtgraph renders a scatter
    symbol per distinct brush, so a new brush per point cost ~80 ms for 600 points (GUI thread)."""
    return [_CLASS_BRUSHES[int(c) % len(_CLASS_BRUSHES)] for c in classes]


class SurfaceView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.surface: Surface | None = None
        self.dirty = False
        self.plot = pg.PlotWidget(title="Decision boundary")
        self.plot.setAspectLocked(True)
        self.plot.setToolTip("The network's output over the input plane (colour) and the training points")
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#1e293b", width=0.6))
        self.plot.addItem(self.points)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=SURFACE_MAP, width=10)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        cache_decorations(self.plot)
        self.note = QLabel(
            "The decision boundary and the hidden units' maps need a network with one 1-D input of "
            "at least two features. An image network shows its feature maps on the Features tab "
            "and its mistakes on the Results tab."
        )
        self.note.setWordWrap(True)
        self.units = pg.GraphicsLayoutWidget()
        self.units.setToolTip(
            "What each hidden unit responds to over the same plane (first units of each layer)"
        )
        # All unit maps in one image (tiles with transparent gaps): one item to update and paint
        # instead of one view per unit.
        box = self.units.addViewBox()
        box.setAspectLocked(True)
        box.setMouseEnabled(False, False)
        box.invertY(True)
        self.unit_mosaic = pg.ImageItem()
        box.addItem(self.unit_mosaic)
        self.unit_title = QLabel("Hidden units")
        self.unit_side = QWidget()  # hidden with the plot where there is no plane to draw
        right = QVBoxLayout(self.unit_side)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.unit_title)
        right.addWidget(self.units, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        left = QVBoxLayout()
        left.addWidget(self.plot, 1)
        left.addWidget(self.note)
        layout.addLayout(left, 3)
        layout.addWidget(self.unit_side, 2)
        self.note.hide()
        self.hint = EmptyHint("Train to see the decision boundary", self)

    def clear(self) -> None:
        """The empty state: no surface and no unit maps (the data points stay)."""
        self.surface, self.dirty = None, False
        self.image.clear()
        self.unit_mosaic.clear()
        self.unit_title.setText("Hidden units")
        self.bar.hide()
        self.hint.show_hint(self.plot.isVisibleTo(self))

    def set_points(
        self, x: np.ndarray | None, y: np.ndarray | None, features: tuple[int, int] = (0, 1)
    ) -> None:
        """The data drawn over the surface (scaled like the model's inputs)."""
        if x is None or x.ndim != 2 or x.shape[1] < 2:
            self.points.setData([])
            return
        a, b = features
        if y is not None and y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
            brushes = class_brushes(y)
        else:
            brushes = pg.mkBrush("#0f172a")
        self.points.setData(x[:, a], x[:, b], brush=brushes)

    def show_unavailable(self, unavailable: bool) -> None:
        self.note.setVisible(unavailable)
        self.plot.setVisible(not unavailable)
        self.unit_side.setVisible(not unavailable)
        self.hint.show_hint(self.surface is None and not unavailable)

    def update_surface(self, surface: Surface | None) -> None:
        if surface is not None:
            self.surface = surface
            self.dirty = True

    def table(self) -> tuple[list[str], list[list[float]]]:
        return surface_table(self.surface)

    def redraw(self) -> None:
        if not self.dirty or self.surface is None:
            return
        self.dirty = False
        self.hint.show_hint(False)
        s = self.surface
        values = s.values
        if s.kind == "class":  # one light tint per class, matching the points' colours
            levels = (0.0, float(len(CLASS_COLOURS)))
            self.image.setImage(values.T + 0.5, autoLevels=False, levels=levels, lut=CLASS_LUT)
            # again: the first setImage applies levels the colour bar set before there was an image,
            # (0, 1), which painted class 0 teal and every other class lime
            self.image.setLevels(levels)
            self.bar.hide()
        else:
            if s.kind == "probability":
                levels = (0.0, 1.0)
            else:
                finite = values[np.isfinite(values)]
                levels = (float(finite.min()), float(finite.max()) + 1e-9) if finite.size else (0.0, 1.0)
            self.image.setImage(values.T, autoLevels=False, levels=levels, lut=SURFACE_LUT)
            self.image.setLevels(levels)
            self.bar.setLevels(levels)
            self.bar.show()
        dx = (s.xs[-1] - s.xs[0]) / max(len(s.xs) - 1, 1)
        dy = (s.ys[-1] - s.ys[0]) / max(len(s.ys) - 1, 1)
        self.image.setRect(
            pg.QtCore.QRectF(s.xs[0] - dx / 2, s.ys[0] - dy / 2, dx * len(s.xs), dy * len(s.ys))
        )
        self._draw_units(s)

    def _draw_units(self, s: Surface) -> None:
        maps = [(nid, m) for nid, stack in s.unit_maps.items() for m in stack][:UNIT_TILES]
        if maps:
            self.unit_mosaic.setImage(
                unit_mosaic([m for _, m in maps]).T, levels=(-1.0, 1.0), lut=SURFACE_LUT
            )
        else:
            self.unit_mosaic.clear()
        names = list(dict.fromkeys(nid for nid, _ in maps))
        self.unit_title.setText("Hidden units: " + ", ".join(names) if names else "Hidden units")


def unit_mosaic(maps: list[np.ndarray], columns: int = UNIT_COLUMNS, gap: int = 2) -> np.ndarray:
    """The unit maps (each (rows, cols), scaled to [-1, 1] by its own largest magnitude) tiled
    row by row, `columns` to a row, with NaN (drawn transparent) between them."""
    rows, cols = maps[0].shape
    grid_rows = -(-len(maps) // columns)
    out = np.full((grid_rows * (rows + gap) - gap, min(len(maps), columns) * (cols + gap) - gap), np.nan)
    for i, unit_map in enumerate(maps):
        top, left = (i // columns) * (rows + gap), (i % columns) * (cols + gap)
        bound = float(np.nanmax(np.abs(unit_map))) if np.isfinite(unit_map).any() else 0.0
        out[top : top + rows, left : left + cols] = unit_map[::-1] / (bound or 1.0)  # y up, as in the plot
    return out


def surface_table(surface: Surface | None) -> tuple[list[str], list[list[float]]]:
    """The surface as CSV rows: x, y, value."""
    if surface is None:
        return ["x", "y", "value"], []
    rows = [
        [float(x), float(y), float(surface.values[j, i])]
        for j, y in enumerate(surface.ys)
        for i, x in enumerate(surface.xs)
    ]
    return ["x", "y", surface.kind], rows
