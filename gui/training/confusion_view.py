"""Classification results per epoch: the validation confusion matrix, and for image inputs a grid
of misclassified samples (captioned true → predicted) and the first layer's weights drawn as images.

Each grid is one image (a mosaic) and every label set is one `TextGrid` item: the first version
made 100 pg.TextItems and 30 view boxes at the first epoch's redraw, ~330 ms of GUI-thread Python
that holds the GIL and so stalls the training thread (bench/gui_training.py)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.training.plot_cache import cache_decorations

GRID_COLUMNS = 6
SAMPLE_TILES = GRID_COLUMNS * 3
WEIGHT_TILES = GRID_COLUMNS * 2
TILE_GAP = 2  # pixels of the image between tiles (transparent)
MAX_LABELLED_CLASSES = 12
VIRIDIS = pg.colormap.get("viridis").getLookupTable(nPts=256)
DIVERGING = pg.colormap.get("CET-D1A").getLookupTable(nPts=256)
DARK_TEXT, LIGHT_TEXT = QColor("#0f172a"), QColor("#f8fafc")


class TextGrid(pg.GraphicsObject):
    """Short texts at points of a plot, all painted by this one item at a fixed screen size."""

    def __init__(self, points: float, height_share: float = 1.0, centered: bool = True,
                 backdrop: QColor | None = None):
        """Each label belongs to a cell (see set_labels) and is drawn only where it fits the
        cell's width and `height_share` of its height on screen: a label that would hide what it
        labels is left out (tooltips say what the view shows)."""
        super().__init__()
        self.font = QFont()
        self.font.setPointSizeF(points)
        self.cell = QRectF()
        self.height_share = height_share
        self.centered = centered
        self.backdrop = backdrop
        self.labels: list[tuple[float, float, str, QColor]] = []
        self.area = QRectF()

    def set_labels(self, labels: list[tuple[float, float, str, QColor]], area: QRectF,
                   cell: tuple[float, float]) -> None:
        """(x, y, text, colour) in the plot's coordinates; `area` encloses them (for repaints);
        each labels a cell of `cell` (width, height) plot units."""
        self.prepareGeometryChange()
        self.labels, self.area, self.cell = labels, area, QRectF(0, 0, *cell)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self.area

    def paint(self, painter: QPainter, *_args) -> None:
        to_screen = painter.transform()
        painter.resetTransform()
        painter.setFont(self.font)
        metrics = painter.fontMetrics()
        cell = to_screen.mapRect(self.cell)
        for x, y, text, colour in self.labels:
            at = to_screen.map(QPointF(x, y))
            box = QRectF(metrics.boundingRect(text)).adjusted(-2, 0, 2, 0)
            if box.width() > cell.width() or box.height() > self.height_share * cell.height():
                continue
            box.moveCenter(at) if self.centered else box.moveTopLeft(at)
            if self.backdrop is not None:
                painter.fillRect(box, self.backdrop)
            painter.setPen(colour)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class ConfusionView(QWidget):
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
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.counts = TextGrid(9)
        self.plot.addItem(self.counts)
        self.samples, self.sample_image, self.captions = _mosaic_view(
            "Validation samples the network gets wrong, captioned true → predicted")
        self.weights, self.weight_image, _ = _mosaic_view(
            "The first layer's weights per unit, drawn in the input's image shape (red +, blue -)")
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
        self.val_x = x
        self.val_classes = None if y is None else _class_indices(np.asarray(y))
        self.image_side.setVisible(x is not None and image_shape(x.shape[1:]) is not None)

    def update_epoch(self, matrix: np.ndarray | None, misclassified: np.ndarray | None,
                     first_kernel: np.ndarray | None, misclassified_as: np.ndarray | None = None) -> None:
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
        m = self.matrix
        k = len(m)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        self.image.setImage(share.T, levels=(0, 1), lut=VIRIDIS)
        if k != self.classes_shown:
            ticks = [[(i + 0.5, str(i)) for i in range(k)]]
            self.plot.getAxis("bottom").setTicks(ticks)
            self.plot.getAxis("left").setTicks(ticks)
            self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0)
            self.counts.font.setPointSizeF(7.5 if k > 6 else 9)
            self.classes_shown = k
        labels = [] if k > MAX_LABELLED_CLASSES else [
            (j + 0.5, i + 0.5, str(int(m[i, j])), DARK_TEXT if share[i, j] > 0.6 else LIGHT_TEXT)
            for i in range(k) for j in range(k)]
        self.counts.set_labels(labels, QRectF(0, 0, k, k), (1, 1))
        accuracy = np.trace(m) / max(m.sum(), 1)
        self.plot.setTitle(f"Confusion matrix (validation, accuracy {accuracy:.1%})")
        if self.image_side.isVisible():
            self._draw_samples()
            self._draw_weights()

    def _draw_samples(self) -> None:
        shape = image_shape(self.val_x.shape[1:]) if self.val_x is not None else None
        if self.misclassified is None or shape is None:
            return
        shown = self.misclassified[:SAMPLE_TILES]
        tiles = [_grey(self.val_x[i].reshape(shape)) for i in shown]
        self.sample_label.setText(f"Misclassified samples (first {len(shown)})" if len(shown)
                                  else "Misclassified samples: none")
        _show_mosaic(self.sample_image, tiles, shape)
        labels = []
        if self.val_classes is not None and self.misclassified_as is not None:
            height, width = shape
            for n, (index, predicted) in enumerate(zip(shown, self.misclassified_as, strict=False)):
                row, column = divmod(n, GRID_COLUMNS)
                labels.append((column * (width + TILE_GAP), row * (height + TILE_GAP),
                               f"{self.val_classes[index]}→{predicted}", LIGHT_TEXT))
        self.captions.set_labels(labels, self.sample_image.boundingRect(), (shape[1], shape[0]))

    def _draw_weights(self) -> None:
        shape = image_shape(self.val_x.shape[1:]) if self.val_x is not None else None
        kernel = self.first_kernel
        if kernel is None or shape is None or kernel.shape[0] != int(np.prod(shape)):
            return
        units = min(kernel.shape[1], WEIGHT_TILES)
        _show_mosaic(self.weight_image, [_diverging(kernel[:, unit].reshape(shape)) for unit in range(units)], shape)

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


def _class_indices(y: np.ndarray) -> np.ndarray:
    """Class index per sample from class indices or one-hot rows."""
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(np.int64)


def _mosaic_view(tooltip: str) -> tuple[pg.GraphicsLayoutWidget, pg.ImageItem, TextGrid]:
    """A view showing one mosaic image (row 0 at the top, square pixels), with a caption layer."""
    view = pg.GraphicsLayoutWidget()
    view.setToolTip(tooltip)
    box = view.addViewBox()
    box.setMouseEnabled(False, False)
    box.invertY(True)
    box.setAspectLocked(True)
    image = pg.ImageItem(axisOrder="row-major")
    box.addItem(image)
    captions = TextGrid(7, height_share=0.34, centered=False, backdrop=QColor(15, 23, 42, 170))
    box.addItem(captions)
    return view, image, captions


def _grey(tile: np.ndarray) -> np.ndarray:
    """RGB of a greyscale tile stretched to its own min..max (as autoLevels did per tile)."""
    low, high = float(tile.min()), float(tile.max())
    level = np.round(255 * (tile - low) / ((high - low) or 1.0)).astype(np.uint8)
    return np.repeat(level[..., None], 3, axis=2)


def _diverging(tile: np.ndarray) -> np.ndarray:
    """RGB of a weight tile on the diverging colour map, symmetric about 0 per tile."""
    bound = float(np.abs(tile).max()) or 1.0
    return DIVERGING[np.round(127.5 * (tile / bound + 1)).astype(np.intp)]


def _show_mosaic(image: pg.ImageItem, tiles: list[np.ndarray], shape: tuple[int, int]) -> None:
    """Lay RGB tiles out GRID_COLUMNS wide with transparent gaps, as one RGBA image."""
    if not tiles:
        image.clear()
        return
    height, width = shape
    rows = -(-len(tiles) // GRID_COLUMNS)
    columns = min(len(tiles), GRID_COLUMNS)
    out = np.zeros((rows * (height + TILE_GAP) - TILE_GAP, columns * (width + TILE_GAP) - TILE_GAP, 4), np.uint8)
    for n, tile in enumerate(tiles):
        row, column = divmod(n, GRID_COLUMNS)
        top, left = row * (height + TILE_GAP), column * (width + TILE_GAP)
        out[top:top + height, left:left + width, :3] = tile
        out[top:top + height, left:left + width, 3] = 255
    image.setImage(out, levels=(0, 255))
