"""Classification results per epoch: the validation confusion matrix, and for image inputs a grid
of misclassified samples and the first layer's weights drawn as images."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.training.plot_cache import cache_decorations

GRID_COLUMNS = 6
SAMPLE_TILES = GRID_COLUMNS * 3
WEIGHT_TILES = GRID_COLUMNS * 2
MAX_LABELLED_CLASSES = 12
VIRIDIS = pg.colormap.get("viridis").getLookupTable(nPts=256)
DIVERGING = pg.colormap.get("CET-D1A").getLookupTable(nPts=256)


class ConfusionView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix: np.ndarray | None = None
        self.misclassified: np.ndarray | None = None
        self.val_x: np.ndarray | None = None
        self.val_y: np.ndarray | None = None
        self.first_kernel: np.ndarray | None = None
        self.dirty = False
        self.plot = pg.PlotWidget(title="Confusion matrix (validation)")
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class")
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.disableAutoRange()
        cache_decorations(self.plot)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.sample_tiles: list[pg.ImageItem] = []
        self.weight_tiles: list[pg.ImageItem] = []
        self.samples = pg.GraphicsLayoutWidget()
        self.samples.setToolTip("Validation samples the network gets wrong (true → predicted)")
        self.weights = pg.GraphicsLayoutWidget()
        self.weights.setToolTip("The first layer's weights per unit, drawn in the input's image shape")
        self.sample_label = QLabel("Misclassified samples")
        self.weight_label = QLabel("First-layer weights")
        images = QVBoxLayout()
        images.addWidget(self.sample_label)
        images.addWidget(self.samples, 1)
        images.addWidget(self.weight_label)
        images.addWidget(self.weights, 1)
        self.image_side = QWidget()
        self.image_side.setLayout(images)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.image_side, 2)
        self.image_side.hide()

    def set_validation(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        """Validation data as shown to the user (raw values); images if 2-D per sample or 784 wide."""
        self.val_x, self.val_y = x, y
        self.image_side.setVisible(x is not None and image_shape(x.shape[1:]) is not None)

    def update_epoch(self, matrix: np.ndarray | None, misclassified: np.ndarray | None,
                     first_kernel: np.ndarray | None) -> None:
        if matrix is None:
            return
        self.matrix, self.misclassified, self.first_kernel = matrix, misclassified, first_kernel
        self.dirty = True

    def redraw(self) -> None:
        if not self.dirty or self.matrix is None:
            return
        self.dirty = False
        m = self.matrix
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        self.image.setImage(share.T, levels=(0, 1), lut=VIRIDIS)
        k = len(m)
        if len(self.texts) != (k * k if k <= MAX_LABELLED_CLASSES else 0):
            self._build_labels(k)
        for n, text in enumerate(self.texts):
            i, j = divmod(n, k)
            text.setText(str(int(m[i, j])), color="#0f172a" if share[i, j] > 0.6 else "#f8fafc")
        self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        accuracy = np.trace(m) / max(m.sum(), 1)
        self.plot.setTitle(f"Confusion matrix (validation, accuracy {accuracy:.1%})")
        if self.image_side.isVisible():
            self._draw_samples()
            self._draw_weights()

    def _build_labels(self, k: int) -> None:
        """Axis ticks per class and one reusable count label per cell (created once per k)."""
        for item in self.texts:
            self.plot.removeItem(item)
        self.texts = []
        ticks = [[(i + 0.5, str(i)) for i in range(k)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        if k > MAX_LABELLED_CLASSES:
            return
        font = QFont()
        font.setPointSizeF(7.5 if k > 6 else 9)
        for n in range(k * k):
            i, j = divmod(n, k)
            text = pg.TextItem("", anchor=(0.5, 0.5))
            text.setFont(font)
            text.setPos(j + 0.5, i + 0.5)
            self.plot.addItem(text)
            self.texts.append(text)

    def _draw_samples(self) -> None:
        if self.misclassified is None or self.val_x is None:
            return
        shape = image_shape(self.val_x.shape[1:])
        shown = self.misclassified[:SAMPLE_TILES]
        for tile, index in zip(_tiles(self.samples, self.sample_tiles, len(shown)), shown, strict=False):
            tile.setImage(self.val_x[index].reshape(shape).T, autoLevels=True)
        for tile in self.sample_tiles[len(shown):]:
            tile.clear()
        self.sample_label.setText(f"Misclassified samples (first {len(shown)})")

    def _draw_weights(self) -> None:
        shape = image_shape(self.val_x.shape[1:]) if self.val_x is not None else None
        kernel = self.first_kernel
        if kernel is None or shape is None or kernel.shape[0] != int(np.prod(shape)):
            return
        units = min(kernel.shape[1], WEIGHT_TILES)
        for unit, tile in enumerate(_tiles(self.weights, self.weight_tiles, units)):
            w = kernel[:, unit].reshape(shape)
            bound = float(np.abs(w).max()) or 1.0
            tile.setImage(w.T, levels=(-bound, bound), lut=DIVERGING)

    def table(self) -> tuple[list[str], list[list[float]]]:
        if self.matrix is None:
            return ["true \\ predicted"], []
        k = len(self.matrix)
        return ["true \\ predicted", *map(str, range(k))], [[i, *self.matrix[i].tolist()] for i in range(k)]


def image_shape(feature_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(height, width) when samples of this shape are greyscale images: (H, W), (1, H, W), or a
    flat square of at least 8x8 (e.g. 784 = 28x28); else None."""
    if len(feature_shape) == 3 and feature_shape[0] == 1:
        return feature_shape[1], feature_shape[2]
    if len(feature_shape) == 2:
        return feature_shape  # type: ignore[return-value]
    if len(feature_shape) == 1:
        side = int(round(feature_shape[0] ** 0.5))
        if side * side == feature_shape[0] and side >= 8:
            return side, side
    return None


def _tiles(layout: pg.GraphicsLayoutWidget, tiles: list[pg.ImageItem], count: int) -> list[pg.ImageItem]:
    """The first `count` image tiles of a grid, adding view boxes only when there are too few."""
    while len(tiles) < count:
        n = len(tiles)
        box = layout.addViewBox(row=n // GRID_COLUMNS, col=n % GRID_COLUMNS)
        box.setMouseEnabled(False, False)
        box.invertY(True)
        box.setAspectLocked(True)
        image = pg.ImageItem()
        box.addItem(image)
        tiles.append(image)
    return tiles[:count]
