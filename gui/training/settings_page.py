"""The inspector page shown when nothing is selected: training and data settings.

Loss, optimizer and schedule are a registry choice plus that entry's own parameters; then the
TRAINING_SPECS loop settings and early stopping (off / on with EARLY_STOPPING_SPECS). Every edit
replaces the section through `document.set_training`, so it is one undo entry. The data is chosen
in one place, the Data tab: this page only names it, with a button that opens that tab.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.registry import LOSSES, OPTIMIZERS, SCHEDULES, Registry
from engine.training.config import EARLY_STOPPING_SPECS, TRAINING_SPECS
from gui.document import NetworkDocument
from gui.param_editors import SpecForm
from gui.theme import ERROR_COLOR, hint_color


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
        intro = QLabel(
            "How the network learns and from which data. Select a layer on the canvas to edit it instead."
        )
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
        self.early_check.setToolTip(
            "Off: train for all epochs. On: stop after 'patience' epochs without improvement"
        )
        self.early_check.toggled.connect(self._early_toggled)
        self.early_form = SpecForm(EARLY_STOPPING_SPECS)
        self.early_form.committed.connect(self._early_committed)
        early_layout = QVBoxLayout(early)
        early_layout.addWidget(self.early_check)
        early_layout.addWidget(self.early_form)
        layout.addWidget(early)

        data = QGroupBox("Data")
        self.data_summary = QLabel()
        self.data_summary.setWordWrap(True)
        self.data_button = QPushButton("Choose in the Data tab")
        self.data_button.setToolTip("The data is chosen, previewed and downloaded in the Data tab")
        self.data_button.clicked.connect(self.open_data_tab)
        data_row = QHBoxLayout(data)
        data_row.addWidget(self.data_summary, 1)
        data_row.addWidget(self.data_button)
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
        self.data_summary.setText(data_summary(self.document.spec.data))
        self.error.hide()

    def open_data_tab(self) -> None:
        """Show the window's Data tab (the page knows no window: it looks for the tab in it)."""
        from gui.training.data_panel import DataPanel  # (the panel imports the training views)

        panel = self.window().findChild(DataPanel)
        if panel is not None:
            panel.reveal()

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

    def _apply(self, edit: Any, what: str) -> None:
        try:
            edit()
        except NetCanvasError as exc:
            self.error.setText(f"Not applied ({what}): {exc}")
            self.error.show()
            self.refresh()
            self.error.show()


def data_summary(data: dict[str, Any]) -> str:
    """One line naming the data section: 'spiral: 500 samples, noise 0.1 · validation 20%'."""
    source = data.get("source")
    if not source:
        return "No data chosen yet."
    details = [
        f"{v} samples" if k == "n" else f"{k} {v}"
        for k, v in data.items()
        if k not in ("source", "val_split", "path", "features")
    ]
    if "path" in data:
        details.insert(0, str(data["path"]))
    text = f"<b>{source}</b>" + (f": {', '.join(details)}" if details else "")
    if "val_split" in data and source not in ("mnist", "fashion_mnist"):
        text += f" · validation {float(data['val_split']):.0%}"
    return text
