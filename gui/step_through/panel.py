"""StepThroughPanel: one sample walked through the document's network, forward, loss, backward
and one gradient step, with ◂ Back / Forward ▸.

The panel follows the document: a new or opened file (`document_reset`) or other data forgets the
sample ("pick a sample"); an edit, Undo/Redo, a finished run or a changed setting traces the same
sample again through the network as it is now, so it never shows a network that is gone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.losses import get_loss
from engine.trace import step_weights
from gui.step_through import walk
from gui.step_through.apply_step import apply_gradient_step
from gui.step_through.bars import OutputBars
from gui.step_through.matrices import MatrixProduct
from gui.step_through.sample_table import SampleTable
from gui.step_through.views import StepView, Walk, show_step
from gui.training.session import TrainingSession

PICK_TEXT = (
    "Pick a sample: click a point on the Boundary plot or the Data tab's scatter, or an image in "
    "the Data tab or among the misclassified digits (Results tab)."
)
SPLIT_NAMES = {"train": "training", "validation": "validation", "all": "data set"}


class StepThroughPanel(QWidget):
    step_shown = Signal(object)  # the StepView drawn (None: the empty state), for the canvas marks

    def __init__(self, session: TrainingSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.document = session.document
        self.sample: tuple[int, str] | None = None  # (index, split) of the sample picked
        self.walk: Walk | None = None
        self.steps: list[walk.Step] = []
        self.index = 0
        self.view: StepView | None = None
        self.stale = False  # the document changed while the panel was hidden

        self.sample_label = QLabel(PICK_TEXT)
        self.sample_label.setWordWrap(True)
        self.table = SampleTable()
        self.table.setMaximumHeight(180)
        self.table.hide()
        self.table.sample_picked.connect(self.show_sample)
        self.table_button = QPushButton("Samples ▾")
        self.table_button.setCheckable(True)
        self.table_button.setToolTip("List the training samples (a CSV file's rows): click one to walk it")
        self.table_button.toggled.connect(self._show_table)
        self.back = QPushButton("◂ Back")
        self.back.setToolTip("The previous step")
        self.back.clicked.connect(self.step_back)
        self.title = QLabel("")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-weight: bold")
        self.forward = QPushButton("Forward ▸")
        self.forward.setToolTip("The next step")
        self.forward.clicked.connect(self.step_forward)
        self.formula = QLabel("")
        self.formula.setStyleSheet("font-size: 13pt")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.product = MatrixProduct()
        self.product.setToolTip("Red: positive, blue: negative; hover a cell for its value")
        self.product.hovered.connect(self._hovered)
        self.product.row_clicked.connect(self.choose_unit)
        self.bars = OutputBars()
        self.hover = QLabel("")
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.apply = QPushButton("Apply this step")
        self.apply.setToolTip(
            "Put the weights after this gradient step into the network (Undo takes them back)"
        )
        self.apply.clicked.connect(self.apply_step)

        buttons = QHBoxLayout()
        buttons.addWidget(self.back)
        buttons.addWidget(self.title, 1)
        buttons.addWidget(self.forward)
        middle = QHBoxLayout()
        middle.addWidget(self.product, 3)
        middle.addWidget(self.bars, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.detail, 1)
        bottom.addWidget(self.apply, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.sample_label, 1)
        top.addWidget(self.table_button)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.formula)
        layout.addLayout(middle, 1)
        layout.addWidget(self.hover)
        layout.addLayout(bottom)

        doc = self.document
        doc.document_reset.connect(self.forget)
        doc.weights_changed.connect(self.refresh)
        doc.shapes_changed.connect(self.refresh)
        doc.settings_changed.connect(self.refresh)
        session.data_changed.connect(self.forget)
        session.data_changed.connect(lambda: self._show_table(self.table_button.isChecked()))
        self.forget()

    # ---------------------------------------------------------------- inputs
    def show_sample(self, index: int, split: str) -> None:
        """Walk sample `index` of the session's `split` ("train", "validation" or "all"), from
        its first step."""
        self.sample = (int(index), split)
        self.index = 0
        self.refresh()

    def forget(self) -> None:
        """The empty state: no sample (a new document or other data)."""
        self.sample, self.walk, self.steps, self.index = None, None, [], 0
        self._empty(PICK_TEXT)

    def refresh(self) -> None:
        """Trace the picked sample again through the document's network as it is now (when the
        panel is next shown, if it is hidden)."""
        if self.sample is None:
            return
        if not self.isVisible():
            self.stale = True
            return
        self.stale = False
        taken = self._sample()
        if taken is None:
            self.forget()
            return
        x, y = taken
        network = self.document.network
        if self.document.shape_report.problems:
            self._empty(f"Fix the network first: {self.document.shape_report.problems[0].message}")
            return
        try:
            sample, target = self._scaled(x), target_for(network, y)
            trace = network.trace(sample, target)
            stepped = step_weights(network, trace, network.training.learning_rate)
            after = network.trace(sample, target, weights=stepped).loss
        except (NetCanvasError, ValueError) as exc:
            self._empty(f"This sample cannot go through the network: {exc}")
            return
        chosen = self.walk.chosen if self.walk is not None else {}
        self.walk = Walk(
            network, trace, np.asarray(x), y, network.training.learning_rate, stepped, after, chosen
        )
        self.steps = walk.build_steps(trace)
        self.index = min(self.index, len(self.steps) - 1)
        index, split = self.sample
        target = f", target {_target_text(y)}" if y is not None else ""
        self.sample_label.setText(f"Sample {index} of the {SPLIT_NAMES.get(split, split)} set{target}")
        self._render()

    def _sample(self) -> tuple[np.ndarray, Any] | None:
        index, split = self.sample
        session = self.session
        data = {"train": session.train_set, "validation": session.val_set, "all": session.dataset}.get(split)
        if data is None or not 0 <= index < len(data):
            return None
        y = data.y[index] if data.y is not None else None
        return np.asarray(data.x[index]), y

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        """The sample as the network takes it: a network without its own standardizer (not
        trained yet) gets the data's, as training would give it."""
        dataset = self.session.dataset
        if self.document.network.scaler is None and dataset is not None and dataset.scaler is not None:
            return dataset.scaler.transform(x[None])[0]
        return x

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name): catch up with the document
        super().showEvent(event)
        if self.stale:
            self.refresh()

    # --------------------------------------------------------------- actions
    def step_forward(self) -> None:
        if self.index < len(self.steps) - 1:
            self.index += 1
            self._render()

    def step_back(self) -> None:
        if self.index > 0:
            self.index -= 1
            self._render()

    def go_to(self, index: int) -> None:
        if self.steps:
            self.index = max(0, min(index, len(self.steps) - 1))
            self._render()

    def choose_unit(self, unit: int) -> None:
        """Write out unit `unit`'s weighted sum at the forward step shown."""
        step = self.steps[self.index] if self.steps else None
        if step is None or step.kind != walk.FORWARD or self.walk is None:
            return
        self.walk.chosen[step.node.id] = unit
        self._render()

    def apply_step(self) -> None:
        """The weights after the gradient step shown become the network's (one undo entry)."""
        if self.walk is not None:
            apply_gradient_step(self.document, self.walk.stepped, self.walk.learning_rate)

    # ---------------------------------------------------------------- output
    def _render(self) -> None:
        step = self.steps[self.index]
        self.view = show_step(self.walk, step)
        self.title.setText(walk.step_title(self.steps, self.index))
        self.formula.setText(self.view.formula)
        self.detail.setText(self.view.detail)
        self.hover.setText("")
        self.bars.setVisible(self.view.bars is not None)
        if self.view.bars is not None:
            self.bars.show_probabilities(*self.view.bars)
        self.layout().activate()  # (the bars take their room first: the matrices fit what is left)
        self.product.show_terms(self.view.parts)
        self.back.setEnabled(self.index > 0)
        self.forward.setEnabled(self.index < len(self.steps) - 1)
        self.apply.setVisible(step.kind == walk.UPDATE)
        self.step_shown.emit(self.view)

    def _empty(self, text: str) -> None:
        self.walk, self.steps, self.view = None, [], None
        self.sample_label.setText(text)
        self.title.setText("")
        self.formula.setText("")
        self.detail.setText("")
        self.hover.setText("")
        self.product.show_terms([])
        self.bars.hide()
        self.apply.hide()
        self.back.setEnabled(False)
        self.forward.setEnabled(False)
        self.step_shown.emit(None)

    def _show_table(self, shown: bool) -> None:
        """The training samples listed (filled when shown: the data may be large)."""
        self.table.setVisible(shown)
        self.table.show_data(self.session.train_set if shown else None)

    def _hovered(self, text: str) -> None:
        self.hover.setText(text)


def target_for(network: Any, y: Any) -> Any:
    """The trace's target from a data set's label: a class index for a sparse loss, else an array
    shaped like the output (a class index becomes a one-hot row for a several-unit output)."""
    loss = get_loss(network.training.loss.type, **network.training.loss.params)
    if loss.target == "index":
        return int(np.asarray(y).reshape(-1)[0])
    shape = network.model.output_shape
    t = np.asarray(y, np.float64)
    size = int(np.prod(shape))
    if t.size == size:
        return t.reshape(shape)
    if t.size == 1 and size > 1:
        onehot = np.zeros(size)
        onehot[int(t.reshape(-1)[0])] = 1.0
        return onehot.reshape(shape)
    return t


def _target_text(y: Any) -> str:
    t = np.asarray(y).reshape(-1)
    return (
        walk.num(t[0])
        if t.size == 1 and not np.issubdtype(t.dtype, np.integer)
        else (str(int(t[0])) if t.size == 1 else str(int(t.argmax())))
    )
