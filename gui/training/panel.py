"""TrainingPanel: the bottom dock's tabs (Curves, Boundary, Health, Results, Features, Data) fed by a
TrainingSession, redrawn by one timer at REDRAW_HZ from buffers, never per batch. Also keeps the
canvas's live styling (edge weight magnitude and sign, each node's mean activation).

Outside a run the tabs show the document's network: on `document_reset` (New, Open, Revert,
examples, ONNX import) and `weights_changed` (Undo/Redo of Train or of an edit that dropped the
weights, Reset weights) every view is cleared and rebuilt from it: the curves from its history,
the boundary, health, features and results from one look at its weights on the loaded data if
it is trained, else each view's empty state. When a run ends, every tab draws its final state."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.training.monitor import MonitorSnapshot, shows_surface
from gui import errors
from gui.training.confusion_view import ConfusionView
from gui.training.curves import CurvesView
from gui.training.data_panel import DataPanel
from gui.training.feature_maps_view import FeatureMapsView
from gui.training.health_view import HealthView
from gui.training.session import IDLE, TrainingSession
from gui.training.surface_view import SurfaceView
from gui.training.worker import (
    EpochReport,
    TrainingProgress,
    TrainingResult,
    describe,
    sample_snapshot,
    sample_source,
)

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
        self.features = FeatureMapsView()
        self.features.sample_chosen.connect(self._sample_chosen)
        self.results = ConfusionView()
        self.results.sample_clicked.connect(self._misclassified_clicked)
        self.data_panel = DataPanel(session)
        self.tabs = QTabWidget()
        # A narrow dock shows the tabs with scroll arrows: say what they do.
        for name, tip in (
            ("ScrollLeftButton", "Show the earlier tabs"),
            ("ScrollRightButton", "Show the later tabs"),
        ):
            for button in self.tabs.tabBar().findChildren(QToolButton, name):
                button.setToolTip(tip)
        for widget, title, tip in (
            (self.curves, "Curves", "Loss and metric per batch and per epoch"),
            (self.surface, "Boundary", "Decision boundary and hidden-unit responses (2-D inputs)"),
            (self.health, "Health", "Gradient norms, dead and saturated units, activation histograms"),
            (self.results, "Results", "Confusion matrix, misclassified samples, first-layer weights"),
            (self.features, "Features", "Convolution filters and their feature maps for a chosen image"),
            (self.data_panel, "Data", "The training data and where it comes from"),
        ):
            index = self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(index, tip)
        # Hidden tabs are not redrawn while training: bring one up to date when it is shown
        # (after a run the timer has stopped, so it would keep its old picture).
        self.tabs.currentChanged.connect(lambda _index: self.redraw(everything=True))
        export_png = QPushButton("Export plot as PNG…")
        export_png.setToolTip("Save the current tab as an image")
        export_png.clicked.connect(self.export_png)
        export_csv = QPushButton("Export data as CSV…")
        export_csv.setToolTip("Save the numbers behind the current tab")
        export_csv.clicked.connect(self.export_csv)
        row = QHBoxLayout()
        row.addStretch(1)
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
        session.failed.connect(self._run_failed)
        session.edit_marked.connect(self.curves.mark)
        session.data_changed.connect(self._data_changed)
        session.state_changed.connect(self._state_changed)
        session.document.document_reset.connect(self._document_reset)
        session.document.weights_changed.connect(self._weights_changed)
        self.load_document()

    # ---------------------------------------------------------------- inputs
    def load_document(self, keep_previous: bool = False) -> None:
        """Clear every view and show the document's network (see the module doc); with
        `keep_previous`, the curves on show stay as a faded previous run."""
        network = self.session.document.network
        self.curves.load_history(network.history, keep_previous=keep_previous)
        self.health.clear()
        self.features.clear()
        self.surface.clear()
        self.results.clear()
        self._latest_snapshot = None
        trained = network.history.steps > 0 and self.session.state == IDLE
        self._style_edges(network.model.layers if trained else None)  # the canvas shows these weights
        if trained and self.session.dataset is not None:
            self._describe_network()
        self.redraw(everything=True, all_tabs=True)

    def _describe_network(self) -> None:
        """Fill the boundary, health and results views from the document's trained network."""
        session = self.session
        classes = int(session.dataset.n_classes or 2) if session.dataset.task == "classification" else None
        val = session.val_set if session.val_set is not None and len(session.val_set) else None
        try:
            snapshot, report = describe(
                session.document.network,
                session.train_set.x,
                (val.x, val.y) if val is not None else None,
                classes,
                session.sample_index,
            )
        except (NetCanvasError, ValueError):
            return  # the data does not fit this network: Train says why; the views stay empty
        if snapshot is not None:  # (not the canvas's live colours: those are for a run)
            self.health.add_snapshot(snapshot)
            self.features.add_snapshot(snapshot)
            self.surface.update_surface(snapshot.surface)
        self.results.update_epoch(
            report.confusion, report.misclassified, report.first_kernel, report.misclassified_as
        )

    def _document_reset(self) -> None:
        window = self.window()
        if isinstance(window, QMainWindow):  # a message about the previous file ("Training finished")
            window.statusBar().clearMessage()
        self.timer.stop()
        self.curves.clear_previous_run()
        self.load_document()

    def _weights_changed(self) -> None:
        worker = self.session.worker
        if worker is not None and self.session.document.state().model is worker.network.model:
            return  # the run just recorded: the views already show it, live
        self.load_document(keep_previous=True)

    def _state_changed(self, state: str) -> None:
        if state == IDLE:
            self.timer.stop()

    def _data_changed(self) -> None:
        session = self.session
        if session.dataset is None:  # the document asks for other data: it is being read
            self.surface.set_points(None, None)
            self.surface.show_unavailable(False)
            self.results.set_validation(None, None)
            self.features.set_images(None, None)
        else:
            x, y = session.train_set.x, session.train_set.y
            scaler = session.dataset.scaler
            shown = scaler.transform(x) if scaler is not None and x.ndim == 2 else x
            self.surface.set_points(shown, y if session.dataset.task == "classification" else None)
            self.surface.show_unavailable(not shows_surface(x))
            val = session.val_set
            self.results.set_validation(
                val.x if val is not None and len(val) else None,
                val.y if val is not None and len(val) else None,
            )
            held = val is not None and len(val)
            labels = (val.y if held else y) if session.dataset.task == "classification" else None
            self.features.set_images(
                sample_source(x, (val.x, val.y) if held else None),
                labels,
                "validation" if held else "training",
            )
        if session.state == IDLE:
            self.load_document()

    def _run_started(self, info: dict) -> None:
        self.curves.plan_run(
            info["first_step"],
            info["epochs"] * info["batches_per_epoch"],
            info["first_epoch"],
            info["epochs"],
        )
        self.timer.start()
        self.run_started_shown()

    def run_started_shown(self) -> None:
        """Give the plots the room: the window switches to its Train workspace (the user's own
        Train layout, or most of the height for this dock) and brings the dock forward."""
        dock = self.parentWidget()
        window = dock.window() if dock is not None else None
        workspaces = getattr(window, "workspaces", None)
        if workspaces is not None:
            workspaces.switch("train")
        if hasattr(dock, "raise_"):
            dock.show()
            dock.raise_()

    def _progressed(self, progress: TrainingProgress) -> None:
        self.curves.add_batches(progress.first_step, progress.losses)

    def _snapshot(self, snapshot: MonitorSnapshot) -> None:
        self._latest_snapshot = snapshot
        self.health.add_snapshot(snapshot)
        self.features.add_snapshot(snapshot)
        self.surface.update_surface(snapshot.surface)

    def _sample_chosen(self, index: int) -> None:
        """A run shows image `index` from its next snapshot; a trained network not training shows
        it now (one forward pass of that image)."""
        session = self.session
        session.choose_sample(index)
        network = session.document.network
        if session.state != IDLE or network.history.steps == 0 or session.dataset is None:
            return
        try:
            snapshot = sample_snapshot(network, self.features.images, index)
        except (NetCanvasError, ValueError):
            return  # the data does not fit this network: Train says why
        if snapshot is not None:
            self.features.add_snapshot(snapshot)
            self.features.redraw()

    def _misclassified_clicked(self, index: int) -> None:
        """A misclassified validation image clicked on the Results tab: a convolutional network
        shows its feature maps."""
        if self.features.snapshot is not None and self.features.source == "validation":
            self.features.choose(index)
            self.tabs.setCurrentWidget(self.features)

    def _epochs_ended(self, reports: list[EpochReport]) -> None:
        for report in reports:
            self.curves.add_epoch(report.logs, report.step)
        with_confusion = [r for r in reports if r.confusion is not None]
        if with_confusion:
            last = with_confusion[-1]
            self.results.update_epoch(
                last.confusion, last.misclassified, last.first_kernel, last.misclassified_as
            )

    def _finished(self, result: TrainingResult) -> None:
        self.redraw(everything=True, all_tabs=True)  # the final state, whichever tab shows
        self.timer.stop()
        if self.canvas is not None:
            for node_id in self.session.document.spec.nodes:
                item = self.canvas.node_item(node_id)
                if item is not None:
                    item.set_activity(None)

    def _run_failed(self, message: str) -> None:
        """A diverged or failed run says why where every error is shown (the status bar keeps
        the outcome: "Training diverged: weights restored")."""
        errors.show_error(self, "Training stopped", message)

    # ---------------------------------------------------------------- output
    def redraw(self, everything: bool = False, all_tabs: bool = False) -> None:
        """Redraw what changed; the health plots and canvas colours at most SNAPSHOT_VIEWS_HZ
        times a second unless `everything`; hidden tabs too with `all_tabs`."""
        self.curves.redraw()
        now = time.monotonic()
        snapshot_views = everything or now - self._snapshot_views_drawn >= 1.0 / SNAPSHOT_VIEWS_HZ
        current = self.tabs.currentWidget()
        for view in (self.surface, self.health, self.features, self.results):
            if (view is current or all_tabs or self.redraw_hidden_tabs) and (
                view not in (self.health, self.features) or snapshot_views
            ):
                view.redraw()
        if snapshot_views:
            self._snapshot_views_drawn = now
            self._style_canvas()

    def _style_canvas(self) -> None:
        snapshot, self._latest_snapshot = self._latest_snapshot, None
        if snapshot is None or self.canvas is None:
            return
        worker = self.session.worker
        for layer in snapshot.layers:
            item = self.canvas.node_item(layer.node_id)
            if item is not None:
                item.set_activity(layer.mean_activation)
        if worker is not None:
            self._style_edges(worker.network.model.layers)

    def _style_edges(self, layers: dict | None) -> None:
        """Each edge by the weights of the layer it feeds (`layers`: a model's), or plain (None)."""
        if self.canvas is None:
            return
        for source, target in self.session.document.spec.edges:
            edge = self.canvas.edge_item(source, target)
            if edge is None:
                continue
            kernel = layers[target].weights.get("kernel") if layers is not None and target in layers else None
            if kernel is None or kernel.size > LARGE_LAYER:
                edge.set_weight_style(None, 1)
                continue
            mean = float(kernel.mean())
            edge.set_weight_style(float(np.abs(kernel).mean()), 1 if mean >= 0 else -1)

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "plot.png", "PNG images (*.png)")
        if path and not self.tabs.currentWidget().grab().save(path):
            errors.show_error(self, "Export", f"{path}: could not write the image")

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
                errors.show_error(self, "Export", f"{path}: {exc.strerror or exc}")


def write_csv(path: Path, header: list[str], rows: list[list[float]]) -> None:
    """Write atomically: a temp file in the same folder, then replace."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    temp.replace(path)
