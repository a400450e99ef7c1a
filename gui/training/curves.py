"""Loss and metric curves: per batch (smoothed) and per epoch, train and validation.

Numbers arrive into buffers (`add_batches`, `add_epoch`); `redraw()` is called by the panel's
timer, so the plots are redrawn at most 25 times a second however fast training goes. The buffers
stay bounded however long training goes: like the network's History, they keep every point up to
a limit, then every other one (a doubled stride), and so on.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from engine.training.callbacks import History
from gui.training.empty_hint import EmptyHint
from gui.training.plot_cache import cache_decorations
from gui.training.plot_style import keep_readable, outside_legend, scroll_when_narrow

# One-pixel pens: Qt draws them on its fast path; wider ones cost a stroker per frame.
TRAIN_PEN = pg.mkPen("#3b82f6", width=1)
VAL_PEN = pg.mkPen("#f97316", width=1)
BATCH_PEN = pg.mkPen((96, 165, 250, 170), width=1)
PREVIOUS_PEN = pg.mkPen((148, 163, 184, 150), width=1)  # the faded previous run
SMOOTHING = 0.9  # exponential moving average of the batch losses
SMOOTH_BLOCK = 256  # 0.9**-256 stays far from overflow
MAX_DRAWN_POINTS = 500  # about one per pixel of a plot; drawing more only costs GUI (GIL) time
MAX_BATCH_POINTS = 4_096  # smoothed batch losses kept (as History keeps its batch losses)
RIGHT_MARGIN = 1.03  # x shown past the run's end, so that the last epoch's dot is not cut in half
MARKED_EPOCHS = 40
"""Epoch curves with at most this many points show a dot on each: after the first epoch a curve
is one point, which a line alone does not draw (the plot stayed empty for a whole epoch)."""


class GrowingArray:
    """A float64 array that grows by appending, with amortised copies (a list of Python floats
    would be converted to an array on every frame)."""

    def __init__(self) -> None:
        self._data = np.empty(1024)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> np.ndarray:
        return self._data[: self._size]

    def extend(self, values: np.ndarray) -> None:
        needed = self._size + len(values)
        if needed > len(self._data):
            grown = np.empty(max(needed, 2 * len(self._data)))
            grown[: self._size] = self.values
            self._data = grown
        self._data[self._size : needed] = values
        self._size = needed

    def clear(self) -> None:
        self._size = 0

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the values where `mask` (as long as the array) is true."""
        kept = self.values[mask]
        self._data[: len(kept)] = kept
        self._size = len(kept)


