"""Fits of several hidden widths drawn together (the universal-approximation lesson).

A "Fit all five" button trains the lesson's network once per width (engine.lessons.width_fits) in a
worker thread; each fit reaches the plot through a signal as soon as it is done, over the
validation points of the data, with its width and validation error in the legend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.errors import NetCanvasError
from engine.lessons import WidthFit, width_fits
from gui.training.plot_style import outside_legend

FIT_COLORS = ("#ef4444", "#f59e0b", "#22c55e", "#3b82f6", "#a855f7")  # one per width, in order
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


class FitsWorker(QObject):
    """Runs `width_fits` on the worker thread; talks only through its signals."""

    data_ready = Signal(object, object)  # validation x (n,), y (n,)
    fitted = Signal(object)  # WidthFit
    failed = Signal(str)  # what went wrong
    finished = Signal()

    def __init__(self, path: Path, node_id: str, units: list[int]):
        super().__init__()
        self.path, self.node_id, self.units = path, node_id, units

    @Slot()
    def run(self) -> None:
        try:
            width_fits(
                self.path, self.node_id, self.units, on_fit=self.fitted.emit, on_data=self.data_ready.emit
            )
        except (NetCanvasError, OSError, ValueError) as exc:
            self.failed.emit(str(exc))
        finally:
            self.finished.emit()


class WidthFitsView(QWidget):
    """The button, the plot and a status line for the fits of `units` widths of node `node_id`."""

    fits_done = Signal()  # all fits drawn (or the run failed)

    def __init__(self, path: Path, node_id: str, units: list[int], parent: QWidget | None = None):
        super().__init__(parent)
        self.path, self.node_id, self.units = path, node_id, list(units)
        count = NUMBER_WORDS.get(len(self.units), str(len(self.units)))
        self.button = QPushButton(f"Fit all {count}")
        self.button.setToolTip(
            "Train this network once with each of "
            + ", ".join(map(str, self.units))
            + " hidden units (a few seconds) and draw every fit"
        )
        self.button.clicked.connect(self.start)
        self.status = QLabel("Each fit is drawn as soon as it is trained.")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(220)
        self.plot.setLabel("bottom", "x")
        self.plot.setLabel("left", "y")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        outside_legend(self.plot, "below", columns=2)
        self.fits: list[WidthFit] = []
        self._thread: QThread | None = None
        self._worker: FitsWorker | None = None
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Clear the plot and fit every width in a worker thread."""
        if self.running:
            return
        self.fits = []
        self.plot.clear()
        self.button.setEnabled(False)
        self.status.setText("Training…")
        thread, worker = QThread(self), FitsWorker(self.path, self.node_id, self.units)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.data_ready.connect(self._show_data)
        worker.fitted.connect(self._show_fit)
        worker.failed.connect(self._show_failure)
        worker.finished.connect(thread.quit)
        thread.finished.connect(self._finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def shutdown(self) -> None:
        """Wait for a run to end (a fit takes a fraction of a second); called before closing."""
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._finished()

    def _show_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.plot.plot(
            x, y, pen=None, symbol="o", symbolSize=4, symbolBrush=pg.mkBrush(128, 128, 128, 120),
            symbolPen=None, name="data",
        )  # fmt: skip

    def _show_fit(self, fit: WidthFit) -> None:
        self.fits.append(fit)
        pen = pg.mkPen(FIT_COLORS[(len(self.fits) - 1) % len(FIT_COLORS)], width=2)
        units = "unit" if fit.units == 1 else "units"
        self.plot.plot(fit.xs, fit.prediction, pen=pen, name=f"{fit.units} {units}: {fit.val_mse:.3f}")
        self.status.setText(f"{len(self.fits)} of {len(self.units)} trained")

    def _show_failure(self, message: str) -> None:
        self.status.setText(f"Cannot fit: {message}")

    def _finished(self) -> None:
        if self._thread is None:
            return
        self._thread.deleteLater()
        if self._worker is not None:
            self._worker.deleteLater()
        self._thread = self._worker = None
        self.button.setEnabled(True)
        if len(self.fits) == len(self.units) > 1:
            first, last = self.fits[0], self.fits[-1]
            self.status.setText(
                f"Validation error (MSE): {first.val_mse:.3f} with {first.units} unit(s), "
                f"{last.val_mse:.4f} with {last.units}"
            )
        self.fits_done.emit()
