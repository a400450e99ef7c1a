"""The Runs panel: every training run of the open document in a list (name, when, what changed
from the run before, final numbers), a tick box each; the ticked runs' curves overlay in one plot
(a colour per run, validation dashed) and their first and last layers' gradient norms in another,
so sigmoid against ReLU or three learning rates are compared in two clicks. Double-click renames
a run; Delete and "Restore this run's weights and settings" are undoable edits (gui/run_commands).

The list follows the document: New/Open show that file's runs (its last two ticked), a finished
run appears ticked, Undo of a run takes its entry away with its weights.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError
from engine.runs import Run
from gui import errors
from gui.document import NetworkDocument
from gui.run_commands import delete_runs, rename_run, restore_run
from gui.training.empty_hint import EmptyHint
from gui.training.plot_style import keep_readable, outside_legend, scroll_when_narrow

if TYPE_CHECKING:
    from gui.main_window import MainWindow

RUN_COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#ca8a04", "#db2777"]
FIXED_COLUMNS = ["Run", "When", "What changed"]


def run_colour(index: int) -> str:
    """The colour of the run at `index` of the list, in the table and in both plots."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class RunsView(QWidget):
    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.ticked: set[int] = set()  # id() of the ticked runs (runs are never changed in place)
        self._seen: set[int] = set()  # id() of the runs listed so far (a new one is ticked)
        self._filling = False
        self._renaming: bool | None = None  # during a rename: whether the run was ticked
        self._stale = True  # the plots wait to be shown to be drawn
        self._shown = True  # False while the dock's tab is behind another (see set_shown)
        self._legends: dict[int, list[str]] = {}  # id(plot) -> legend texts last laid out
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Tick runs to compare their curves; double-click a run to rename it")
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemDoubleClicked.connect(lambda item, _col: self.table.editItem(item, 0))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.curve_choice = QComboBox()
        self.curve_choice.setToolTip("The curve compared (its validation values dashed)")
        self.curve_choice.currentIndexChanged.connect(lambda _i: self.redraw())
        self.restore_button = QPushButton("Restore this run's weights and settings")
        self.restore_button.setToolTip(
            "Put back the layer parameters, training and data settings and the weights the chosen "
            "run ended with (one step of Undo gives back what you have now)"
        )
        self.restore_button.clicked.connect(self.restore_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the chosen runs from the list (undoable)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.curve_plot = pg.PlotWidget(title="Loss per epoch (validation dashed)")
        self.curve_plot.setLabel("bottom", "epoch of the run")
        self.curve_legend = outside_legend(self.curve_plot, "right")
        self.grad_plot = pg.PlotWidget(title="Gradient norm (log): first layer dashed, last solid")
        self.grad_plot.setLogMode(y=True)
        self.grad_plot.setLabel("bottom", "epoch of the run")
        self.grad_plot.setToolTip(
            "How large each run's weight gradients were in its first and last layer with weights. "
            "A first layer far below the last one barely learns: a vanishing gradient."
        )
        self.grad_legend = outside_legend(self.grad_plot, "right")
        for plot in (self.curve_plot, self.grad_plot):
            keep_readable(plot)
            self._legends[id(plot)] = []

        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Compare:"))
        buttons.addWidget(self.curve_choice)
        buttons.addStretch(1)
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.delete_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addLayout(buttons)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.curve_plot)
        plots.addWidget(self.grad_plot)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(plots)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter)
        scroll_when_narrow(self)  # the list and the plots side by side must not widen the window
        self.hint = EmptyHint("Each training run is kept here: train twice to compare two runs", self)
        document.runs_changed.connect(self.refresh)
        document.document_reset.connect(self._document_reset)
        self._document_reset()

    # ----------------------------------------------------------------- list
    @property
    def runs(self) -> list[Run]:
        return self.document.network.runs

    def _document_reset(self) -> None:
        """Another file: tick its last two runs (the comparison it was saved with, likely)."""
        self.ticked = {id(run) for run in self.runs[-2:]}
        self._seen = {id(run) for run in self.runs}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list and the plots from the document's runs."""
        runs = self.runs
        new = {id(run) for run in runs if id(run) not in self._seen}
        if self._renaming is None or self._renaming:  # a new run is ticked; a renamed one as it was
            self.ticked |= new
        self._seen |= new
        keys = _metric_keys(runs)
        self._filling = True
        self.table.clear()
        self.table.setHeaderLabels([*FIXED_COLUMNS, *(k.replace("_", " ") for k in keys)])
        for index, run in enumerate(runs):
            metrics = run.metrics
            values = [f"{metrics[k]:.4g}" if k in metrics else "" for k in keys]
            item = QTreeWidgetItem([run.name, run.time, run.changes, *values])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
            item.setCheckState(
                0, Qt.CheckState.Checked if id(run) in self.ticked else Qt.CheckState.Unchecked
            )
            item.setIcon(0, _swatch(run_colour(index)))
            item.setToolTip(2, run.changes)
            item.setToolTip(0, f"{run.name}: {run.reason} after {run.steps:,} steps")
            self.table.addTopLevelItem(item)
        for column in range(self.table.columnCount()):
            self.table.resizeColumnToContents(column)
        self._filling = False
        bases = list(dict.fromkeys(k.removeprefix("val_") for k in keys))
        chosen = self.curve_choice.currentText() or "loss"
        self.curve_choice.blockSignals(True)
        self.curve_choice.clear()
        self.curve_choice.addItems(bases)
        self.curve_choice.setCurrentIndex(max(0, bases.index(chosen) if chosen in bases else 0))
        self.curve_choice.blockSignals(False)
        self.hint.show_hint(not runs)
        self._update_buttons()
        self.redraw()

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != 0:
            return
        index = self.table.indexOfTopLevelItem(item)
        run = self.runs[index]
        ticked = item.checkState(0) == Qt.CheckState.Checked
        if ticked != (id(run) in self.ticked):
            (self.ticked.add if ticked else self.ticked.discard)(id(run))
            self.redraw()
        name = item.text(0).strip()
        if name != run.name:  # (after this signal: the rename rebuilds the list, this item too)
            QTimer.singleShot(0, lambda: self._rename(run, name))

    def _rename(self, run: Run, name: str) -> None:
        if run not in self.runs:
            return
        self._renaming = id(run) in self.ticked
        try:
            rename_run(self.document, self.runs.index(run), name)
        except ConfigError as exc:
            errors.show_error(self, "Rename run", str(exc))
            self.refresh()
        finally:
            self._renaming = None

    def set_ticked(self, index: int, ticked: bool) -> None:
        """Tick or untick run `index` (as a click on its box does)."""
        self.table.topLevelItem(index).setCheckState(
            0, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        )

    def _selected(self) -> list[int]:
        return sorted(self.table.indexOfTopLevelItem(item) for item in self.table.selectedItems())

    def _update_buttons(self) -> None:
        chosen = self._selected()
        self.delete_button.setEnabled(bool(chosen))
        has_weights = len(chosen) == 1 and bool(self.runs[chosen[0]].weights)
        self.restore_button.setEnabled(has_weights)

    def delete_selected(self) -> None:
        delete_runs(self.document, self._selected())

    def restore_selected(self) -> None:
        chosen = self._selected()
        if len(chosen) != 1:
            return
        try:
            restore_run(self.document, chosen[0])
        except ConfigError as exc:
            errors.show_error(self, "Restore run", str(exc))

    # ---------------------------------------------------------------- plots
    def ticked_runs(self) -> list[tuple[int, Run]]:
        return [(i, run) for i, run in enumerate(self.runs) if id(run) in self.ticked]

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._stale:
            self.redraw()

    def set_shown(self, shown: bool) -> None:
        """Whether the panel can be seen (its dock's tab is the current one); unseen, it does not draw."""
        self._shown = shown
        if shown and self._stale:
            self.redraw()

    def redraw(self) -> None:
        """Draw the ticked runs (when shown: a hidden panel only notes that it is out of date)."""
        self._stale = not (self._shown and self.isVisible())
        if self._stale:
            return
        key = self.curve_choice.currentText() or "loss"
        title = f"{key.replace('_', ' ').capitalize()} per epoch (validation dashed)"
        if title != self.curve_plot.getPlotItem().titleLabel.text:
            self.curve_plot.setTitle(title)
        for plot in (self.curve_plot, self.grad_plot):
            plot.clear()  # (and their legends)
        for index, run in self.ticked_runs():
            colour = run_colour(index)
            for name, dashed in ((key, False), (f"val_{key}", True)):
                if name in run.epochs:
                    pen = pg.mkPen(
                        colour, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
                    )
                    label = f"{run.name} validation" if dashed else run.name
                    xs = np.asarray(run.epoch_numbers[name], float) + 1
                    self.curve_plot.plot(
                        xs, np.asarray(run.epochs[name]), pen=pen, name=label, connect="finite"
                    )
            layers = [k for k, v in run.grad_norms.items() if any(math.isfinite(x) and x > 0 for x in v)]
            shown = [(layers[0], "first layer", True), (layers[-1], "last layer", False)] if layers else []
            for node_id, which, dashed in shown[-1:] if len(layers) == 1 else shown:
                values = np.asarray(run.grad_norms[node_id], float)
                values[~(values > 0)] = np.nan  # (log axis)
                pen = pg.mkPen(
                    colour, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
                )
                self.grad_plot.plot(
                    np.asarray(run.grad_epochs, float),
                    values,
                    pen=pen,
                    name=f"{run.name}: {which} ({node_id})",
                    connect="finite",
                )
        for plot in (self.curve_plot, self.grad_plot):
            plot.enableAutoRange()
            names = [label.text for _sample, label in plot.getPlotItem().legend.items]
            if names != self._legends.get(id(plot)):  # (a new size only for other legend texts)
                self._legends[id(plot)] = names
                keep_readable(plot)


