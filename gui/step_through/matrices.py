"""A product of matrices drawn as heatmaps side by side, e.g. W · a + b = z → relu → a.

Each matrix is a `Term` (its values as a (rows, cols) array, its name and shape written under it)
drawn on a diverging colour map (red +, blue −, 0 white-ish); a picture term (an image sample) is
drawn in grey. Operators between terms ("·", "+", "=", "→ relu →") are plain labels; a term list
may hold NEW_LINE to start a second line. Hovering a cell says its value (`hovered`); clicking a
row of a term made with `pick_rows` emits `row_clicked`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from gui.training.image_grid import TextGrid, diverging, grey

NEW_LINE = "\n"
COLUMN_WIDTH = 26  # screen pixels of a one-column term
CELL_WIDTH = 22  # screen pixels per column of a narrow matrix
NUMBER_WIDTH = 44  # screen pixels per column of a matrix with its numbers written in
OPERATOR_WIDTH, CHARACTER_WIDTH = 30, 13  # screen pixels an operator ("·", "→ relu →") takes: about
# OPERATOR_WIDTH + CHARACTER_WIDTH per character
MAX_WIDTH = 300  # a wide matrix is squeezed into this many pixels
NUMBERED_CELLS = 160  # a term with at most this many cells writes its numbers in them (where they fit)
DARK, LIGHT = QColor("#0f172a"), QColor("#f8fafc")  # numbers on pale and on strong colours
MARK_COLOURS = {"chosen": QColor("#f59e0b"), "quiet": QColor("#111827")}


@dataclass
class Term:
    """One matrix of the product: `values` (rows, cols); `name` and the shape are written under
    it. `picture`: draw in grey (an image), not on the diverging map. `marks`: rows outlined,
    {row: "chosen" | "quiet"}. `pick_rows`: a click on a row chooses that unit."""

    name: str
    values: np.ndarray
    picture: bool = False
    pick_rows: bool = False
    marks: dict[int, str] = field(default_factory=dict)
    shape_text: str = ""

    def caption(self) -> str:
        """The name, and the shape on a second line: "W⁽¹⁾<br>8×2"."""
        rows, cols = self.values.shape
        return f"{self.name}<br>{self.shape_text or f'{rows}×{cols}'}"


def column(name: str, values: np.ndarray, **kwargs) -> Term:
    """A vector as a (n, 1) column term."""
    flat = np.asarray(values, np.float64).reshape(-1, 1)
    return Term(name, flat, **kwargs)


def as_rows(name: str, values: np.ndarray, **kwargs) -> Term:
    """Any array as a 2-D term: a vector as a column, (C, H, W) maps side by side in one image
    (channel after channel along the columns), a matrix as it is."""
    array = np.asarray(values, np.float64)
    if array.ndim <= 1:
        return column(name, array, **kwargs)
    if array.ndim == 3:  # channels side by side, a blank column between two
        shape_text = "×".join(str(n) for n in array.shape)
        gap = np.full((array.shape[1], 1), np.nan)
        pieces = [piece for channel in array for piece in (channel, gap)][:-1]
        return Term(name, np.concatenate(pieces, axis=1), shape_text=shape_text, **kwargs)
    return Term(name, array.reshape(array.shape[0], -1), **kwargs)


def cell_text(value: float) -> str:
    """A cell's number: 2 decimals, a small one in short e-notation ("5e-03")."""
    value = float(value) + 0.0  # (−0.0 is written 0.00)
    if np.isnan(value):
        return ""
    return f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.0e}"


def numbered(term: Term) -> bool:
    """Whether the term writes its numbers in its cells (a small one, not a picture)."""
    return term.values.size <= NUMBERED_CELLS and not term.picture


