"""TrainingPanel: the bottom dock's tabs (Curves, Boundary, Health, Results, Data) fed by a
TrainingSession, redrawn by one timer at REDRAW_HZ from buffers, never per batch. Also keeps the
canvas's live styling (edge weight magnitude and sign, each node's mean activation)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.monitor import MonitorSnapshot, shows_surface
from gui.training.confusion_view import ConfusionView
from gui.training.curves import CurvesView
from gui.training.data_panel import DataPanel
from gui.training.health_view import HealthView
from gui.training.session import TrainingSession
from gui.training.surface_view import SurfaceView
from gui.training.worker import EpochReport, TrainingProgress, TrainingResult

REDRAW_HZ = 20
# The health plots and the canvas's weight colours redraw at most this often while training
# (a short run sends snapshots faster; each is kept, they are drawn together).
SNAPSHOT_VIEWS_HZ = 5
LARGE_LAYER = 4096  # kernels with more entries than this keep the canvas's plain edges


class TrainingPanel(QWidget):
    def __init__(self, session: TrainingSession, canvas=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.curves = CurvesView()
        self.surface = SurfaceView()
        self.health = HealthView()
        self.results = ConfusionView()
        self.data_panel = DataPanel(session)
        self.tabs = QTabWidget()
        for widget, title, tip in (
            (self.curves, "Curves", "Loss and metric per batch and per epoch"),
            (self.surface, "Boundary", "Decision boundary and hidden-unit responses (2-D inputs)"),
            (self.health, "Health", "Gradient norms, dead and saturated units, activation histograms"),
            (self.results, "Results", "Confusion matrix, misclassified samples, first-layer weights"),
            (self.data_panel, "Data", "The training data and where it comes from"),
        ):
            index = self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(index, tip)
        # Hidden tabs are not redrawn while training: bring one up to date when it is shown
        # (after a run the timer has stopped, so it would keep its old picture).
        self.tabs.currentChanged.connect(lambda _index: self.redraw(everything=True))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { background: #fee2e2; color: #7f1d1d; padding: 6px; border-radius: 4px; }")
        self.error.hide()
        export_png = QPushButton("Export plot as PNG…")
        export_png.setToolTip("Save the current tab as an image")
        export_png.clicked.connect(self.export_png)
        export_csv = QPushButton("Export data as CSV…")
        export_csv.setToolTip("Save the numbers behind the current tab")
        export_csv.clicked.connect(self.export_csv)
        row = QHBoxLayout()
        row.addWidget(self.error, 1)
        row.addStretch(0)
        row.addWidget(export_png)
        row.addWidget(export_csv)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(row)

        self.redraw_hidden_tabs = False  # True: every tab redraws live, not just the one shown
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        self.timer.timeout.connect(self.redraw)
        self._snapshot_views_drawn = 0.0  # time.monotonic() of the last health / canvas redraw
        self._latest_snapshot: MonitorSnapshot | None = None
        session.run_started.connect(self._run_started)
        session.progressed.connect(self._progressed)
        session.snapshot_taken.connect(self._snapshot)
        session.epochs_ended.connect(self._epochs_ended)
        session.finished.connect(self._finished)
        session.failed.connect(self.show_error)
        session.edit_marked.connect(self.curves.mark)
        session.data_changed.connect(self._data_changed)
        session.document.document_reset.connect(self.load_document)
        session.weights_reset.connect(self.load_document)
        self.load_document()

    # ---------------------------------------------------------------- inputs
    def load_document(self) -> None:
        """Show the document network's saved history (a reopened trained file has its curves;
        after Reset weights there is none)."""
        self.curves.load_history(self.session.document.network.history)
        self.health.clear()
        self.error.hide()

    def _data_changed(self) -> None:
        session = self.session
        x, y = session.train_set.x, session.train_set.y
        scaler = session.dataset.scaler
        shown = scaler.transform(x) if scaler is not None and x.ndim == 2 else x
        self.surface.set_points(shown, y if session.dataset.task == "classification" else None)
        self.surface.show_unavailable(not shows_surface(x))
        val = session.val_set
        self.results.set_validation(val.x if val is not None and len(val) else None,
                                    val.y if val is not None and len(val) else None)

    def _run_started(self, info: dict) -> None:
        self.error.hide()
        self.curves.plan_run(info["first_step"], info["epochs"] * info["batches_per_epoch"],
                             info["first_epoch"], info["epochs"])
        self.timer.start()
        self.run_started_shown()

    def run_started_shown(self) -> None:
        """Bring the Training dock forward with room for the plots."""
        dock = self.parentWidget()
        window = dock.window() if dock is not None else None
        if hasattr(window, "resizeDocks") and hasattr(dock, "raise_"):
            dock.raise_()
            window.resizeDocks([dock], [max(dock.height(), int(window.height() * 0.42))],
                               Qt.Orientation.Vertical)

    def _progressed(self, progress: TrainingProgress) -> None:
        self.curves.add_batches(progress.first_step, progress.losses)

    def _snapshot(self, snapshot: MonitorSnapshot) -> None:
        self._latest_snapshot = snapshot
        self.health.add_snapshot(snapshot)
        self.surface.update_surface(snapshot.surface)

    def _epochs_ended(self, reports: list[EpochReport]) -> None:
        for report in reports:
            self.curves.add_epoch(report.logs, report.step)
        with_confusion = [r for r in reports if r.confusion is not None]
        if with_confusion:
            last = with_confusion[-1]
            self.results.update_epoch(last.confusion, last.misclassified, last.first_kernel,
                                      last.misclassified_as)

    def _finished(self, result: TrainingResult) -> None:
        self.redraw(everything=True)
        self.timer.stop()
        if self.canvas is not None:
            for node_id in self.session.document.spec.nodes:
                item = self.canvas.node_item(node_id)
                if item is not None:
                    item.set_activity(None)

    def show_error(self, message: str) -> None:
        self.error.setText(f"<b>Training stopped:</b> {message}")
        self.error.show()

    # ---------------------------------------------------------------- output
    def redraw(self, everything: bool = False) -> None:
        """Redraw what changed; the health plots and canvas colours at most SNAPSHOT_VIEWS_HZ
        times a second unless `everything`."""
        self.curves.redraw()
        now = time.monotonic()
        snapshot_views = everything or now - self._snapshot_views_drawn >= 1.0 / SNAPSHOT_VIEWS_HZ
        current = self.tabs.currentWidget()
        for view in (self.surface, self.health, self.results):
            if (view is current or self.redraw_hidden_tabs) and (view is not self.health or snapshot_views):
                view.redraw()
        if snapshot_views:
            self._snapshot_views_drawn = now
            self._style_canvas()

    def _style_canvas(self) -> None:
        snapshot, self._latest_snapshot = self._latest_snapshot, None
        if snapshot is None or self.canvas is None:
            return
        spec = self.session.document.spec
        worker = self.session.worker
        for layer in snapshot.layers:
            item = self.canvas.node_item(layer.node_id)
            if item is not None:
                item.set_activity(layer.mean_activation)
        if worker is None:
            return
        layers = worker.network.model.layers
        for source, target in spec.edges:
            kernel = layers[target].weights.get("kernel") if target in layers else None
            edge = self.canvas.edge_item(source, target)
            if edge is None or kernel is None or kernel.size > LARGE_LAYER:
                continue
            mean = float(kernel.mean())
            edge.set_weight_style(float(np.abs(kernel).mean()), 1 if mean >= 0 else -1)

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "plot.png", "PNG images (*.png)")
        if path and not self.tabs.currentWidget().grab().save(path):
            QMessageBox.warning(self, "Export", f"{path}: could not write the image")

    def export_csv(self) -> None:
        view = self.tabs.currentWidget()
        if not hasattr(view, "table"):
            QMessageBox.information(self, "Export", "This tab has no numbers to export.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export data", "data.csv", "CSV tables (*.csv)")
        if path:
            header, rows = view.table()
            try:
                write_csv(Path(path), header, rows)
            except OSError as exc:
                QMessageBox.warning(self, "Export", f"{path}: {exc.strerror or exc}")


def write_csv(path: Path, header: list[str], rows: list[list[float]]) -> None:
    """Write atomically: a temp file in the same folder, then replace."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    temp.replace(path)
