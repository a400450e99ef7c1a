"""Classification results per epoch: the validation confusion matrix, and for image inputs a grid
of misclassified samples (captioned true → predicted) and the first layer's weights drawn as images.
Labels and grids are drawn by one item each (gui/training/image_grid.py): with an item per label
and per tile the first epoch's redraw took ~330 ms of GIL-holding GUI time."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSizeF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.training.empty_hint import EmptyHint
from gui.training.image_grid import (
    LIGHT_TEXT,
    TextGrid,
    diverging,
    mosaic_view,
    picture,
    show_mosaic,
    tile_at,
)
from gui.training.plot_cache import cache_decorations
from gui.training.plot_style import keep_readable, scroll_when_narrow

GRID_COLUMNS = 6
SAMPLE_TILES = GRID_COLUMNS * 3
WEIGHT_TILES = GRID_COLUMNS * 2
MAX_LABELLED_CLASSES = 12
VIRIDIS = pg.colormap.get("viridis").getLookupTable(nPts=256)
DARK_TEXT = QColor("#0f172a")


class ConfusionView(QWidget):
    sample_clicked = Signal(int)  # the validation index of a misclassified sample clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix: np.ndarray | None = None
        self.misclassified: np.ndarray | None = None
        self.misclassified_as: np.ndarray | None = None
        self.val_x: np.ndarray | None = None
        self.val_classes: np.ndarray | None = None
        self.first_kernel: np.ndarray | None = None
        self.dirty = False
        self.classes_shown = 0
        self.plot = pg.PlotWidget(title="Confusion matrix (validation)")
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class")
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.disableAutoRange()
        cache_decorations(self.plot)
        keep_readable(self.plot)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.counts = TextGrid(9)
        self.plot.addItem(self.counts)
        self.samples = pg.GraphicsLayoutWidget()
        self.samples.setToolTip(
            "Validation samples the network gets wrong, captioned true → predicted "
            "(a convolutional network: click one to see its feature maps)"
        )
        self.sample_image, self.captions = mosaic_view(self.samples.addViewBox())
        self.samples.scene().sigMouseClicked.connect(self._sample_click)
        self.tiles_shown: tuple[tuple[int, int], int] | None = None  # (tile shape, count) drawn
        self.weights = pg.GraphicsLayoutWidget()
        self.weights.setToolTip(
            "The first layer's weights per unit, drawn in the input's image shape (red +, blue -)"
        )
        self.weight_image, _ = mosaic_view(self.weights.addViewBox())
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
        scroll_when_narrow(self)
        self.hint = EmptyHint("Train a classifier to see its confusion matrix", self)

    def clear(self) -> None:
        """The empty state: no matrix, samples or weights of any network (the validation data,
        which belongs to the data section, stays)."""
        self.matrix = self.misclassified = self.misclassified_as = self.first_kernel = None
        self.tiles_shown = None
        self.dirty = False
        self.image.clear()
        self.counts.set_labels([], QRectF(0, 0, 1, 1), (1, 1))
        self.plot.setTitle("Confusion matrix (validation)")
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).setTicks([[]])  # no classes: no numbers on the axes
        self.classes_shown = 0
        for image in (self.sample_image, self.weight_image):
            image.clear()
        self.captions.set_labels([], QRectF(0, 0, 1, 1), (1, 1))
        self.sample_label.setText("Misclassified samples")
        self.hint.show_hint(True)

    def set_validation(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        """Validation data as shown to the user (raw values); images if 2-D per sample or 784 wide."""
        self.val_x = x
        self.val_classes = None if y is None else class_indices(np.asarray(y))
        self.image_side.setVisible(x is not None and image_shape(x.shape[1:]) is not None)

    def update_epoch(
        self,
        matrix: np.ndarray | None,
        misclassified: np.ndarray | None,
        first_kernel: np.ndarray | None,
        misclassified_as: np.ndarray | None = None,
    ) -> None:
        """The epoch's counts (row = true class), the indices of misclassified validation samples
        with the classes predicted for them, and a copy of the first layer's kernel."""
        if matrix is None:
            return
        self.matrix, self.misclassified, self.first_kernel = matrix, misclassified, first_kernel
        self.misclassified_as = misclassified_as
        self.dirty = True

    def redraw(self) -> None:
        if not self.dirty or self.matrix is None:
            return
        self.dirty = False
        self.hint.show_hint(False)
        m = self.matrix
        k = len(m)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        self.image.setImage(share.T, levels=(0, 1), lut=VIRIDIS)
        if k != self.classes_shown:
            ticks = [[(i + 0.5, str(i)) for i in range(k)]]
            self.plot.getAxis("bottom").setTicks(ticks)
            self.plot.getAxis("left").setTicks(ticks)
            self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
            self.counts.font.setPointSizeF(8 if k > 6 else 9)
            self.classes_shown = k
        labels = (
            []
            if k > MAX_LABELLED_CLASSES
            else [
                (j + 0.5, i + 0.5, str(int(m[i, j])), DARK_TEXT if share[i, j] > 0.6 else LIGHT_TEXT)
                for i in range(k)
                for j in range(k)
            ]
        )
        self.counts.set_labels(labels, QRectF(0, 0, k, k), (1, 1))
        accuracy = np.trace(m) / max(m.sum(), 1)
        self.plot.setTitle(f"Confusion matrix (validation, accuracy {accuracy:.1%})")
        # room for every count in its cell (a label that does not fit is left out)
        sizes = [self.counts.text_size(text) for _x, _y, text, _c in labels] or [QSizeF()]
        keep_readable(
            self.plot, (k * (max(s.width() for s in sizes) + 6), k * (max(s.height() for s in sizes) + 2))
        )
        # a convolution's kernel is not an image of the input: its filters have their own tab
        filters = self.first_kernel is not None and self.first_kernel.ndim != 2
        self.weights.setVisible(not filters)
        self.weight_label.setText(
            "First-layer filters: see the Features tab" if filters else "First-layer weights"
        )
        if self.image_side.isVisibleTo(self):  # (drawn on a hidden tab too: a run ends there)
            self._draw_samples()
            self._draw_weights()

    def _draw_samples(self) -> None:
        shape = image_shape(self.val_x.shape[1:]) if self.val_x is not None else None
        if self.misclassified is None or shape is None:
            return
        shown = self.misclassified[:SAMPLE_TILES]
        self.tiles_shown = (shape, len(shown))
        self.sample_label.setText(
            f"Misclassified samples (first {len(shown)})" if len(shown) else "Misclassified samples: none"
        )
        texts = None
        if self.val_classes is not None and self.misclassified_as is not None:
            texts = [f"{self.val_classes[i]}→{p}" for i, p in zip(shown, self.misclassified_as, strict=False)]
        show_mosaic(
            self.sample_image,
            [picture(self.val_x[i], shape) for i in shown],
            shape,
            GRID_COLUMNS,
            self.captions,
            texts,
        )

    def _draw_weights(self) -> None:
        shape = image_shape(self.val_x.shape[1:]) if self.val_x is not None else None
        kernel = self.first_kernel
        if kernel is None or shape is None or kernel.ndim != 2 or kernel.shape[0] != int(np.prod(shape)):
            return
        units = min(kernel.shape[1], WEIGHT_TILES)
        show_mosaic(
            self.weight_image,
            [diverging(kernel[:, unit].reshape(shape)) for unit in range(units)],
            shape,
            GRID_COLUMNS,
        )

    def _sample_click(self, event) -> None:
        """Emit `sample_clicked` with the validation index of the sample tile under `event`."""
        if self.tiles_shown is None or self.misclassified is None or self.sample_image.image is None:
            return
        at = self.sample_image.mapFromScene(event.scenePos())
        n = tile_at(at.x(), at.y(), self.tiles_shown[0], GRID_COLUMNS, self.tiles_shown[1])
        if n is not None:
            self.sample_clicked.emit(int(self.misclassified[n]))

    def table(self) -> tuple[list[str], list[list[float]]]:
        if self.matrix is None:
            return ["true \\ predicted"], []
        k = len(self.matrix)
        return ["true \\ predicted", *map(str, range(k))], [[i, *self.matrix[i].tolist()] for i in range(k)]


def image_shape(feature_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(height, width) when samples of this shape are pictures: greyscale (H, W) or (1, H, W),
    colour (3, H, W), or a flat square of at least 8x8 (e.g. 784 = 28x28); else None."""
    if len(feature_shape) == 3 and feature_shape[0] in (1, 3):
        return feature_shape[1], feature_shape[2]
    if len(feature_shape) == 2:
        return feature_shape  # type: ignore[return-value]
    if len(feature_shape) == 1:
        side = int(round(feature_shape[0] ** 0.5))
        if side * side == feature_shape[0] and side >= 8:
            return side, side
    return None


def class_indices(y: np.ndarray) -> np.ndarray:
    """Class index per sample from class indices or one-hot rows."""
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(np.int64)