def _metric_keys(runs: list[Run]) -> list[str]:
    """Every curve's key over the runs: loss first, each key followed by its validation key."""
    keys = list(dict.fromkeys(k for run in runs for k in run.epochs))
    bases = sorted(dict.fromkeys(k.removeprefix("val_") for k in keys), key=lambda k: (k != "loss", k))
    return [k for base in bases for k in (base, f"val_{base}") if k in keys]


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def install(window: MainWindow) -> RunsView:
    """A "Runs" dock beside the Training panel, listed in the Panels menu."""
    view = RunsView(window.document)
    window._add_dock("runs", "Runs", view, Qt.DockWidgetArea.BottomDockWidgetArea)
    dock: QDockWidget = window.docks["runs"]
    dock.visibilityChanged.connect(view.set_shown)
    window.tabifyDockWidget(window.docks["training"], dock)
    window.docks["training"].raise_()
    window.actions_.menus["panels"].addAction(dock.toggleViewAction())
    return view


if __name__ == "__main__":  # the panel on its own, for the XOR example (empty until a run is recorded)
    import sys

    from PySide6.QtWidgets import QApplication

    import engine
    from engine.examples import example_path

    app = QApplication(sys.argv)
    doc = NetworkDocument(engine.load(example_path("xor")))
    view = RunsView(doc)
    view.resize(1100, 420)
    view.show()
    sys.exit(app.exec())
