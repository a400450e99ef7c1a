"""The Data tab: what the network trains on, a preview of it, and buttons to choose a file.

Synthetic sets and their n / noise / seed are edited in the inspector's data settings; this panel
shows the loaded data (a scatter coloured by class for 2-D sets, thumbnails for images), the
train/validation split, and opens MNIST folders, CSV files (through an import dialog with a
preview table) and NPZ files. A file that fails to load gets the loader's message and the
previous data stays.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from gui.training.confusion_view import class_indices, image_shape
from gui.training.image_grid import grey, mosaic_view, show_mosaic
from gui.training.session import TrainingSession
from gui.training.surface_view import class_brushes

PREVIEW_ROWS = 20
THUMBNAILS = 12


class CsvImportDialog(QDialog):
    """Preview a CSV file and choose the target, the feature columns, the task and scaling."""

    def __init__(self, path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Import {path.name}")
        self.path = path
        header, rows = read_preview(path)
        table = QTableWidget(len(rows), len(header))
        table.setHorizontalHeaderLabels(header)
        for r, row in enumerate(rows):
            for c, value in enumerate(row[: len(header)]):
                table.setItem(r, c, QTableWidgetItem(value))
        table.setToolTip(f"The first {PREVIEW_ROWS} rows of the file")
        self.target = QComboBox()
        self.target.addItems(header)
        self.target.setCurrentIndex(len(header) - 1)
        self.target.setToolTip("The column the network learns to predict")
        self.features = QListWidget()
        self.features.setToolTip("The columns the network sees as inputs")
        for name in header:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.features.addItem(item)
        self.task = QComboBox()
        self.task.addItems(["auto", "classification", "regression"])
        self.task.setToolTip("auto: whole-number or text targets with few values are classes")
        self.standardize = QCheckBox("Standardise features (zero mean, unit variance; stored with the network)")
        self.standardize.setChecked(True)
        form = QFormLayout()
        form.addRow("Target column", self.target)
        form.addRow("Feature columns", self.features)
        form.addRow("Task", self.task)
        form.addRow("", self.standardize)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table, 1)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def config(self) -> dict:
        target = self.target.currentText()
        features = [self.features.item(i).text() for i in range(self.features.count())
                    if self.features.item(i).checkState() == Qt.CheckState.Checked
                    and self.features.item(i).text() != target]
        return {"source": "csv", "path": str(self.path), "target": target, "features": features,
                "task": self.task.currentText(), "standardize": self.standardize.isChecked()}


def read_preview(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows of a CSV file, as text (errors become one-line messages)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [row for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)]
    return header, rows


class DataPanel(QWidget):
    def __init__(self, session: TrainingSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.document = session.document
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.preview = pg.GraphicsLayoutWidget()
        self.preview.setToolTip("A preview of the training data")
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setRange(5, 50)
        self.split.setToolTip("The share of the data kept aside for validation")
        self.split_label = QLabel()
        self.split.valueChanged.connect(lambda v: self.split_label.setText(f"Validation {v}%"))
        self.split.sliderReleased.connect(self._split_changed)
        buttons = QHBoxLayout()
        for text, tip, slot in (
            ("Reload / regenerate", "Load the data again (synthetic sets are regenerated from their seed)",
             self.reload),
            ("MNIST folder…", "A folder holding the four MNIST IDX files (gzip or raw)", self.choose_mnist),
            ("CSV file…", "A table with a header row: choose the target and feature columns", self.choose_csv),
            ("NPZ file…", "A NumPy .npz archive with arrays x and y", self.choose_npz),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        split_row = QHBoxLayout()
        split_row.addWidget(self.split_label)
        split_row.addWidget(self.split, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addLayout(split_row)
        layout.addWidget(self.preview, 1)
        session.data_changed.connect(self.refresh)
        session.preload_failed.connect(self._preload_failed)
        self.document.settings_changed.connect(self._settings_changed)
        self.document.document_reset.connect(self._settings_changed)
        self._settings_changed()

    def _settings_changed(self) -> None:
        value = int(round(100 * float(self.document.spec.data.get("val_split", 0.2))))
        self.split.blockSignals(True)
        self.split.setValue(value)
        self.split.blockSignals(False)
        self.split_label.setText(f"Validation {value}%")
        if self.session.state == "idle":
            self.reload(quiet=True)

    def _split_changed(self) -> None:
        data = dict(self.document.spec.data)
        data["val_split"] = self.split.value() / 100
        self.apply_config(data)

    def reload(self, quiet: bool = False) -> None:
        """Read the data again (the Reload button: now, with a message on failure) or, quietly
        after a change of file or settings, in the background."""
        if quiet:
            self.session.preload_data()
            return
        problem = self.session.load_data(force=True)
        if problem:
            QMessageBox.warning(self, "Data", problem)

    def _preload_failed(self, problem: str) -> None:
        self.summary.setText(f"<b>Data not loaded:</b> {problem}")

    def apply_config(self, config: dict) -> bool:
        """Switch to `config`; if it cannot be loaded, say why and keep the previous data."""
        previous = dict(self.document.spec.data)
        try:
            self.document.set_data(config)
        except NetCanvasError as exc:
            QMessageBox.warning(self, "Data", str(exc))
            return False
        problem = self.session.load_data(force=True)
        if problem:
            if self.document.spec.data != previous:
                self.document.undo_stack.undo()
            QMessageBox.warning(self, "Data", problem)
            return False
        return True

    def choose_mnist(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "MNIST folder")
        if folder:
            self.apply_config({"source": "mnist", "path": folder, "val_split": self.split.value() / 100})

    def choose_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "NPZ data", "", "NumPy archives (*.npz)")
        if path:
            self.apply_config({"source": "npz", "path": path, "val_split": self.split.value() / 100})

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CSV data", "", "CSV tables (*.csv *.txt);;All files (*)")
        if not path:
            return
        try:
            dialog = CsvImportDialog(Path(path), self)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            QMessageBox.warning(self, "Data", f"{path}: cannot read the file: {exc}")
            return
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_config({**dialog.config(), "val_split": self.split.value() / 100})
        dialog.deleteLater()

    def refresh(self) -> None:
        data = self.session.dataset
        self.preview.clear()
        if data is None:
            return
        train, val = self.session.train_set, self.session.val_set
        classes = f", {data.n_classes} classes" if data.task == "classification" else ""
        self.summary.setText(
            f"<b>{data.name or self.document.spec.data.get('source', 'data')}</b>: {len(data)} samples of shape "
            f"{tuple(data.x.shape[1:])}, {data.task}{classes}; {len(train)} for training, "
            f"{len(val)} for validation.")
        if data.x.ndim == 2 and data.x.shape[1] in (1, 2):
            plot = self.preview.addPlot()
            if data.x.shape[1] == 2:
                colours = class_brushes(class_indices(np.asarray(data.y))) \
                    if data.task == "classification" else pg.mkBrush("#3b82f6")
                plot.addItem(pg.ScatterPlotItem(data.x[:, 0], data.x[:, 1], size=5, brush=colours))
            else:
                plot.addItem(pg.ScatterPlotItem(data.x[:, 0], np.asarray(data.y).reshape(len(data.y), -1)[:, 0],
                                                size=4, brush=pg.mkBrush("#3b82f6")))
        elif (shape := image_shape(tuple(data.x.shape[1:]))) is not None:
            image, captions = mosaic_view(self.preview.addViewBox())
            shown = range(min(THUMBNAILS, len(data)))
            texts = [str(c) for c in class_indices(np.asarray(data.y)[:len(shown)])] \
                if data.task == "classification" else None
            show_mosaic(image, [grey(data.x[i].reshape(shape)) for i in shown], shape, THUMBNAILS, captions, texts)
