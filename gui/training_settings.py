"""The inspector page shown when nothing is selected: training and data settings.

Loss, optimizer and schedule are a registry choice plus that entry's own parameters; then the
TRAINING_SPECS loop settings, early stopping (off / on with EARLY_STOPPING_SPECS) and the data
source (a synthetic set with its parameters, or an MNIST folder / CSV / NPZ file) with its
validation split. Every edit replaces the section through `document.set_training` /
`document.set_data`, so it is one undo entry.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.data import source_names
from engine.errors import NetCanvasError
from engine.registry import DATASETS, LOSSES, OPTIMIZERS, SCHEDULES, ParamSpec, Registry
from engine.training_config import EARLY_STOPPING_SPECS, TRAINING_SPECS
from gui.document import NetworkDocument
from gui.param_editors import SpecForm
from gui.theme import ERROR_COLOR, hint_color

NO_DATA = "(none)"
VAL_SPLIT = ParamSpec("val_split", "float", 0.2, "Fraction of the samples kept aside for validation",
                      minimum=0.0, maximum=0.95)
SPLIT_SEED = ParamSpec("seed", "int", 0, "Seed of the train/validation split", minimum=0, maximum=2**31 - 1)
FILE_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    "mnist": (ParamSpec("path", "str", "", "Folder holding the four MNIST IDX files"),),
    "npz": (ParamSpec("path", "str", "", "NPZ file with arrays x and y"),),
    "csv": (
        ParamSpec("path", "str", "", "CSV file with a header row"),
        ParamSpec("target", "str", None, "Column to predict (empty = the last column)", optional=True),
        ParamSpec("task", "choice", "auto", "Classification or regression (auto = guess from the target)",
                  choices=("auto", "classification", "regression")),
        ParamSpec("standardize", "bool", True, "Scale the features to mean 0 and variance 1"),
    ),
}
_FILE_FILTERS = {"csv": "CSV files (*.csv);;All files (*)", "npz": "NumPy archives (*.npz);;All files (*)"}


class TypedChoiceBox(QGroupBox):
    """A registry choice (loss, optimizer, schedule) and the chosen entry's own parameters."""

    changed = Signal(dict)  # the new {"type": name, **params}

    def __init__(self, title: str, registry: Registry[Any], tooltip: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        self.registry = registry
        self.value: dict[str, Any] = {}
        self.combo = QComboBox()
        self.combo.addItems(registry.names())
        self.combo.setToolTip(tooltip)
        self.combo.currentTextChanged.connect(self._type_chosen)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.hide()
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.combo)
        self.layout_.addWidget(self.about)
        self.layout_.addWidget(self.error)
        self.form: SpecForm | None = None

    def set_value(self, value: dict[str, Any]) -> None:
        """Show `value` without emitting; rebuilds the parameter editors if the type changed."""
        value = copy.deepcopy(value)
        name = value["type"]
        if self.form is None or self.value.get("type") != name:
            self.combo.blockSignals(True)
            self.combo.setCurrentText(name)
            self.combo.blockSignals(False)
            if self.form is not None:
                self.layout_.removeWidget(self.form)
                self.form.deleteLater()
            entry = self.registry.get(name)
            self.form = SpecForm(entry.param_specs)
            self.form.committed.connect(self._param_committed)
            self.layout_.addWidget(self.form)
            self.about.setText(self.describe(entry))
            self.about.setToolTip(getattr(entry, "description", ""))
        self.value = value
        self.form.set_values({k: v for k, v in value.items() if k != "type"})
        self.error.hide()

    def describe(self, entry: Any) -> str:
        muted = hint_color(self.palette())
        parts = [getattr(entry, "description", "")]
        if getattr(entry, "formula", ""):
            parts.append(f"<code>{entry.formula}</code>")
        if getattr(entry, "when_to_use", ""):
            parts.append(f"<i>When to use:</i> {entry.when_to_use}")
        return f"<span style='color:{muted}'>" + "<br>".join(p for p in parts if p) + "</span>"

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _type_chosen(self, name: str) -> None:
        new: dict[str, Any] = {"type": name}
        specs = {s.name for s in self.registry.get(name).param_specs}
        for key, val in self.value.items():  # keep shared settings such as learning_rate
            if key != "type" and key in specs:
                new[key] = val
        self.changed.emit(new)

    def _param_committed(self, name: str, value: Any) -> None:
        new = dict(self.value)
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
        self.changed.emit(new)