class MatrixProduct(pg.GraphicsLayoutWidget):
    hovered = Signal(str)  # "W[3, 1] = 0.42" under the mouse, "" elsewhere
    row_clicked = Signal(int)  # the row clicked in a term made with pick_rows

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground(None)
        self.drawn: list[tuple[Term, pg.ImageItem]] = []
        self.parts: list[Term | str] = []
        self.laid_out_for = 0  # the width the terms were laid out for
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.setMinimumHeight(160)

    def show_terms(self, parts: list[Term | str]) -> None:
        """Lay the terms and operators out left to right (NEW_LINE starts a new line), the wide
        matrices squeezed to fit the widget's width."""
        self.parts = list(parts)
        self.laid_out_for = self.width()
        self.clear()
        self.drawn = []
        widths = self._widths(self.parts)
        row = column_index = 0
        for n, part in enumerate(self.parts):
            if isinstance(part, str) and part == NEW_LINE:
                row, column_index = row + 2, 0
                continue
            if isinstance(part, str):
                self.addLabel(part, row=row, col=column_index, size="13pt")
                column_index += 1
                continue
            box = pg.ViewBox(enableMouse=False, enableMenu=False, invertY=True)  # (no menu: quicker)
            self.addItem(box, row=row, col=column_index)
            self._draw(box, part)
            box.setFixedWidth(widths[n])
            self.addLabel(part.caption(), row=row + 1, col=column_index, size="8pt")
            column_index += 1

    def _widths(self, parts: list[Term | str]) -> dict[int, int]:
        """Screen width per term (by index in `parts`): a column is narrow, a matrix wants a
        width per column; in a line that would not fit, the columns lose their written numbers
        and the matrices share what is left."""
        widths: dict[int, int] = {}
        line: list[int] = []
        operators = 0
        for n, part in enumerate([*parts, NEW_LINE]):
            if isinstance(part, str) and part != NEW_LINE:
                operators += OPERATOR_WIDTH + CHARACTER_WIDTH * len(part)
                continue
            if part != NEW_LINE:
                rows, cols = part.values.shape
                cell = NUMBER_WIDTH if numbered(part) else CELL_WIDTH
                widths[n] = cell if cols == 1 else int(min(MAX_WIDTH, max(2 * COLUMN_WIDTH, cols * cell)))
                line.append(n)
                continue
            wide = [i for i in line if parts[i].values.shape[1] > 1]
            narrow = [i for i in line if i not in wide]
            if sum(widths[i] for i in line) > self.width() - 40 - operators:  # columns first
                widths.update(dict.fromkeys(narrow, COLUMN_WIDTH))  # (their numbers on hover only)
            spare = self.width() - 40 - operators - sum(widths[i] for i in narrow)
            wanted = sum(widths[i] for i in wide)
            if wide and wanted > spare:
                for i in wide:
                    widths[i] = max(2 * COLUMN_WIDTH, int(widths[i] * max(spare, 0) / wanted))
            line, operators = [], 0
        return widths

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name): squeeze the matrices again
        super().resizeEvent(event)
        if getattr(self, "parts", None) and abs(self.width() - self.laid_out_for) > 8:  # (not yet built)
            self.show_terms(self.parts)

    def _draw(self, box: pg.ViewBox, term: Term) -> None:
        image = pg.ImageItem(axisOrder="row-major")
        values = term.values
        gaps = np.isnan(values)  # (between channels: transparent)
        bound = float(np.abs(values[~gaps]).max()) if (~gaps).any() else 1.0
        rgb = grey(np.nan_to_num(values)) if term.picture else diverging(np.nan_to_num(values), bound)
        rgba = np.concatenate([rgb[..., :3], np.where(gaps, 0, 255).astype(np.uint8)[..., None]], axis=2)
        image.setImage(np.ascontiguousarray(rgba), levels=(0, 255))
        box.addItem(image)
        rows, cols = values.shape
        if numbered(term):
            numbers = TextGrid(7, height_share=1.05)
            bound = float(np.nanmax(np.abs(values))) or 1.0
            labels = [
                (
                    c + 0.5,
                    r + 0.5,
                    cell_text(values[r, c]),
                    LIGHT if abs(values[r, c]) > 0.55 * bound else DARK,
                )
                for r in range(rows)
                for c in range(cols)
            ]
            numbers.set_labels(labels, QRectF(0, 0, cols, rows), (1, 1))
            box.addItem(numbers)
        for unit, kind in term.marks.items():
            if 0 <= unit < rows:
                outline = QGraphicsRectItem(QRectF(0, unit, cols, 1))
                pen = QPen(MARK_COLOURS[kind], 2.5 if kind == "chosen" else 1.5)
                pen.setCosmetic(True)
                if kind == "quiet":
                    pen.setStyle(Qt.PenStyle.DashLine)
                outline.setPen(pen)
                box.addItem(outline)
        box.setRange(xRange=(0, cols), yRange=(0, rows), padding=0.02)
        self.drawn.append((term, image))

    def cell_at(self, scene_pos) -> tuple[Term, int, int] | None:
        """The term and (row, col) of the cell under a scene position, or None."""
        for term, image in self.drawn:
            at = image.mapFromScene(scene_pos)
            rows, cols = term.values.shape
            if 0 <= at.x() < cols and 0 <= at.y() < rows:
                return term, int(at.y()), int(at.x())
        return None

    def _moved(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is None:
            self.hovered.emit("")
            return
        term, row, col = cell
        where = f"{row}" if term.values.shape[1] == 1 else f"{row}, {col}"
        self.hovered.emit(f"{term.name}[{where}] = {term.values[row, col]:.4g}")

    def _clicked(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None and cell[0].pick_rows:
            self.row_clicked.emit(cell[1])
