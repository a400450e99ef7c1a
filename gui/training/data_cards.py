"""The Data tab's source picker: one card per data source, each with a small picture.

Synthetic sets show their own points (drawn once from the engine's generator with a fixed seed,
then cached), as TensorFlow Playground's data picker does; MNIST, Fashion-MNIST, CSV, NPZ and
the image folder get a drawn emblem. Clicking a card emits `chosen(name)`; the panel decides what that means.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from engine.data.download import REMOTE_SETS
from engine.registry import DATASETS
from gui.training.surface_view import CLASS_COLOURS

THUMB = 64  # px, the picture's side
THUMB_POINTS = 260
THUMB_SEED = 3
FILE_CARDS = ("mnist", "fashion_mnist", "csv", "npz", "image_folder")
TITLES = {
    "circle": "Circle",
    "xor": "XOR",
    "gauss": "Gaussian",
    "spiral": "Spiral",
    "spiral_multiclass": "Spirals",
    "plane": "Plane",
    "gauss_surface": "Bumps",
    "sine": "Sine",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion",
    "csv": "CSV file",
    "npz": "NPZ file",
    "image_folder": "Image folder",
}
HEADINGS = {
    "spiral_multiclass": "Spiral with k classes",
    "mnist": "MNIST handwritten digits",
    "fashion_mnist": "Fashion-MNIST",
    "image_folder": "A folder of images",
}
DESCRIPTIONS = {
    "mnist": "Handwritten digits: 60,000 training and 10,000 test images, 28×28 grey (downloaded once).",
    "fashion_mnist": "Clothing photos in 10 classes, MNIST's size and layout (downloaded once).",
    "csv": "A table with a header row: one sample per row, the target in one column.",
    "npz": "A NumPy archive with arrays x (samples) and y (targets), optionally x_val / y_val.",
    "image_folder": "PNG images of one size in one sub-folder per class (the sub-folder's name is the class).",
}
_BACKGROUND = QColor("#f8fafc")
_LOW, _MID, _HIGH = np.array([245, 146, 62]), np.array([245, 245, 245]), np.array([37, 99, 235])


def card_names() -> list[str]:
    """Every source the Data tab offers, in card order."""
    return [*DATASETS.names(), *FILE_CARDS]


def title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").capitalize())


def heading(name: str) -> str:
    """The longer name the parameters column shows above the chosen source's settings."""
    return HEADINGS.get(name, title(name))


def description(name: str) -> str:
    if name in DATASETS:
        entry = DATASETS.get(name)
        return f"{entry.description} ({entry.group})"
    return DESCRIPTIONS.get(name, "")


def _value_colour(value: float) -> QColor:
    """Playground's regression colours: orange for -1, white for 0, blue for +1."""
    t = float(np.clip(value, -1.0, 1.0))
    rgb = _MID + (_HIGH - _MID) * t if t >= 0 else _MID + (_LOW - _MID) * -t
    return QColor(*(int(c) for c in rgb))


def _points_picture(painter: QPainter, name: str) -> None:
    data = DATASETS.get(name).generate(n=THUMB_POINTS, seed=THUMB_SEED)
    x = np.asarray(data.x, dtype=float)
    if x.shape[1] == 1:  # sine: x against y
        x = np.column_stack([x[:, 0] / np.pi, np.asarray(data.y)[:, 0]])
    margin = 4.0
    scale = (THUMB - 2 * margin) / 2.0
    painter.setPen(Qt.PenStyle.NoPen)
    values = np.asarray(data.y).reshape(len(x), -1)[:, 0]
    for (px, py), value in zip(x, values, strict=True):
        if data.task == "classification":
            colour = QColor(CLASS_COLOURS[int(value) % len(CLASS_COLOURS)])
        else:
            colour = QColor("#2563eb") if name == "sine" else _value_colour(value).darker(115)
        painter.setBrush(colour)
        centre = QPointF(THUMB / 2 + np.clip(px, -1, 1) * scale, THUMB / 2 - np.clip(py, -1, 1) * scale)
        painter.drawEllipse(centre, 1.6, 1.6)


