"""The window's training controls: Train-Resume (F5) / Pause (F6, checked while paused) / Step /
Step epoch / Stop / Reset weights on the Train menu and toolbar, the progress bar, samples/s and
ETA in the status bar, the data-does-not-fit question with its fix, and live learning-rate /
regularisation changes."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QProgressBar

from engine.data_fit import FitProblem
from gui import errors
from gui.training.session import IDLE, PAUSED, RUNNING, TrainingSession
from gui.training.worker import TrainingProgress, TrainingResult

REGULARIZATION_KEYS = ("kernel_l1", "kernel_l2")
TRAIN_TIP = "Train the network on its data, from its current weights"
RESUME_TIP = "Resume the paused training"
STATUS_HZ = 5.0
MAX_FIXES = 4  # data-fit fixes offered in a row before training (Input, output, ...)


class TrainingControls:
    def __init__(self, window: QMainWindow, session: TrainingSession, canvas, palette, train_menu, toolbar):
        self.window, self.session, self.canvas, self.palette = window, session, canvas, palette
        self.document = session.document
        self._last_lr = self.document.network.training.learning_rate
        self._last_status = 0.0
        # Progress arriving faster than STATUS_HZ is shown when the interval ends, so the bar
        # never stays on an early batch when a fast run pauses or stops just after it.
        self._latest: TrainingProgress | None = None
        self._status_timer = QTimer(window)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(self._show_latest)

        def make(text: str, slot, shortcut: str, tip: str) -> QAction:
            action = QAction(text, window)
            action.triggered.connect(slot)
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{tip} ({shortcut})")
            action.setStatusTip(tip)
            window.addAction(action)  # (the Keyboard Shortcuts window lists the window's actions)
            return action

        self.train = make("&Train", self.start, "F5", TRAIN_TIP)
        self.train.setProperty("shortcut_name", "Train / Resume")  # its text follows the state
        self.pause = make(
            "&Pause", self.toggle_pause, "F6", "Pause training after the current batch, or resume it"
        )
        self.pause.setCheckable(True)  # shown pressed while paused
        self.step = make("Step one &batch", self.step_batch, "F10", "Run exactly one batch, then pause")
        self.step_epoch = make(
            "Step one &epoch", self.step_one_epoch, "Shift+F10", "Run one whole epoch, then pause"
        )
        self.stop = make(
            "&Stop", session.stop, "Shift+F5", "Stop training after the current batch; keep what was learned"
        )
        self.reset = make(
            "&Reset weights",
            self.reset_weights,
            "Ctrl+Shift+R",
            "Fresh initial weights from the seed; forgets the history",
        )
        self.actions = [self.train, self.pause, self.step, self.step_epoch, self.stop, self.reset]
        train_menu.addSeparator()
        for action in self.actions:
            train_menu.addAction(action)
        toolbar.addSeparator()
        for action in self.actions[:5]:
            toolbar.addAction(action)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setToolTip("Progress of this training run")
        self.epoch_progress = QProgressBar()
        self.epoch_progress.setMaximumWidth(120)
        self.epoch_progress.setToolTip("Progress through the current epoch's batches")
        self.epoch_progress.setFormat("batch %v / %m")
        self.rate = QLabel()
        self.rate.setToolTip("Training speed and estimated time left")
        status = window.statusBar()
        status.addPermanentWidget(self.rate)
        status.addPermanentWidget(self.epoch_progress)
        status.addPermanentWidget(self.progress)
        self.progress.hide()
        self.epoch_progress.hide()

        self._after_data: Callable[[], None] | None = None  # the action waiting for a background read
        session.preload_finished.connect(self._data_settled)
        self.document.document_reset.connect(self._forget_waiting_action)
        session.state_changed.connect(self._state_changed)
        session.run_started.connect(self._run_started)
        session.progressed.connect(self._progressed)
        session.finished.connect(self._finished)
        self.document.settings_changed.connect(self._settings_changed)
        self.document.node_changed.connect(self._node_changed)
        self._state_changed(IDLE)

    # --------------------------------------------------------------- actions
    def _ready(self) -> bool:
        """Load the data and, while it does not fit the network, offer each fix (checked again
        after each: an Input fix can reveal an output one). False to cancel."""
        problem = self.session.load_data()
        if problem:
            errors.show_error(self.window, "Data", problem)
            return False
        for _ in range(MAX_FIXES):
            problems = self.session.fit_problems()
            if not problems:
                return True
            if not self._offer_fix(problems[0]):
                return False
        return not self.session.fit_problems()

    def _offer_fix(self, fit: FitProblem) -> bool:
        """Ask whether to apply the fix of `fit`; apply it as one undo entry. False: cancelled."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Data and network disagree",
            f"{fit.message[0].upper()}{fit.message[1:]}.",
            parent=self.window,
        )
        if fit.fix:
            box.setInformativeText(
                "The fix is applied as one step (Edit > Undo takes it back), then "
                "training starts. Cancel leaves the network as it is."
            )
        fix = box.addButton(fit.fix.label, QMessageBox.ButtonRole.AcceptRole) if fit.fix else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if fix is None or box.clickedButton() is not fix:
            return False
        stack = self.document.undo_stack
        stack.beginMacro(fit.fix.label)  # units, activation and loss only work together: one Undo
        try:
            for node_id, params in fit.fix.node_params.items():
                self.document.set_node_params(node_id, params)
            if fit.fix.loss is not None:
                self.document.set_training(fit.fix.training_section(self.document.spec.training))
        finally:
            stack.endMacro()
        return True

    def _report(self, problem: str | None) -> None:
        if problem:
            errors.show_error(self.window, "Cannot train", problem)

    def _wait_for_data(self, action: Callable[[], None]) -> bool:
        """True when the data is still being read in the background: `action` then runs once it
        is in, instead of reading it again here and freezing the window (MNIST: ~1.3 s)."""
        if self.session.state != IDLE or not self.session.data_pending():
            return False
        self._after_data = action
        self.window.statusBar().showMessage("Reading the data… training starts as soon as it is in")
        return True

    def _data_settled(self) -> None:
        action = self._after_data
        if action is None or self.session.data_pending():  # (another read for newer settings runs)
            return
        self._after_data = None
        self.window.statusBar().clearMessage()
        action()

    def _forget_waiting_action(self) -> None:
        self._after_data = None  # a Train pressed for the previous file does not start this one

    def start(self) -> None:
        """Train (F5); while a run is paused, the same action and key resume it."""
        if self.session.state == PAUSED:
            self.session.resume()
        elif self.session.state == IDLE and not self._wait_for_data(self.start) and self._ready():
            self._report(self.session.start())

    def toggle_pause(self) -> None:
        if self.session.state == RUNNING:
            self.session.pause()
        elif self.session.state == PAUSED:
            self.session.resume()

    def step_batch(self) -> None:
        if self._wait_for_data(self.step_batch):
            return
        if self.session.state != IDLE or self._ready():
            self._report(self.session.step(1))

    def step_one_epoch(self) -> None:
        if self._wait_for_data(self.step_one_epoch):
            return
        if self.session.state != IDLE or self._ready():
            self._report(self.session.step_epoch())

    def reset_weights(self) -> None:
        self.session.reset_weights()
        self.window.statusBar().showMessage("Weights reset to fresh initial values", 4000)

    # ----------------------------------------------------------- live edits
    def _run_started(self, _info: dict) -> None:
        # A run starts at the document's learning rate; only changes after this are live edits
        # (opening a file changes it without a settings signal).
        self._last_lr = self.document.network.training.learning_rate

    def _settings_changed(self) -> None:
        lr = self.document.network.training.learning_rate
        if self.session.state != IDLE and lr != self._last_lr:
            self.session.set_learning_rate(lr)
        self._last_lr = lr

    def _node_changed(self, node_id: str) -> None:
        if self.session.state == IDLE or node_id not in self.document.spec.nodes:
            return
        params = self.document.spec.nodes[node_id].params
        values = {k: float(params[k]) for k in REGULARIZATION_KEYS if k in params}
        if values:
            self.session.set_regularization(node_id, values)

    # ---------------------------------------------------------------- status
    def _state_changed(self, state: str) -> None:
        idle, paused = state == IDLE, state == PAUSED
        self.train.setEnabled(idle or paused)
        self.train.setText("&Resume" if paused else "&Train")
        tip = RESUME_TIP if paused else TRAIN_TIP
        self.train.setToolTip(f"{tip} (F5)")
        self.train.setStatusTip(tip)
        self.pause.setEnabled(not idle)
        self.pause.setChecked(paused)
        self.stop.setEnabled(not idle)
        self.reset.setEnabled(idle)
        # The structure is fixed while a run uses it; settings stay editable (learning rate live).
        self.canvas.setInteractive(idle)
        self.palette.setEnabled(idle)
        self.progress.setVisible(not idle)
        self.epoch_progress.setVisible(not idle)
        if idle:
            self._status_timer.stop()
            self._latest = None
            self.rate.clear()

    def _progressed(self, p: TrainingProgress) -> None:
        self._latest = p
        wait = self._last_status + 1.0 / STATUS_HZ - time.monotonic()
        if wait > 0:  # the status bar needs no 30 Hz relayout
            if not self._status_timer.isActive():
                self._status_timer.start(int(1000 * wait) + 1)
            return
        self._show_latest()

    def _show_latest(self) -> None:
        p, self._latest = self._latest, None
        if p is None:
            return
        self._last_status = time.monotonic()
        # QProgressBar.setValue repaints at once (~1.8 ms, the GIL held: the training thread
        # waits). With updates off, the bars are painted with the next frame, by the event loop,
        # which runs Qt's own painting without the GIL.
        status = self.window.statusBar()
        status.setUpdatesEnabled(False)
        done = p.epoch * p.batches_per_epoch + p.batch + 1
        until_stopped = p.epochs == 0
        self.progress.setRange(0, p.batches_per_epoch if until_stopped else p.epochs * p.batches_per_epoch)
        self.progress.setValue(p.batch + 1 if until_stopped else done)
        self.progress.setFormat(
            f"epoch {p.epoch + 1}" + (" · until Stop" if until_stopped else f" / {p.epochs}")
        )
        self.epoch_progress.setRange(0, p.batches_per_epoch)
        self.epoch_progress.setValue(p.batch + 1)
        left = p.epochs * p.batches_per_epoch - done
        samples_per_batch = self.document.network.training.batch_size
        eta = left * samples_per_batch / p.samples_per_second if p.samples_per_second > 0 else 0.0
        steps = p.samples_per_second / samples_per_batch
        self.rate.setText(
            f"{steps:,.0f} steps/s · {p.samples_per_second:,.0f} samples/s"
            + ("" if until_stopped else f" · ETA {_duration(eta)}")
            + f" · lr {p.learning_rate:.3g}"
        )
        status.setUpdatesEnabled(True)

    def _finished(self, result: TrainingResult) -> None:
        messages = {
            "finished": "Training finished",
            "stopped": "Training stopped",
            "early stopping": "Training stopped early: the monitored value stopped improving",
            "diverged": "Training diverged: weights restored",
            "failed": "Training failed",
        }
        loss = result.history_epochs.get("val_loss") or result.history_epochs.get("loss") or []
        tail = f" · loss {loss[-1]:.4g}" if loss else ""
        self.window.statusBar().showMessage(messages.get(result.reason, result.reason) + tail, 8000)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
