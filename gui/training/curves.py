"""Loss and metric curves: per batch (smoothed) and per epoch, train and validation.

Numbers arrive into buffers (`add_batches`, `add_epoch`); `redraw()` is called by the panel's
timer, so the plots are redrawn at most 25 times a second however fast training goes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from engine.trainer import History

TRAIN_PEN = pg.mkPen("#3b82f6", width=2)
VAL_PEN = pg.mkPen("#f97316", width=2)
BATCH_PEN = pg.mkPen((59, 130, 246, 90), width=1)
SMOOTHING = 0.9  # exponential moving average of the batch losses


class CurvesView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.batch_steps: list[float] = []
        self.smoothed: list[float] = []
        self.epoch_logs: dict[str, list[float]] = {}
        self.epoch_steps: list[float] = []
        self.marks: list[tuple[int, str]] = []
        self._drawn_marks = 0
        self.dirty = False

        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "step (batches)")
        self.loss_plot.addLegend(offset=(-10, 10))
        # Tens of thousands of batch points: draw only what is in view, thinned to the pixels.
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.loss_plot.setClipToView(True)
        self.batch_curve = self.loss_plot.plot([], [], pen=BATCH_PEN, name="train (batch, smoothed)")
        self.train_curve = self.loss_plot.plot([], [], pen=TRAIN_PEN, name="train (epoch)")
        self.val_curve = self.loss_plot.plot([], [], pen=VAL_PEN, name="validation")
        self.metric_plot = pg.PlotWidget(title="Metric")
        self.metric_plot.setLabel("bottom", "epoch")
        self.metric_plot.addLegend(offset=(-10, 10))
        self.metric_train = self.metric_plot.plot([], [], pen=TRAIN_PEN, name="train")
        self.metric_val = self.metric_plot.plot([], [], pen=VAL_PEN, name="validation")
        self.log_scale = QCheckBox("Log-scale loss")
        self.log_scale.setToolTip("Show the loss on a logarithmic axis (small changes late in training stay visible)")
        self.log_scale.toggled.connect(lambda on: self.loss_plot.setLogMode(y=on))

        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot, 3)
        plots.addWidget(self.metric_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(plots)
        layout.addWidget(self.log_scale)

    @property
    def metric_name(self) -> str | None:
        names = [k for k in self.epoch_logs if k not in ("loss", "lr") and not k.startswith("val_")]
        return names[0] if names else None

    def load_history(self, history: History) -> None:
        """Show a network's saved history (e.g. a reopened trained file)."""
        stride = history.batch_stride
        self.batch_steps = [float(i * stride) for i in range(len(history.batch_losses))]
        self.smoothed = []
        self._smooth(history.batch_losses)
        self.epoch_logs = {k: list(v) for k, v in history.epochs.items()}
        count = len(self.epoch_logs.get("loss", []))
        per_epoch = history.steps / count if count else 0
        self.epoch_steps = [per_epoch * (i + 1) for i in range(count)]
        self.marks, self._drawn_marks = [], 0
        for item in list(self.loss_plot.items()):
            if isinstance(item, pg.InfiniteLine):
                self.loss_plot.removeItem(item)
        self.dirty = True
        self.redraw()

    def add_batches(self, first_step: int, losses: np.ndarray) -> None:
        self.batch_steps.extend(float(first_step + i) for i in range(len(losses)))
        self._smooth(losses)
        self.dirty = True

    def _smooth(self, losses) -> None:
        """Exponential moving average, extended as batches arrive (non-finite values skipped)."""
        acc = self.smoothed[-1] if self.smoothed else None
        for value in losses:
            value = float(value)
            if np.isfinite(value):
                acc = value if acc is None else SMOOTHING * acc + (1 - SMOOTHING) * value
            self.smoothed.append(acc if acc is not None else float("nan"))

    def add_epoch(self, logs: dict[str, float], step: int) -> None:
        for key, value in logs.items():
            self.epoch_logs.setdefault(key, []).append(float(value))
        self.epoch_steps.append(float(step))
        self.dirty = True

    def mark(self, step: int, text: str) -> None:
        """A vertical line where a setting was changed during training."""
        self.marks.append((step, text))
        self.dirty = True

    def redraw(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        if self.smoothed:
            self.batch_curve.setData(self.batch_steps, self.smoothed)
        count = len(self.epoch_logs.get("loss", []))
        steps = self.epoch_steps[-count:] if count else []
        self.train_curve.setData(steps, self.epoch_logs.get("loss", []))
        val = self.epoch_logs.get("val_loss", [])
        self.val_curve.setData(steps[-len(val):] if val else [], val)
        metric = self.metric_name
        if metric:
            self.metric_plot.setTitle(metric.replace("_", " "))
            train = self.epoch_logs.get(metric, [])
            self.metric_train.setData(np.arange(1, len(train) + 1), train)
            val = self.epoch_logs.get(f"val_{metric}", [])
            self.metric_val.setData(np.arange(len(train) - len(val) + 1, len(train) + 1), val)
        for step, text in self.marks[self._drawn_marks:]:
            line = pg.InfiniteLine(pos=step, angle=90, pen=pg.mkPen("#a855f7", style=pg.QtCore.Qt.PenStyle.DashLine),
                                   label=text, labelOpts={"position": 0.85, "color": "#a855f7"})
            self.loss_plot.addItem(line)
        self._drawn_marks = len(self.marks)

    def table(self) -> tuple[list[str], list[list[float]]]:
        """Per-epoch numbers as CSV columns."""
        keys = list(self.epoch_logs)
        rows = [[i + 1] + [self.epoch_logs[k][i] if i < len(self.epoch_logs[k]) else float("nan") for k in keys]
                for i in range(len(self.epoch_logs.get("loss", [])))]
        return ["epoch", *keys], rows

