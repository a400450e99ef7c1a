"""Many small labels or images drawn by one graphics item each, for the live views.

pyqtgraph makes one item per thing by default: a pg.TextItem per label (~2.5 ms to create) and a
ViewBox per image tile (~8 ms: it builds its context menu eagerly). The GUI thread holds the GIL
while it does that, which stalls the training thread, so a 10-class confusion matrix with its
sample grids cost a third of a second at the first epoch. Here a `TextGrid` paints all labels of
a plot and a mosaic is one RGBA image with transparent gaps between its tiles.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QTransform

TILE_GAP = 2  # image pixels between tiles (transparent)
DIVERGING = pg.colormap.get("CET-D1A").getLookupTable(nPts=256)
LIGHT_TEXT = QColor("#f8fafc")
CAPTION_BACKDROP = QColor(15, 23, 42, 170)


class TextGrid(pg.GraphicsObject):
    """Short texts at points of a plot, all painted by this one item at a fixed screen size."""

    def __init__(
        self, points: float, height_share: float = 1.0, centered: bool = True, backdrop: QColor | None = None
    ):
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

    def set_labels(
        self, labels: list[tuple[float, float, str, QColor]], area: QRectF, cell: tuple[float, float]
    ) -> None:
        """(x, y, text, colour) in the plot's coordinates; `area` encloses them (for repaints);
        each labels a cell of `cell` (width, height) plot units."""
        self.prepareGeometryChange()
        self.labels, self.area, self.cell = labels, area, QRectF(0, 0, *cell)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self.area

    def text_size(self, text: str) -> QSizeF:
        """The on-screen size a label takes (its box, with the side padding)."""
        return QSizeF(QFontMetricsF(self.font).boundingRect(text).adjusted(-2, 0, 2, 0).size())

    def placed(self, to_screen: QTransform) -> list[tuple[str, QRectF, QColor]]:
        """The labels drawn under the item-to-screen transform `to_screen`, with their boxes on
        screen: those that fit their cell (see __init__)."""
        metrics = QFontMetricsF(self.font)
        cell = to_screen.mapRect(self.cell)
        shown = []
        for x, y, text, colour in self.labels:
            box = metrics.boundingRect(text).adjusted(-2, 0, 2, 0)
            if box.width() > cell.width() or box.height() > self.height_share * cell.height():
                continue
            at = to_screen.map(QPointF(x, y))
            box.moveCenter(at) if self.centered else box.moveTopLeft(at)
            shown.append((text, box, colour))
        return shown

    def shown_labels(self) -> list[tuple[str, QRectF]]:
        """The labels on screen now, with their boxes in the (first) view's coordinates."""
        views = self.scene().views() if self.scene() is not None else []
        if not views or not self.isVisible():
            return []
        return [
            (text, box) for text, box, _c in self.placed(self.deviceTransform(views[0].viewportTransform()))
        ]

    def paint(self, painter: QPainter, *_args) -> None:
        to_screen = painter.transform()
        painter.resetTransform()
        painter.setFont(self.font)
        for text, box, colour in self.placed(to_screen):
            if self.backdrop is not None:
                painter.fillRect(box, self.backdrop)
            painter.setPen(colour)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def mosaic_view(box: pg.ViewBox) -> tuple[pg.ImageItem, TextGrid]:
    """Set `box` up to show one mosaic (row 0 at the top, square pixels) with a caption layer."""
    box.setMouseEnabled(False, False)
    box.invertY(True)
    box.setAspectLocked(True)
    image = pg.ImageItem(axisOrder="row-major")
    box.addItem(image)
    captions = TextGrid(8, height_share=0.5, centered=False, backdrop=CAPTION_BACKDROP)
    box.addItem(captions)
    return image, captions


def grey(tile: np.ndarray) -> np.ndarray:
    """RGB of a greyscale tile stretched to its own min..max (as ImageItem's autoLevels does)."""
    low, high = float(tile.min()), float(tile.max())
    level = np.round(255 * (tile - low) / ((high - low) or 1.0)).astype(np.uint8)
    return np.repeat(level[..., None], 3, axis=2)


def picture(sample: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """RGB tile of one sample of (height, width) pictures: greyscale (H·W values) or colour
    (3·H·W values, channels first), stretched to its own min..max."""
    height, width = shape
    if sample.size == 3 * height * width:
        rgb = np.nan_to_num(sample.reshape(3, height, width).transpose(1, 2, 0).astype(np.float64))
        low, high = float(rgb.min()), float(rgb.max())
        return np.round(255 * (rgb - low) / ((high - low) or 1.0)).astype(np.uint8)
    return grey(np.nan_to_num(sample.reshape(shape)))


def diverging(tile: np.ndarray, bound: float | None = None) -> np.ndarray:
    """RGB of a weight tile on a diverging colour map (red +, blue -), 0 in the middle and +-`bound`
    at the ends (default: the tile's own largest magnitude)."""
    bound = (float(np.abs(tile).max()) if bound is None else bound) or 1.0
    return DIVERGING[np.round(127.5 * (np.clip(np.nan_to_num(tile / bound), -1, 1) + 1)).astype(np.intp)]


def coloured(tile: np.ndarray, low: float, high: float, lut: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) of a tile of values on the (256, 3) colour table `lut`, `low` and `high` at
    its ends (one scale for several tiles)."""
    span = (high - low) or 1.0
    return lut[np.round(255 * np.clip(np.nan_to_num((tile - low) / span), 0, 1)).astype(np.intp), :3]


def tile_origin(n: int, shape: tuple[int, int], columns: int) -> tuple[int, int]:
    """(x, y) image pixel of tile n's top-left corner."""
    row, column = divmod(n, columns)
    return column * (shape[1] + TILE_GAP), row * (shape[0] + TILE_GAP)


def tile_at(x: float, y: float, shape: tuple[int, int], columns: int, count: int) -> int | None:
    """The tile of a mosaic of `count` (height, width) tiles `columns` wide under image pixel
    (x, y); None in a gap or outside."""
    if x < 0 or y < 0:
        return None
    column, dx = divmod(int(x), shape[1] + TILE_GAP)
    row, dy = divmod(int(y), shape[0] + TILE_GAP)
    n = row * columns + column
    return n if column < columns and dx < shape[1] and dy < shape[0] and n < count else None


def show_mosaic(
    image: pg.ImageItem,
    tiles: list[np.ndarray],
    shape: tuple[int, int],
    columns: int,
    captions: TextGrid | None = None,
    texts: list[str] | None = None,
) -> None:
    """Lay (height, width, 3) RGB tiles out `columns` wide as one RGBA image; with `captions`,
    caption tile n with texts[n] at its top-left corner."""
    if not tiles:
        image.clear()
        if captions is not None:
            captions.set_labels([], QRectF(), shape[::-1])
        return
    height, width = shape
    rows = -(-len(tiles) // columns)
    used = min(len(tiles), columns)
    out = np.zeros((rows * (height + TILE_GAP) - TILE_GAP, used * (width + TILE_GAP) - TILE_GAP, 4), np.uint8)
    for n, tile in enumerate(tiles):
        left, top = tile_origin(n, shape, columns)
        out[top : top + height, left : left + width, :3] = tile
        out[top : top + height, left : left + width, 3] = 255
    image.setImage(out, levels=(0, 255))
    if captions is not None:
        labels = [(*tile_origin(n, shape, columns), text, LIGHT_TEXT) for n, text in enumerate(texts or [])]
        captions.set_labels(labels, QRectF(0, 0, out.shape[1], out.shape[0]), (width, height))
