"""Classification results per epoch: the validation confusion matrix, and for image inputs a grid
of misclassified samples and the first layer's weights drawn as images."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

GRID_COLUMNS = 6


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
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.texts: list[pg.TextItem] = []
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
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.image_side, 1)
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
        rows = m.sum(axis=1, keepdims=True)
        share = m / np.maximum(rows, 1)
        self.image.setImage(share.T, levels=(0, 1), lut=pg.colormap.get("viridis").getLookupTable(nPts=256))
        for item in self.texts:
            self.plot.removeItem(item)
        self.texts = []
        k = len(m)
        ticks = [[(i + 0.5, str(i)) for i in range(k)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        if k <= 12:
            font = QFont()
            font.setPointSizeF(7.5 if k > 6 else 9)
            for i in range(k):
                for j in range(k):
                    text = pg.TextItem(str(int(m[i, j])), anchor=(0.5, 0.5),
                                       color="#0f172a" if share[i, j] > 0.6 else "#f8fafc")
                    text.setFont(font)
                    text.setPos(j + 0.5, i + 0.5)
                    self.plot.addItem(text)
                    self.texts.append(text)
        accuracy = np.trace(m) / max(m.sum(), 1)
        self.plot.setTitle(f"Confusion matrix (validation, accuracy {accuracy:.1%})")
        if self.image_side.isVisible():
            self._draw_samples()
            self._draw_weights()

    def _draw_samples(self) -> None:
        self.samples.clear()
        if self.misclassified is None or self.val_x is None:
            return
        shape = image_shape(self.val_x.shape[1:])
        for n, index in enumerate(self.misclassified[: GRID_COLUMNS * 3]):
            box = self.samples.addViewBox(row=n // GRID_COLUMNS, col=n % GRID_COLUMNS)
            box.setMouseEnabled(False, False)
            box.invertY(True)
            box.setAspectLocked(True)
            box.addItem(pg.ImageItem(self.val_x[index].reshape(shape).T))
        self.sample_label.setText(f"Misclassified samples ({len(self.misclassified)} shown at most)")

    def _draw_weights(self) -> None:
        self.weights.clear()
        if self.first_kernel is None or self.val_x is None:
            return
        shape = image_shape(self.val_x.shape[1:])
        kernel = self.first_kernel
        if shape is None or kernel.shape[0] != int(np.prod(shape)):
            return
        for unit in range(min(kernel.shape[1], GRID_COLUMNS * 2)):
            box = self.weights.addViewBox(row=unit // GRID_COLUMNS, col=unit % GRID_COLUMNS)
            box.setMouseEnabled(False, False)
            box.invertY(True)
            box.setAspectLocked(True)
            w = kernel[:, unit].reshape(shape)
            bound = float(np.abs(w).max()) or 1.0
            box.addItem(pg.ImageItem(w.T, levels=(-bound, bound),
                                     lut=pg.colormap.get("CET-D1A").getLookupTable(nPts=256)))

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
