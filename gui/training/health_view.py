"""Per-layer health while training: gradient norm over time (vanishing gradients show as lines
sinking towards zero on the log axis), dead ReLU and saturated sigmoid/tanh fractions (a channel
counts as one unit in image layers), and the activation histogram of a chosen layer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.training.monitor import MonitorSnapshot
from gui.training.curves import StableRange
from gui.training.empty_hint import EmptyHint
from gui.training.plot_cache import cache_decorations
from gui.training.plot_style import keep_readable, outside_legend, scroll_when_narrow

DEAD_COLOUR, SATURATED_COLOUR = "#3b82f6", "#f97316"  # the bars, and the title's words
MAX_SNAPSHOTS = 5_000  # gradient-norm points kept; past it every other older one is dropped

LAYER_COLOURS = [
    "#3b82f6",
    "#f97316",
    "#22c55e",
    "#a855f7",
    "#ef4444",
    "#14b8a6",
    "#eab308",
    "#ec4899",
    "#64748b",
    "#84cc16",
]


class HealthView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.times: list[int] = []  # training step of each snapshot
        self.grad_norms: dict[str, list[float]] = {}
        self.latest: MonitorSnapshot | None = None
        self.dirty = False
        self.grad_plot = pg.PlotWidget(title="Gradient norm per layer (log)")
        self.grad_plot.setLogMode(y=True)
        self.grad_plot.setLabel("bottom", "step (batches)")
        self.grad_legend = outside_legend(self.grad_plot, "right")
        self.grad_plot.setToolTip(
            "The size of each layer's weight gradient. Lines far below the others "
            "mean that layer barely learns: a vanishing gradient."
        )
        self.grad_curves: dict[str, pg.PlotDataItem] = {}
        self.grad_range = StableRange(self.grad_plot)  # (in log10 units on y, as the log axis works)
        # the title is the legend: each word in its bars' colour
        self.fraction_plot = pg.PlotWidget(
            title=f'<span style="color:{DEAD_COLOUR}">Dead</span> / '
            f'<span style="color:{SATURATED_COLOUR}">saturated</span>'
        )
        self.fraction_plot.setYRange(0, 1)
        self.fraction_plot.setToolTip(
            "Blue: fraction of ReLU units that output 0 for every probe sample "
            "(dead; in a convolution a unit is a channel, dead when 0 at every position). "
            "Orange: fraction of sigmoid/tanh outputs in the flat tails "
            "(saturated, tiny derivative)."
        )
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=DEAD_COLOUR)
        self.sat_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=SATURATED_COLOUR)
        self.fraction_plot.addItem(self.dead_bars)
        self.fraction_plot.addItem(self.sat_bars)
        # bars of height 0 draw nothing: say so rather than show an empty plot
        self.none_dead = pg.TextItem("No dead or saturated units", color="#94a3b8", anchor=(0.5, 0.5))
        self.none_dead.hide()
        self.fraction_plot.addItem(self.none_dead, ignoreBounds=True)
        self.hist_plot = pg.PlotWidget(title="Activations")
        self.hist_bars = pg.BarGraphItem(x=[], height=[], width=1.0, brush="#22c55e")
        self.hist_plot.addItem(self.hist_bars)
        self.hist_plot.setLabel("bottom", "value")
        # the mean as a marked line in the plot: as the axis label it re-laid out the whole plot
        # on every redraw
        self.hist_mean = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#cbd5e1", style=Qt.PenStyle.DashLine),
            label="mean {value:.3g}",
            labelOpts={"position": 0.95, "color": "#cbd5e1"},
        )
        self.hist_mean.hide()
        self.hist_plot.addItem(self.hist_mean, ignoreBounds=True)
        self._fraction_axis: tuple[list[tuple[int, str]], str] | None = None
        for plot in (self.grad_plot, self.fraction_plot, self.hist_plot):
            cache_decorations(plot)
            keep_readable(plot)
        self.layer_choice = QComboBox()
        self.layer_choice.setToolTip("The layer whose activation histogram is shown")
        self.layer_choice.currentIndexChanged.connect(lambda _: self._mark_dirty())
        right = QVBoxLayout()
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Layer:"))
        choose.addWidget(self.layer_choice, 1)
        right.addLayout(choose)
        right.addWidget(self.hist_plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.grad_plot, 3)
        layout.addWidget(self.fraction_plot, 2)
        layout.addLayout(right, 2)
        scroll_when_narrow(self)
        self.hint = EmptyHint("Train to see gradient norms, dead and saturated units and activations", self)

    def _mark_dirty(self) -> None:
        self.dirty = True
        self.redraw()

    def clear(self) -> None:
        """The empty state: no curves, bars, histogram or layers of any network."""
        self.times, self.grad_norms, self.latest = [], {}, None
        for curve in self.grad_curves.values():
            self.grad_plot.removeItem(curve)
        self.grad_curves = {}
        self.grad_range.reset()
        self.grad_plot.setRange(xRange=(0, 1), yRange=(-3, 0), padding=0)  # (log10 units) no old run's axes
        self.dead_bars.setOpts(x=[], height=[])
        self.sat_bars.setOpts(x=[], height=[])
        self.none_dead.hide()
        self.hist_bars.setOpts(x=[], height=[])
        self.hist_mean.hide()
        for plot in (self.fraction_plot, self.hist_plot):  # the unit square until new bars fit it
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.fraction_plot.enableAutoRange(axis="x")  # (fractions stay on 0..1)
        self.hist_plot.enableAutoRange()
        self.fraction_plot.getAxis("bottom").setTicks(None)
        self._fraction_axis = None
        self.layer_choice.blockSignals(True)
        self.layer_choice.clear()
        self.layer_choice.blockSignals(False)
        self.dirty = False
        self.hint.show_hint(True)

    def add_snapshot(self, snapshot: MonitorSnapshot) -> None:
        if self.times and snapshot.step < self.times[-1]:  # the history restarted (weights reset)
            self.clear()
        elif self.times and snapshot.step == self.times[-1]:  # the same weights seen again
            self.times.pop()
            for series in self.grad_norms.values():
                del series[len(self.times) :]
        self.latest = snapshot
        self.times.append(snapshot.step)
        for layer in snapshot.layers:
            if layer.gradient_norm is not None:
                series = self.grad_norms.setdefault(layer.node_id, [])
                series.extend([np.nan] * (len(self.times) - 1 - len(series)))
                # 0 means no step yet (a run's first snapshot): a gap, not a point at a made-up
                # floor that would stretch the log axis over ten decades
                series.append(layer.gradient_norm if layer.gradient_norm > 0 else np.nan)
        if len(self.times) > MAX_SNAPSHOTS:
            self._thin()
        ids = [layer.node_id for layer in snapshot.layers]
        if [self.layer_choice.itemText(i) for i in range(self.layer_choice.count())] != ids:
            current = self.layer_choice.currentText()
            self.layer_choice.blockSignals(True)
            self.layer_choice.clear()
            self.layer_choice.addItems(ids)
            if current in ids:
                self.layer_choice.setCurrentText(current)
            self.layer_choice.blockSignals(False)
        self.dirty = True

    def _thin(self) -> None:
        """Keep every other snapshot and the latest, so a long run's series stay bounded (the
        curve is drawn at about a point per pixel anyway)."""
        last = len(self.times) - 1
        kept = [*range(0, last, 2), last]
        self.times = [self.times[i] for i in kept]
        for node_id, series in self.grad_norms.items():
            self.grad_norms[node_id] = [series[i] for i in kept if i < len(series)]

    def redraw(self) -> None:
        if not self.dirty or self.latest is None:
            return
        self.dirty = False
        self.hint.show_hint(False)
        steps = np.asarray(self.times, dtype=float)
        for i, (nid, series) in enumerate(self.grad_norms.items()):
            curve = self.grad_curves.get(nid)
            if curve is None:
                curve = self.grad_plot.plot(
                    [], [], pen=pg.mkPen(LAYER_COLOURS[i % len(LAYER_COLOURS)], width=2), name=nid
                )
                self.grad_curves[nid] = curve
                keep_readable(self.grad_plot)  # the legend beside it grew
            curve.setData(steps[: len(series)], np.asarray(series), connect="finite")
        with np.errstate(divide="ignore", invalid="ignore"):
            self.grad_range.follow(
                [(steps[: len(series)], np.log10(series)) for series in self.grad_norms.values()]
            )
        layers = self.latest.layers
        xs = np.arange(len(layers), dtype=float)
        dead = [layer.dead_fraction or 0.0 for layer in layers]
        sat = [layer.saturated_fraction or 0.0 for layer in layers]
        self.dead_bars.setOpts(x=xs - 0.2, height=dead)
        self.sat_bars.setOpts(x=xs + 0.2, height=sat)
        self.none_dead.setPos((len(layers) - 1) / 2, 0.5)
        self.none_dead.setVisible(bool(layers) and not any(dead) and not any(sat))
        if len(layers) <= 4:
            ticks, axis_label = [(i, layer.node_id) for i, layer in enumerate(layers)], ""
        else:  # names would run into each other: number the layers instead
            ticks, axis_label = [(i, str(i + 1)) for i in range(len(layers))], "layer (1 = first)"
        if (ticks, axis_label) != self._fraction_axis:  # (each call re-lays out the plot)
            self._fraction_axis = (ticks, axis_label)
            self.fraction_plot.getAxis("bottom").setTicks([ticks])
            self.fraction_plot.setLabel("bottom", axis_label)
            keep_readable(self.fraction_plot)
        chosen = self.layer_choice.currentText()
        for layer in layers:
            if layer.node_id == chosen:
                centres = (layer.bin_edges[:-1] + layer.bin_edges[1:]) / 2
                width = float(layer.bin_edges[1] - layer.bin_edges[0])
                self.hist_bars.setOpts(x=centres, height=layer.histogram, width=width)
                self.hist_mean.show()  # first: a hidden line's label ignores new values
                self.hist_mean.setValue(float(layer.mean_activation))

    def table(self) -> tuple[list[str], list[list[float]]]:
        keys = list(self.grad_norms)
        rows = [
            [step] + [self.grad_norms[k][i] if i < len(self.grad_norms[k]) else float("nan") for k in keys]
            for i, step in enumerate(self.times)
        ]
        return ["step", *[f"grad_norm_{k}" for k in keys]], rows