class TrainingSettingsPage(QWidget):
    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        title = QLabel("<span style='font-size:13pt; font-weight:600'>Training settings</span>")
        intro = QLabel("How the network learns and from which data. Select a layer on the canvas to "
                       "edit it instead.")
        intro.setWordWrap(True)
        intro.setStyleSheet(f"color: {hint_color(self.palette())};")
        layout.addWidget(title)
        layout.addWidget(intro)
        self.boxes: dict[str, TypedChoiceBox] = {}
        for key, title_text, registry, tip in (
            ("loss", "Loss", LOSSES, "What the training minimizes"),
            ("optimizer", "Optimizer", OPTIMIZERS, "How the weights are updated from the gradients"),
            ("schedule", "Learning-rate schedule", SCHEDULES, "How the learning rate changes per epoch"),
        ):
            box = TypedChoiceBox(title_text, registry, tip)
            box.changed.connect(lambda value, key=key: self._set_training(key, value))
            self.boxes[key] = box
            layout.addWidget(box)
        loop = QGroupBox("Training loop")
        self.loop_form = SpecForm(TRAINING_SPECS)
        self.loop_form.committed.connect(lambda name, value: self._set_training(name, value))
        QVBoxLayout(loop).addWidget(self.loop_form)
        layout.addWidget(loop)

        early = QGroupBox("Early stopping")
        self.early_check = QCheckBox("Stop when the monitored loss stops improving")
        self.early_check.setToolTip("Off: train for all epochs. On: stop after 'patience' epochs "
                                    "without improvement")
        self.early_check.toggled.connect(self._early_toggled)
        self.early_form = SpecForm(EARLY_STOPPING_SPECS)
        self.early_form.committed.connect(self._early_committed)
        early_layout = QVBoxLayout(early)
        early_layout.addWidget(self.early_check)
        early_layout.addWidget(self.early_form)
        layout.addWidget(early)

        data = QGroupBox("Data")
        self.data_layout = QVBoxLayout(data)
        self.source = QComboBox()
        self.source.addItems([NO_DATA, *source_names()])
        self.source.setToolTip("Where the training samples come from: a synthetic set or a file")
        self.source.currentTextChanged.connect(self._source_chosen)
        source_row = QFormLayout()
        source_row.addRow("Source", self.source)
        self.data_layout.addLayout(source_row)
        self.data_about = QLabel()
        self.data_about.setWordWrap(True)
        self.data_layout.addWidget(self.data_about)
        self.data_form: SpecForm | None = None
        self.data_source: str | None = None
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.hide()
        layout.addWidget(data)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.refresh()

    # ---------------------------------------------------------------- refresh
    def refresh(self) -> None:
        training = self.document.spec.training
        for key, box in self.boxes.items():
            box.set_value(training[key])
        self.loop_form.set_values(training)
        early = training.get("early_stopping")
        self.early_check.blockSignals(True)
        self.early_check.setChecked(early is not None)
        self.early_check.blockSignals(False)
        self.early_form.set_values(early or {})
        self.early_form.setEnabled(early is not None)
        self._show_data(self.document.spec.data)
        self.error.hide()

    def _show_data(self, data: dict[str, Any]) -> None:
        source = data.get("source") or NO_DATA
        if source != self.data_source:
            self.source.blockSignals(True)
            self.source.setCurrentText(source)
            self.source.blockSignals(False)
            if self.data_form is not None:
                self.data_layout.removeWidget(self.data_form)
                self.data_form.deleteLater()
                self.data_form = None
            self.data_source = source
            self.data_about.setText(self._data_description(source))
            if source != NO_DATA:
                if source in DATASETS:
                    specs = (*DATASETS.get(source).param_specs, VAL_SPLIT)
                else:
                    specs = (*FILE_SPECS[source], VAL_SPLIT, SPLIT_SEED)
                self.data_form = SpecForm(specs)
                self.data_form.committed.connect(self._data_committed)
                if "path" in self.data_form.fields:
                    browse = QPushButton("Browse…")
                    browse.setToolTip("Choose the file or folder")
                    browse.clicked.connect(self._browse)
                    self.data_form.fields["path"].row.addWidget(browse)
                self.data_layout.addWidget(self.data_form)
        if self.data_form is not None:
            self.data_form.set_values(data)

    def _data_description(self, source: str) -> str:
        if source == NO_DATA:
            text = "No data chosen: pick a synthetic set or a file to train on."
        elif source in DATASETS:
            entry = DATASETS.get(source)
            text = f"{entry.description} ({entry.group})" if getattr(entry, "group", "") else entry.description
        else:
            text = {"mnist": "Handwritten digits (28×28 images) from the MNIST IDX files.",
                    "csv": "A table: one row per sample, the target in one column.",
                    "npz": "A NumPy archive with arrays x (samples) and y (targets)."}[source]
        return f"<span style='color:{hint_color(self.palette())}'>{text}</span>"

    # ------------------------------------------------------------------ edits
    def _set_training(self, key: str, value: Any) -> None:
        training = copy.deepcopy(self.document.spec.training)
        if value is None:
            training.pop(key, None)
        else:
            training[key] = value
        self._apply(lambda: self.document.set_training(training), key)

    def _early_toggled(self, on: bool) -> None:
        value = {s.name: s.default for s in EARLY_STOPPING_SPECS} if on else None
        self._set_training("early_stopping", value)

    def _early_committed(self, name: str, value: Any) -> None:
        early = dict(self.document.spec.training.get("early_stopping") or {})
        early[name] = value
        self._set_training("early_stopping", early)

    def _source_chosen(self, source: str) -> None:
        old = self.document.spec.data
        new: dict[str, Any] = {} if source == NO_DATA else {"source": source}
        if new and "val_split" in old:
            new["val_split"] = old["val_split"]
        self._apply(lambda: self.document.set_data(new), "data")

    def _data_committed(self, name: str, value: Any) -> None:
        data = dict(self.document.spec.data)
        if value is None or value == "":
            data.pop(name, None)
        else:
            data[name] = value
        self._apply(lambda: self.document.set_data(data), "data")

    def _browse(self) -> None:
        source = self.data_source
        start = str(self.document.path.parent) if self.document.path else str(Path.home())
        if source == "mnist":
            path = QFileDialog.getExistingDirectory(self, "Folder with the MNIST files", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose the {source} file", start,
                                                  _FILE_FILTERS.get(source or "", "All files (*)"))
        if not path:
            return
        if self.document.path is not None:
            base = self.document.path.parent
            if Path(path).resolve().is_relative_to(base.resolve()):
                path = os.path.relpath(path, base)  # files next to the network move with it
        self._data_committed("path", path)

    def _apply(self, edit: Any, what: str) -> None:
        try:
            edit()
        except NetCanvasError as exc:
            self.error.setText(f"Not applied ({what}): {exc}")
            self.error.show()
            self.refresh()
            self.error.show()
