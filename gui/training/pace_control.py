"""The pace of training, to watch it learn: "As fast as it goes" or a chosen number of optimizer
steps a second, on the toolbar beside the run buttons, and "Train until stopped" on the Train menu.

Both are the document's training settings (`pace`, `until_stopped`: saved with the file, each
change one undo entry). A pace chosen while a run goes on reaches it at once through the run's
TrainingControl (the training thread waits for each step's turn; nothing sleeps here).
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMainWindow, QWidget

from gui.actions import menu_action
from gui.training.session import IDLE, TrainingSession

PACES = (1.0, 10.0, 30.0, 100.0, 300.0, 1000.0)  # steps a second offered besides "as fast as it goes"
FAST = "As fast as it goes"


def pace_text(pace: float | None) -> str:
    """'As fast as it goes', '1 step/s', '30 steps/s', '2.5 steps/s'."""
    if pace is None:
        return FAST
    return f"{pace:g} step/s" if pace == 1 else f"{pace:g} steps/s"


class PaceControl(QObject):
    """The pace box and the until-stopped action of `window` (a MainWindow: its document,
    session, toolbar and Train menu)."""

    def __init__(self, window: QMainWindow, session: TrainingSession, toolbar, train_menu):
        super().__init__(window)
        self.document, self.session = session.document, session
        self.label = QLabel(" Pace ")
        self.combo = QComboBox()
        self.combo.setToolTip(
            "How fast training runs: as fast as it goes, or a chosen number of optimizer steps "
            "a second to watch the network learn (changes take effect at once, even while it runs)"
        )
        self.combo.setAccessibleName("Training pace")
        self.combo.activated.connect(self._chosen)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.combo)
        toolbar.addWidget(box).setText("Training pace")
        train_menu.addSeparator()
        self.until_stopped = menu_action(
            train_menu,
            "Train &until stopped",
            "Keep training past the epoch count until Stop is pressed (the epochs then only set "
            "the learning-rate schedule's length)",
            window,
            checkable=True,
        )
        self.until_stopped.toggled.connect(self._until_stopped_toggled)
        self.document.settings_changed.connect(self.refresh)
        self.document.document_reset.connect(self.refresh)
        self.refresh()

    @property
    def pace(self) -> float | None:
        """The document's pace (steps a second), None as fast as it goes."""
        return self.document.network.training.pace

    def refresh(self) -> None:
        """Show the document's settings; a running run takes a changed pace at once."""
        pace = self.pace
        self.combo.blockSignals(True)
        self.combo.clear()
        choices = sorted({*PACES, *([pace] if pace is not None else [])})
        self.combo.addItem(FAST, None)
        for value in choices:
            self.combo.addItem(pace_text(value), value)
        self.combo.setCurrentIndex(self.combo.findData(pace) if pace is not None else 0)
        self.combo.blockSignals(False)
        self.until_stopped.blockSignals(True)
        self.until_stopped.setChecked(bool(self.document.network.training.until_stopped))
        self.until_stopped.blockSignals(False)
        control = self.session.control
        if self.session.state != IDLE and control is not None and control.pace != pace:
            control.set_pace(pace)

    def choose(self, pace: float | None) -> None:
        """Set the pace (None: as fast as it goes) as one undoable settings edit."""
        if pace != self.pace:
            self._set("pace", pace)

    def _chosen(self, index: int) -> None:
        self.choose(self.combo.itemData(index))

    def _until_stopped_toggled(self, on: bool) -> None:
        self._set("until_stopped", on)

    def _set(self, key: str, value: Any) -> None:
        training = copy.deepcopy(self.document.spec.training)
        if value is None or value is False:
            training.pop(key, None)  # the default
        else:
            training[key] = value
        self.document.set_training(training)
