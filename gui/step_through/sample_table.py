"""The training samples as a table (a CSV file's rows as they are in the file, images by their
label): a click on a row picks that sample for the Step-through."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from engine.data import Dataset

ROWS = 500  # the first rows of the training set are listed
FEATURE_COLUMNS = 8  # a wider sample shows its first features only


class SampleTable(QTableWidget):
    sample_picked = Signal(int, str)  # index in the training set, "train"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.setToolTip("The training samples: click a row to walk it through the network")
        self.cellClicked.connect(lambda row, _column: self.sample_picked.emit(row, "train"))

    def show_data(self, data: Dataset | None) -> None:
        """List `data`'s first ROWS samples: their features (flat samples of at most
        FEATURE_COLUMNS values are written out whole) and their target; None empties the table."""
        self.clear()
        if data is None or not len(data):
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        x = np.asarray(data.x[:ROWS])
        flat = x.reshape(len(x), -1)
        shown = flat.shape[1] if x.ndim == 2 else 0
        names = list(data.feature_names or [])
        features = [names[i] if i < len(names) else f"x{i}" for i in range(min(shown, FEATURE_COLUMNS))]
        more = shown > FEATURE_COLUMNS
        headers = ["#", *features, *(["…"] if more else []), "target"]
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.setRowCount(len(x))
        targets = np.asarray(data.y[:ROWS]).reshape(len(x), -1)
        for row in range(len(x)):
            cells = [str(row), *(f"{v:.4g}" for v in flat[row, : len(features)])]
            cells += ["…"] * more
            target = targets[row]
            cells.append(str(target[0].item()) if target.size == 1 else str(int(target.argmax())))
            for column, text in enumerate(cells):
                self.setItem(row, column, QTableWidgetItem(text))
        self.resizeColumnsToContents()