def _digits_picture(painter: QPainter, texts: str) -> None:
    """A 2×2 mosaic of dark tiles with light glyphs, as MNIST samples look."""
    half = THUMB / 2
    font = QFont()
    font.setPixelSize(22)
    font.setBold(True)
    painter.setFont(font)
    for i, text in enumerate(texts):
        tile = QRectF((i % 2) * half + 1, (i // 2) * half + 1, half - 2, half - 2)
        painter.fillRect(tile, QColor("#111827"))
        painter.setPen(QColor("#f9fafb"))
        painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, text)


def _clothes_picture(painter: QPainter) -> None:
    painter.fillRect(QRectF(1, 1, THUMB - 2, THUMB - 2), QColor("#111827"))
    shirt = QPolygonF(
        [
            QPointF(x * THUMB / 64, y * THUMB / 64)
            for x, y in (
                (22, 10),
                (28, 14),
                (36, 14),
                (42, 10),
                (56, 20),
                (50, 30),
                (45, 27),
                (45, 54),
                (19, 54),
                (19, 27),
                (14, 30),
                (8, 20),
            )
        ]
    )
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#e5e7eb"))
    painter.drawPolygon(shirt)


def _table_picture(painter: QPainter) -> None:
    painter.setPen(QPen(QColor("#64748b"), 1))
    rows, cols, top, left, cell_w, cell_h = 6, 3, 8, 6, 17, 8
    painter.fillRect(QRectF(left, top, cols * cell_w, cell_h), QColor("#cbd5e1"))
    for r in range(rows + 1):
        painter.drawLine(QPointF(left, top + r * cell_h), QPointF(left + cols * cell_w, top + r * cell_h))
    for c in range(cols + 1):
        painter.drawLine(QPointF(left + c * cell_w, top), QPointF(left + c * cell_w, top + rows * cell_h))


def _arrays_picture(painter: QPainter) -> None:
    font = QFont()
    font.setPixelSize(14)
    font.setBold(True)
    painter.setFont(font)
    for i, (label, colour) in enumerate((("x", "#2563eb"), ("y", "#f5923e"))):
        box = QRectF(8 + i * 26, 10 + i * 6, 22, 44 - i * 12)
        painter.setPen(QPen(QColor(colour), 2))
        painter.setBrush(QColor(colour).lighter(170))
        painter.drawRect(box)
        painter.setPen(QColor("#0f172a"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)


def _folder_picture(painter: QPainter) -> None:
    """A folder with three small pictures in it, one per class colour."""
    painter.setPen(QPen(QColor("#b45309"), 1))
    painter.setBrush(QColor("#fcd34d"))
    painter.drawPolygon(
        QPolygonF([QPointF(x, y) for x, y in ((6, 14), (24, 14), (29, 19), (58, 19), (58, 54), (6, 54))])
    )
    for i in range(3):
        tile = QRectF(11 + i * 16, 27, 13, 13)
        painter.fillRect(tile, QColor(CLASS_COLOURS[i % len(CLASS_COLOURS)]))
        painter.setPen(QPen(QColor("#f8fafc"), 2))
        painter.drawLine(
            QPointF(tile.left() + 3, tile.center().y()), QPointF(tile.right() - 3, tile.center().y())
        )


@cache
def thumbnail(name: str) -> QPixmap:
    """The card's THUMB×THUMB picture (drawn once per source; needs a QGuiApplication)."""
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(_BACKGROUND)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if name in DATASETS:
        _points_picture(painter, name)
    elif name == "mnist":
        _digits_picture(painter, "7210")
    elif name == "fashion_mnist":
        _clothes_picture(painter)
    elif name == "csv":
        _table_picture(painter)
    elif name == "image_folder":
        _folder_picture(painter)
    else:
        _arrays_picture(painter)
    painter.setPen(QPen(QColor("#cbd5e1"), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(0.5, 0.5, THUMB - 1, THUMB - 1))
    painter.end()
    return pixmap


class SourceCards(QListWidget):
    """The cards, flowing into as many columns as fit; one is marked as the current source."""

    chosen = Signal(str)  # the clicked card's source name

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 50, THUMB + 48))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Data sources")
        self.setToolTip("Click a card to train on that data")
        for name in card_names():
            item = QListWidgetItem(QIcon(thumbnail(name)), title(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            size = f" (about {REMOTE_SETS[name].size / 1e6:.0f} MB)" if name in REMOTE_SETS else ""
            item.setToolTip(description(name) + size)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
        self.itemClicked.connect(lambda item: self.chosen.emit(item.data(Qt.ItemDataRole.UserRole)))

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name): Enter or Space chooses a card
        item = self.currentItem()
        if item is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
            return
        super().keyPressEvent(event)

    def item_for(self, name: str) -> QListWidgetItem | None:
        for row in range(self.count()):
            if self.item(row).data(Qt.ItemDataRole.UserRole) == name:
                return self.item(row)
        return None

    def current_name(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def set_current(self, name: str | None) -> None:
        """Mark `name`'s card (None: no card) without emitting `chosen`."""
        self.blockSignals(True)
        self.clearSelection()
        item = self.item_for(name) if name else None
        if item is not None:
            item.setSelected(True)
            self.setCurrentItem(item)
            self.scrollToItem(item)
        self.blockSignals(False)
