"""The Loss Explorer (Lessons ▸ Loss Explorer…): each loss of a task drawn over the prediction
with its slope and formula, and the losses of numbers the user types.

Left: the task, its target, a tick per loss and the ticked losses' formulas. Right: the loss
and its slope d loss / d x over x (what backpropagation starts from), then two fields for
predictions and targets and a table of every loss's value on them, or why it does not apply.
Everything is computed by the engine's loss classes (gui.loss_families). It follows the open
network's loss (`follow`): on New, Open, Undo or a change of the training settings it turns to
that loss's task and marks it "your network's loss".

`python -m gui.loss_explorer` opens it on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.registry import LOSSES
from gui.actions import menu_action
from gui.loss_families import FAMILIES, FAMILY, InputError, curves, loss_table
from gui.themed_plots import colour_plot
from gui.training.plot_style import outside_legend

if TYPE_CHECKING:
    from gui.document import NetworkDocument
    from gui.main_window import MainWindow

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#d97706")
WIDTHS = (4.2, 3.2, 2.4, 1.7)  # each curve drawn thinner than the ones before: equal curves stay seen
DASHED = ("sparse_categorical_crossentropy",)
EXAMPLE = (
    "7.6, 8.0, 6.8, 8.9, 7.2, 8.3, 7.0, 8.8, 7.0, 7.6",
    "7.8, 8.2, 6.5, 9.1, 7.0, 8.5, 6.9, 8.7, 7.2, 7.8",
)


def _plot(title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setTitle(title, size="10pt")
    plot.setLabel("left", y_label)
    plot.setMinimumHeight(170)
    plot.addLine(y=0, pen=pg.mkPen((128, 128, 128, 120)))
    return plot


class LossExplorer(QWidget):
    """The explorer's contents (the dialog holds one)."""

    curves_drawn = Signal(str)  # the task key whose curves are now drawn
    table_filled = Signal(int)  # rows with a value

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.task = QComboBox()
        for family in FAMILIES:
            self.task.addItem(family.title, family.key)
        self.task.setToolTip("Which kind of output the losses are for")
        self.regression_target = QDoubleSpinBox()
        self.regression_target.setRange(-100.0, 100.0)
        self.regression_target.setSingleStep(0.5)
        self.regression_target.setValue(1.0)
        self.binary_target = QComboBox()
        self.binary_target.addItem("1 (positive class)", 1.0)
        self.binary_target.addItem("0 (negative class)", 0.0)
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setRange(0.0, 0.9)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setValue(0.1)
        self.smoothing.setPrefix("class 0, smoothing ε = ")
        self.smoothing.setToolTip(
            "Label smoothing: the target gives 1 - ε to class 0 and ε/3 to each class. "
            "Sparse cross-entropy and the sparsemax loss read a class number, so ε does not reach them."
        )
        self.targets = QStackedWidget()
        for widget in (self.regression_target, self.binary_target, self.smoothing):
            self.targets.addWidget(widget)
        self.ticks: dict[str, QCheckBox] = {}
        self.network_loss: str | None = None  # the open network's loss, marked among the ticks
        self.document: NetworkDocument | None = None
        self.tick_box = QGroupBox("Losses to show")
        self.tick_layout = QVBoxLayout(self.tick_box)
        self.formulas = QLabel()
        self.formulas.setWordWrap(True)
        self.formulas.setTextFormat(Qt.TextFormat.RichText)
        self.formulas.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formulas.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.formulas.setAccessibleName("Formulas of the shown losses")

        controls = QWidget()
        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("Target", self.targets)
        side = QVBoxLayout(controls)
        side.addLayout(form)
        side.addWidget(self.tick_box)
        side.addWidget(QLabel("<b>Formulas</b>"))
        side.addWidget(self.formulas)
        side.addWidget(QLabel("<b>What to look at</b>"))
        self.look = QLabel()
        self.look.setWordWrap(True)
        self.look.setAlignment(Qt.AlignmentFlag.AlignTop)
        side.addWidget(self.look, 1)
        controls.setMinimumWidth(300)
        controls.setMaximumWidth(380)

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.loss_plot = _plot("Loss of one sample", "loss L")
        self.slope_plot = _plot("Its slope: the gradient backpropagation starts from", "dL/dx")
        self.legends = [outside_legend(plot, "right") for plot in (self.loss_plot, self.slope_plot)]
        self.slope_plot.setXLink(self.loss_plot)
        self.lines: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DotLine))
        self.loss_plot.addItem(self.marker)

        self.predictions = QLineEdit(EXAMPLE[0])
        self.predictions.setPlaceholderText(
            "e.g. 0.9, 0.2, 0.6  (rows of class probabilities: 0.7 0.2 0.1; 0.1 0.8 0.1)"
        )
        self.predictions.setAccessibleName("Predictions")
        self.truth = QLineEdit(EXAMPLE[1])
        self.truth.setPlaceholderText("e.g. 1, 0, 1  (one class number per row: 0; 1)")
        self.truth.setAccessibleName("Targets")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Loss", "Value", "Formula, or why it does not apply"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        typed = QGroupBox("Your numbers: every loss on them, computed by the engine")
        typed_form = QFormLayout(typed)
        typed_form.addRow("Predictions ŷ", self.predictions)
        typed_form.addRow("Targets y", self.truth)
        typed_form.addRow(self.message)
        typed_form.addRow(self.table)

        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.note)
        plots_layout.addWidget(self.loss_plot, 1)
        plots_layout.addWidget(self.slope_plot, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        right.addWidget(typed)
        right.setSizes([470, 400])
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(right, 1)

        self.task.currentIndexChanged.connect(self._task_changed)
        self.regression_target.valueChanged.connect(self.redraw)
        self.binary_target.currentIndexChanged.connect(self.redraw)
        self.smoothing.valueChanged.connect(self.redraw)
        self.predictions.textChanged.connect(self.fill_table)
        self.truth.textChanged.connect(self.fill_table)
        self._apply_palette()
        self._task_changed()
        self.fill_table()

    # ------------------------------------------------------------------ curves
    def family_key(self) -> str:
        return str(self.task.currentData())

    def target(self) -> float:
        key = self.family_key()
        if key == "regression":
            return self.regression_target.value()
        if key == "binary":
            return float(self.binary_target.currentData())
        return self.smoothing.value()

    def _task_changed(self) -> None:
        family = FAMILY[self.family_key()]
        self.targets.setCurrentIndex(self.task.currentIndex())
        for box in self.ticks.values():
            self.tick_layout.removeWidget(box)
            box.hide()
            box.deleteLater()
        self.ticks = {}
        for name in family.losses:
            box = QCheckBox(f"{name}  (your network's loss)" if name == self.network_loss else name)
            box.setChecked(True)
            font = box.font()
            font.setBold(name == self.network_loss)
            box.setFont(font)
            box.setToolTip(LOSSES.get(name).description)
            box.toggled.connect(self.redraw)
            self.tick_layout.addWidget(box)
            self.ticks[name] = box
        self.note.setText(family.note)
        self.look.setText(family.look)
        for axis_plot in (self.loss_plot, self.slope_plot):
            axis_plot.setLabel("bottom", family.x_label)
        self.redraw()

    def follow(self, document: NetworkDocument) -> None:
        """Show `document`'s loss now and whenever the document is replaced or its settings change."""
        self.document = document
        document.document_reset.connect(self._document_loss)
        document.settings_changed.connect(self._document_loss)
        self._document_loss()

    def _document_loss(self) -> None:
        if self.document is None:
            return
        name = self.document.network.training.loss.type
        if name == self.network_loss:
            return
        self.network_loss = name
        index = next((i for i, family in enumerate(FAMILIES) if name in family.losses), None)
        if index is None or index == self.task.currentIndex():
            self._task_changed()  # the marks change
        else:
            self.task.setCurrentIndex(index)

    def shown(self) -> list[str]:
        return [name for name, box in self.ticks.items() if box.isChecked()]

    def redraw(self) -> None:
        """Draw the ticked losses of the task for the current target."""
        key, target = self.family_key(), self.target()
        family = FAMILY[key]
        for value_line, slope_line in self.lines.values():
            self.loss_plot.removeItem(value_line)
            self.slope_plot.removeItem(slope_line)
        for legend in self.legends:
            legend.clear()
        self.lines = {}
        names = self.shown()
        x, drawn = curves(key, target, names)
        formulas = []
        for name in names:
            index = family.losses.index(name)
            color = COLORS[index % len(COLORS)]
            style = Qt.PenStyle.DashLine if name in DASHED else Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=WIDTHS[index % len(WIDTHS)], style=style)
            values, slopes = drawn[name]
            self.lines[name] = (
                self.loss_plot.plot(x, values, pen=pen, name=name),
                self.slope_plot.plot(x, slopes, pen=pen, name=name),
            )
            formula = LOSSES.get(name).formula
            formulas.append(
                f"<p><span style='color:{color}'>■</span> <b>{name}</b><br><code>{formula}</code></p>"
            )
        self.formulas.setText("".join(formulas) or "<i>Tick a loss to see it.</i>")
        self.marker.setVisible(key == "regression")
        self.marker.setValue(target)
        self.loss_plot.setXRange(float(x[0]), float(x[-1]), padding=0.01)
        if names:
            high = max(float(np.percentile(drawn[n][0], 90)) for n in names)
            self.loss_plot.setYRange(0.0, max(high, 1e-3) * 1.15, padding=0.02)
            self.slope_plot.enableAutoRange(axis="y")
        self.curves_drawn.emit(key)

    # ------------------------------------------------------------------- table
    def fill_table(self) -> None:
        """Score the typed numbers with every loss, or say what is wrong with them."""
        try:
            rows = loss_table(self.predictions.text(), self.truth.text())
        except InputError as exc:
            self.message.setText(str(exc))
            self.message.setStyleSheet("color: #b91c1c;")
            self.table.setRowCount(0)
            self.table_filled.emit(0)
            return
        rows.sort(key=lambda row: row.value is None)  # the ones that apply first
        applicable = sum(row.value is not None for row in rows)
        self.message.setText(f"{applicable} of {len(rows)} losses apply to these numbers")
        self.message.setStyleSheet("")
        self.table.setRowCount(len(rows))
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        for index, row in enumerate(rows):
            value = "—" if row.value is None else f"{row.value:.6g}"
            items = [QTableWidgetItem(row.name), QTableWidgetItem(value), QTableWidgetItem(row.note)]
            items[1].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items[2].setToolTip(row.note)
            for item in items if row.value is None else ():
                item.setForeground(QColor(muted))
            for column, item in enumerate(items):
                self.table.setItem(index, column, item)
        self.table_filled.emit(applicable)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        """Plots in the window's colours (light or dark theme)."""
        for plot, legend in zip((self.loss_plot, self.slope_plot), self.legends, strict=True):
            text = colour_plot(plot, self.palette())
            plot.setTitle(plot.getPlotItem().titleLabel.text, size="10pt", color=text)
            legend.setLabelTextColor(text)
            for _sample, label in legend.items:
                label.setText(label.text, color=text)

    def value_of(self, name: str) -> str:
        """The table's value text for loss `name` ("—" when it does not apply)."""
        for index in range(self.table.rowCount()):
            if self.table.item(index, 0).text() == name:
                return self.table.item(index, 1).text()
        raise KeyError(name)


class LossExplorerDialog(QDialog):
    """The explorer in a window of its own, beside the main window (not modal)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Loss Explorer")
        self.explorer = LossExplorer(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.explorer)
        self.resize(1180, 900)


def install(window: MainWindow) -> LossExplorerDialog:
    """Add "Loss Explorer…" to the Lessons menu; the dialog opens (or comes to the front) on it."""
    dialog = LossExplorerDialog(window)
    dialog.explorer.follow(window.document)
    action = menu_action(
        window.actions_.menus["lessons"],
        "Loss Explorer…",
        "Each loss drawn over the prediction, with its slope and formula; try your own numbers",
        window,
    )
    action.triggered.connect(lambda: _show(dialog))
    dialog.menu_action = action
    return dialog


def _show(dialog: QDialog) -> None:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()


def _demo() -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    import engine  # noqa: F401  (registers every loss)
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    dialog = LossExplorerDialog()
    dialog.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_demo())
