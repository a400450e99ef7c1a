"""The CSV import dialog: a preview of the file's first rows, then the target column, the feature
columns, the task and whether to standardise."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

PREVIEW_ROWS = 20


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
        self.standardize = QCheckBox(
            "Standardise features (zero mean, unit variance; stored with the network)"
        )
        self.standardize.setChecked(True)
        form = QFormLayout()
        form.addRow("Target column", self.target)
        form.addRow("Feature columns", self.features)
        form.addRow("Task", self.task)
        form.addRow("", self.standardize)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table, 1)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def config(self) -> dict:
        target = self.target.currentText()
        features = [
            self.features.item(i).text()
            for i in range(self.features.count())
            if self.features.item(i).checkState() == Qt.CheckState.Checked
            and self.features.item(i).text() != target
        ]
        return {
            "source": "csv",
            "path": str(self.path),
            "target": target,
            "features": features,
            "task": self.task.currentText(),
            "standardize": self.standardize.isChecked(),
        }


def read_preview(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows of a CSV file, as text (errors become one-line messages)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [row for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)]
    return header, rows