class CurvesView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.batch_steps = GrowingArray()
        self._smoothed = GrowingArray()
        self._batch_stride = 1  # the steps kept are multiples of it
        self._smoothing = None  # the moving average after the latest batch (kept or not)
        self._epochs = History()  # the per-epoch logs, thinned as the network's
        self._epoch_steps = History()  # "step": the step each epoch ended at, thinned alike
        self.marks: list[tuple[int, str]] = []
        self._drawn_marks = 0
        self.dirty = False

        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "step (batches)")
        legend = outside_legend(self.loss_plot, "below", columns=2)
        self.batch_curve = _curve(self.loss_plot, legend, BATCH_PEN, "train (batch, smoothed)")
        self.train_curve = _curve(self.loss_plot, legend, TRAIN_PEN, "train (epoch)")
        self.val_curve = _curve(self.loss_plot, legend, VAL_PEN, "validation")
        self.metric_plot = pg.PlotWidget(title="Metric")
        self.metric_plot.setLabel("bottom", "epoch")
        legend = outside_legend(self.metric_plot, "below", columns=3)
        self.metric_train = _curve(self.metric_plot, legend, TRAIN_PEN, "train")
        self.metric_val = _curve(self.metric_plot, legend, VAL_PEN, "validation")
        self.epoch_dots = {
            curve: _dots(plot, pen)
            for curve, plot, pen in (
                (self.train_curve, self.loss_plot, TRAIN_PEN),
                (self.val_curve, self.loss_plot, VAL_PEN),
                (self.metric_train, self.metric_plot, TRAIN_PEN),
                (self.metric_val, self.metric_plot, VAL_PEN),
            )
        }
        # The run that Undo (or an edit) took back, faded, for reference: smoothed batch loss
        # and the validation (else training) metric; in the legends only while there is one.
        self.previous_loss = pg.PlotCurveItem(pen=PREVIOUS_PEN, connect="finite", skipFiniteCheck=True)
        self.previous_metric = pg.PlotCurveItem(pen=PREVIOUS_PEN, connect="finite", skipFiniteCheck=True)
        for plot, curve in ((self.loss_plot, self.previous_loss), (self.metric_plot, self.previous_metric)):
            curve.setZValue(-1)
            plot.addItem(curve)
        self.previous: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # "loss"/"metric" -> (x, y)
        for plot in (self.loss_plot, self.metric_plot):
            cache_decorations(plot)
            keep_readable(plot)
        self._drawn_epochs = -1
        self.log_scale = QCheckBox("Log-scale loss")
        self.log_scale.setToolTip(
            "Show the loss on a logarithmic axis (small changes late in training stay visible)"
        )
        self.log_scale.toggled.connect(self._set_log_scale)
        self.loss_range = StableRange(self.loss_plot)
        self.metric_range = StableRange(self.metric_plot)
        self._metric_title = ""

        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot, 3)
        plots.addWidget(self.metric_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(plots)
        layout.addWidget(self.log_scale)
        scroll_when_narrow(self)
        self.hint = EmptyHint("Train to see the loss and metric curves", self)

    def _set_log_scale(self, on: bool) -> None:
        """The axis shows powers of ten; the curves get log10 of the losses (bare curve items
        do not transform their data themselves)."""
        self.loss_plot.setLogMode(y=on)
        self.loss_range.reset()
        self._drawn_epochs = -1
        self.dirty = True
        self.redraw()

    def _loss_values(self, values: np.ndarray) -> np.ndarray:
        if not self.log_scale.isChecked():
            return values
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)

    @property
    def epoch_logs(self) -> dict[str, list[float]]:
        """The per-epoch values under Keras keys (thinned in long runs: see `_epoch_x`)."""
        return self._epochs.epochs

    @property
    def metric_name(self) -> str | None:
        names = [k for k in self.epoch_logs if k not in ("loss", "lr") and not k.startswith("val_")]
        return names[0] if names else None

    @property
    def smoothed(self) -> np.ndarray:
        """The smoothed batch losses, one per entry of `batch_steps`."""
        return self._smoothed.values

    def plan_run(self, first_step: int, steps: int, first_epoch: int, epochs: int) -> None:
        """Keep the x axes still during a run: they span from 0 to the run's last step (loss)
        and epoch (metric)."""
        self.loss_range.plan_x(first_step + steps)
        self.metric_range.plan_x(first_epoch + epochs)

    def load_history(self, history: History, keep_previous: bool = False) -> None:
        """Show a network's saved history (e.g. a reopened trained file). With `keep_previous`,
        curves on show that the history does not hold (Undo went back before their run) stay as
        the faded previous run."""
        if keep_previous and len(self.batch_steps) and float(self.batch_steps.values[-1]) >= history.steps:
            self._keep_as_previous()
        for stable in (self.loss_range, self.metric_range):
            stable.plan_x(0)
            stable.reset()
        self.batch_steps.clear()
        self._smoothed.clear()
        self._batch_stride, self._smoothing = 1, None
        steps = np.arange(len(history.batch_losses), dtype=np.float64) * history.batch_stride
        self._keep(steps, self._smooth(history.batch_losses))
        self._epochs = History(
            epochs={k: list(v) for k, v in history.epochs.items()},
            epoch_numbers={k: list(v) for k, v in history.epoch_numbers.items()},
            epoch_stride=history.epoch_stride,
            epoch_count=history.epoch_count,
        )
        numbers = history.epoch_numbers.get("loss", [])
        per_epoch = history.steps / history.epoch_count if history.epoch_count else 0
        self._epoch_steps = History(
            epochs={"step": [per_epoch * (n + 1) for n in numbers]} if numbers else {},
            epoch_numbers={"step": list(numbers)} if numbers else {},
            epoch_stride=history.epoch_stride,
            epoch_count=history.epoch_count,
        )
        self.marks, self._drawn_marks = [], 0
        self._drawn_epochs = -1
        for item in list(self.loss_plot.items()):
            if isinstance(item, pg.InfiniteLine):
                self.loss_plot.removeItem(item)
        self.dirty = True
        self.redraw()

    def _keep_as_previous(self) -> None:
        metric = self.metric_name
        train = self.epoch_logs.get(metric, []) if metric else []
        key = (f"val_{metric}" if self.epoch_logs.get(f"val_{metric}") else metric) if train else None
        self.previous = {
            "loss": _thinned(self.batch_steps.values.copy(), self.smoothed.copy()),
            "metric": self._epoch_x(key) if key else (np.empty(0), np.empty(0)),
        }
        self._drawn_epochs = -1

    def clear_previous_run(self) -> None:
        """Forget the faded previous run (another network was opened)."""
        self.previous = {}
        self.dirty = True

    def add_batches(self, first_step: int, losses: np.ndarray) -> None:
        steps = np.arange(first_step, first_step + len(losses), dtype=np.float64)
        self._keep(steps, self._smooth(losses))
        self.dirty = True

    def _keep(self, steps: np.ndarray, smoothed: np.ndarray) -> None:
        """Add the points on the stride; past MAX_BATCH_POINTS, double it and drop the rest."""
        if self._batch_stride > 1:
            on = steps % self._batch_stride == 0
            steps, smoothed = steps[on], smoothed[on]
        self.batch_steps.extend(steps)
        self._smoothed.extend(smoothed)
        while len(self.batch_steps) > MAX_BATCH_POINTS:
            self._batch_stride *= 2
            on = self.batch_steps.values % self._batch_stride == 0
            self.batch_steps.keep(on)
            self._smoothed.keep(on)

    def _smooth(self, losses) -> np.ndarray:
        """Exponential moving average of `losses`, continuing from the batches before; vectorised
        per block, since a bundle holds hundreds of losses. (A non-finite loss, which ends training
        anyway, counts as the average at the start of its block.)"""
        values = np.asarray(losses, dtype=np.float64)
        smoothed = []
        acc = self._smoothing
        for start in range(0, len(values), SMOOTH_BLOCK):
            block = values[start : start + SMOOTH_BLOCK]
            finite = np.isfinite(block)
            if acc is None:
                if not finite.any():
                    smoothed.append(np.full(len(block), np.nan))
                    continue
                acc = float(block[finite][0])
            # s_i = a^(i+1) acc + (1-a) sum_{j<=i} a^(i-j) v_j
            block = np.where(finite, block, acc)
            powers = SMOOTHING ** np.arange(1, len(block) + 1)
            sums = np.cumsum(block / powers)
            out = powers * (acc + (1 - SMOOTHING) * sums)
            smoothed.append(out)
            acc = float(out[-1])
            acc = acc if np.isfinite(acc) else None
        self._smoothing = acc
        return np.concatenate(smoothed) if smoothed else np.empty(0)

    def add_epoch(self, logs: dict[str, float], step: int) -> None:
        self._epochs.append_epoch(logs)
        self._epoch_steps.append_epoch({"step": step})
        self.dirty = True

    def _epoch_x(self, key: str, steps: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """A key's kept values and where they go on x: the epoch (1-based), or with `steps` the
        step it ended at."""
        values = np.asarray(self.epoch_logs.get(key, []), dtype=np.float64)
        numbers = np.asarray(self._epochs.epoch_numbers.get(key, []), dtype=np.int64)
        if not steps:
            return numbers + 1.0, values
        known = np.asarray(self._epoch_steps.epoch_numbers.get("step", []), dtype=np.int64)
        at = np.asarray(self._epoch_steps.epochs.get("step", []), dtype=np.float64)
        index = np.searchsorted(known, numbers)
        found = index < len(known)
        found[found] = known[index[found]] == numbers[found]
        return at[index[found]], values[found]

    def mark(self, step: int, text: str) -> None:
        """A vertical line where a setting was changed during training."""
        self.marks.append((step, text))
        self.dirty = True

    def redraw(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        drawn = []
        steps, values = _thinned(self.batch_steps.values, self.smoothed)
        self.batch_curve.setData(steps, self._loss_values(values))  # empty after a reset
        if len(values):
            drawn.append((steps, self.batch_curve.yData))
        count = self._epochs.epoch_count
        if count != self._drawn_epochs:  # the epoch curves change only when an epoch ends
            self._drawn_epochs = count
            for curve, key in ((self.train_curve, "loss"), (self.val_curve, "val_loss")):
                x, values = _thinned(*self._epoch_x(key, steps=True))
                self._set_epoch_curve(curve, x, self._loss_values(values))
            self._draw_metric()
        drawn += [(c.xData, c.yData) for c in (self.train_curve, self.val_curve) if c.xData is not None]
        steps, values = self.previous.get("loss", (np.empty(0), np.empty(0)))
        self.previous_loss.setData(steps, self._loss_values(values))
        if len(values):
            drawn.append((steps, self.previous_loss.yData))
        _show_in_legend(self.loss_plot, self.previous_loss, bool(len(values)))
        self.loss_range.follow(drawn)
        self._draw_marks()
        self.hint.show_hint(not any(len(x) for x, _y in drawn))

    def _draw_metric(self) -> None:
        metric = self.metric_name
        previous = self.previous.get("metric", (np.empty(0), np.empty(0)))
        self.previous_metric.setData(*previous)
        _show_in_legend(self.metric_plot, self.previous_metric, bool(len(previous[1])))
        if not metric:  # no epochs (yet, or any more after a reset): the previous run at most
            self._set_epoch_curve(self.metric_train, np.empty(0), np.empty(0))
            self._set_epoch_curve(self.metric_val, np.empty(0), np.empty(0))
            self.metric_range.follow([previous])
            return
        title = metric.replace("_", " ")
        if title != self._metric_title:  # a new title re-lays out the plot: only when it changes
            self._metric_title = title
            self.metric_plot.setTitle(title)
            keep_readable(self.metric_plot)
        drawn = [_thinned(*self._epoch_x(metric)), _thinned(*self._epoch_x(f"val_{metric}"))]
        self._set_epoch_curve(self.metric_train, *drawn[0])
        self._set_epoch_curve(self.metric_val, *drawn[1])
        self.metric_range.follow([*drawn, previous])

    def _set_epoch_curve(self, curve: pg.PlotCurveItem, x: np.ndarray, y: np.ndarray) -> None:
        """An epoch curve's points, with a dot on each while there are few (MARKED_EPOCHS)."""
        curve.setData(x, y)
        dots = self.epoch_dots[curve]
        if len(x) > MARKED_EPOCHS:
            dots.clear()
            return
        finite = np.isfinite(y)
        dots.setData(x[finite], y[finite])

    def _draw_marks(self) -> None:
        """A dashed vertical line per setting changed during training."""
        for step, text in self.marks[self._drawn_marks :]:
            line = pg.InfiniteLine(
                pos=step,
                angle=90,
                pen=pg.mkPen("#a855f7", style=pg.QtCore.Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.85, "color": "#a855f7"},
            )
            self.loss_plot.addItem(line)
        self._drawn_marks = len(self.marks)

    def table(self) -> tuple[list[str], list[list[float]]]:
        """Per-epoch numbers as CSV columns: a row per epoch kept (every one, short of a very long
        history)."""
        keys = list(self.epoch_logs)
        by_epoch = [dict(zip(self._epochs.epoch_numbers[k], self.epoch_logs[k], strict=True)) for k in keys]
        epochs = sorted(set().union(*by_epoch)) if by_epoch else []
        rows = [[n + 1] + [values.get(n, float("nan")) for values in by_epoch] for n in epochs]
        return ["epoch", *keys], rows


def _curve(plot: pg.PlotWidget, legend: pg.LegendItem, pen, name: str) -> pg.PlotCurveItem:
    """A bare curve item: far less work per setData than PlotWidget.plot's PlotDataItem."""
    curve = pg.PlotCurveItem(pen=pen, connect="finite", skipFiniteCheck=True)
    plot.addItem(curve)
    legend.addItem(curve, name)
    return curve


def _dots(plot: pg.PlotWidget, pen) -> pg.ScatterPlotItem:
    """The dots of an epoch curve drawn with `pen` (see MARKED_EPOCHS)."""
    dots = pg.ScatterPlotItem(size=6, pen=None, brush=pen.color())
    plot.addItem(dots)
    return dots


def _show_in_legend(plot: pg.PlotWidget, curve: pg.PlotCurveItem, shown: bool) -> None:
    """The faded previous run has a legend entry only while it is drawn."""
    legend = plot.getPlotItem().legend
    if legend is None:
        return
    listed = any(sample.item is curve for sample, _label in legend.items)
    if shown and not listed:
        legend.addItem(curve, "previous run")
    elif listed and not shown:
        legend.removeItem(curve)
        plot.viewport().update()  # the narrower legend leaves the old one's pixels otherwise


def _thinned(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_DRAWN_POINTS evenly spaced points of a curve, always ending at its last point.
    (The batch curve is already smoothed and the epoch curves change slowly, so a stride loses
    nothing visible, and the GUI thread stops spending its time in path drawing.)"""
    if len(ys) <= MAX_DRAWN_POINTS:
        return xs, ys
    index = np.linspace(0, len(ys) - 1, MAX_DRAWN_POINTS).astype(np.int64)
    return xs[index], ys[index]


class StableRange:
    """Axis ranges for a live plot that change in steps, so most frames repaint the curves
    without re-laying out and repainting the axes (~4 ms of GUI thread each, which also slows a
    training thread sharing the machine). x spans the planned run when one is known (the curve
    fills a steady plot, like MATLAB's training progress), else grows by half again when the
    data reaches the edge; y refits when the data leaves it or fills under a third of it."""

    def __init__(self, plot: pg.PlotWidget):
        self.plot = plot
        plot.disableAutoRange()
        self.planned_x = 0.0
        self.reset()

    def reset(self) -> None:
        """Refit both axes at the next `follow` (the planned x end stays); until then the axes
        show the unit square, not the ranges of curves no longer drawn."""
        self.x_max: float | None = None
        self.y: tuple[float, float] | None = None
        self.plot.setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0), padding=0)

    def plan_x(self, x_end: float) -> None:
        """Show x up to `x_end` (where the run that starts ends) from now on; 0: no plan."""
        self.planned_x = float(x_end)
        if x_end > 0 and (self.x_max is None or x_end > self.x_max):
            self.x_max = float(x_end)
            self.plot.setXRange(0.0, self.x_max * RIGHT_MARGIN, padding=0)

    def follow(self, curves: list[tuple[np.ndarray, np.ndarray]]) -> None:
        xs = [c[0] for c in curves if len(c[0])]
        ys = [c[1][np.isfinite(c[1])] for c in curves if len(c[1])]
        ys = [y for y in ys if len(y)]
        if not xs or not ys:
            return
        x_last = max(float(x.max()) for x in xs)
        lo = min(float(y.min()) for y in ys)
        hi = max(float(y.max()) for y in ys)
        changed = False
        if self.x_max is None or x_last > self.x_max:
            self.x_max, changed = max(1.0, x_last * 1.5 if x_last > self.planned_x else self.planned_x), True
        span = max(hi - lo, 1e-9)
        if self.y is None or lo < self.y[0] or hi > self.y[1] or (self.y[1] - self.y[0]) > 3 * span:
            self.y, changed = (lo - 0.08 * span, hi + 0.08 * span), True
        if changed:
            self.plot.setRange(xRange=(0.0, self.x_max * RIGHT_MARGIN), yRange=self.y, padding=0)
