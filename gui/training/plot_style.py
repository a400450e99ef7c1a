"""Readable plots at any window size: legends beside or below the plot (never over the curves),
and minimum sizes that keep each title and axis label whole.

pyqtgraph draws a legend inside the ViewBox, over the data, and lays a plot out in whatever room
its widget gets: a narrow widget cuts its title and axis labels off ("Gradient norm p"). Here the
legend is a cell of the PlotItem's own grid, and the widget asks Qt's layout for the room its
texts need (the window then takes it from the canvas rather than from the plot).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

LEGEND_TEXT = "9pt"
MIN_PLOT = 90  # pixels of data area kept in each direction
_RIGHT, _BELOW = (2, 3), (4, 1)  # cells of PlotItem's grid: beside the ViewBox, under the bottom axis


class OutsideLegend(pg.LegendItem):
    """A legend laid out by its plot's grid: a new entry asks the grid for room, instead of
    LegendItem's own resize (which would move it over the plot's corner until the next layout)."""

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph's name)
        self.updateGeometry()


def outside_legend(plot: pg.PlotWidget, where: str = "right", columns: int = 1) -> pg.LegendItem:
    """A legend for `plot` beside its data ("right", one entry a row) or under its x axis
    ("below", `columns` entries a row); PlotItem.plot(name=...) adds its entries there."""
    item = plot.getPlotItem()
    legend = OutsideLegend(offset=None, labelTextSize=LEGEND_TEXT, colCount=columns)
    legend.where = where
    # no bigger than its entries: in a taller cell they would spread out, away from the top
    legend.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
    row, column = _RIGHT if where == "right" else _BELOW
    item.layout.addItem(legend, row, column)
    align = (
        Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
        if where == "right"
        else Qt.AlignmentFlag.AlignHCenter
    )
    item.layout.setAlignment(legend, align)
    item.legend = legend
    return legend


def keep_readable(plot: pg.PlotWidget, data: tuple[float, float] = (MIN_PLOT, MIN_PLOT)) -> None:
    """Ask for a widget size that shows the title, the axis labels and the legend whole, plus
    a data area of at least `data` pixels (call again after a title or label changes)."""
    item = plot.getPlotItem()
    title = item.titleLabel.item.boundingRect().width() if item.titleLabel.isVisible() else 0.0
    left, bottom = item.getAxis("left"), item.getAxis("bottom")
    bottom_label = bottom.label.boundingRect().width() if bottom.label.isVisible() else 0.0
    left_label = left.label.boundingRect().width() if left.label.isVisible() else 0.0
    legend = item.legend
    legend_size = (
        legend.effectiveSizeHint(Qt.SizeHint.PreferredSize) if isinstance(legend, OutsideLegend) else None
    )
    beside = legend_size.width() if legend_size is not None and legend.where == "right" else 0.0
    under = legend_size.height() if legend_size is not None and legend.where == "below" else 0.0
    axis_width = left.width() if left.isVisible() else 0.0
    width = max(title, bottom_label, data[0]) + axis_width + beside + 12
    height = (
        item.titleLabel.height()
        + bottom.height()
        + under
        + max(left_label, data[1], legend_size.height() if beside else 0.0)
        + 12
    )
    plot.setMinimumSize(int(width), int(height))


def scroll_when_narrow(view: QWidget) -> None:
    """Move `view`'s laid-out contents into a frameless scroll area filling it: a dock smaller
    than the plots' readable sizes scrolls them, rather than making the window grow (a tab's
    minimum size is the dock's) or cutting their texts off. Overlays stay above it."""
    inner = QWidget()
    inner.setLayout(view.layout())  # (Qt moves a widget's layout, and its widgets, to the new one)
    area = QScrollArea()
    area.setObjectName("plot_scroll")
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    outer = QVBoxLayout(view)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(area)
    area.lower()
