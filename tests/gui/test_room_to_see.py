"""Room to see: at 1280x800 and 1920x1080, in the Train workspace a run switches to, every plot
shows its title, axis labels and legend whole, no legend over the data, the whole confusion matrix
with a count in every cell, and every misclassified sample with its "true→predicted" caption."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QRect, QRectF
from PySide6.QtWidgets import QScrollArea

from gui.examples import EXAMPLES_DIR
from gui.main_window import MainWindow
from gui.training.confusion_view import SAMPLE_TILES
from gui.training.session import IDLE

SIZES = [(1280, 800), (1920, 1080)]


def show_tab(window: MainWindow, qtbot, name: str):
    tabs = window.training_panel.tabs
    tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(name))
    window.training_panel.redraw(everything=True)
    qtbot.wait(30)
    return tabs.currentWidget()


def view_rect(plot: pg.PlotWidget, item) -> QRectF:
    """An item's rectangle in the plot widget's pixels."""
    return plot.viewportTransform().mapRect(item.sceneBoundingRect())


def assert_readable(plot: pg.PlotWidget) -> None:
    item = plot.getPlotItem()
    name = item.titleLabel.text or "untitled plot"
    shown = QRectF(plot.viewport().rect()).adjusted(-1, -1, 1, 1)  # (pen widths)
    assert plot.isVisible(), name
    on_window = QRect(plot.mapTo(plot.window(), QPoint(0, 0)), plot.size())
    assert plot.window().rect().contains(on_window), f"{name}: outside the window"
    assert shown.contains(view_rect(plot, item.vb)), f"{name}: its data area is cut off"
    if item.titleLabel.isVisible() and item.titleLabel.text:
        title = item.titleLabel
        assert title.item.boundingRect().width() <= title.width() + 0.5, f"{name}: the title is cut"
        assert shown.contains(view_rect(plot, title)), f"{name}: the title is outside the plot"
    for side in ("bottom", "left"):
        axis = item.getAxis(side)
        if axis.isVisible() and axis.label.isVisible() and axis.labelText:
            length = axis.width() if side == "bottom" else axis.height()
            assert axis.label.boundingRect().width() <= length, f"{name}: '{axis.labelText}' is cut"
            assert shown.contains(view_rect(plot, axis)), f"{name}: the {side} axis is cut off"
    legend = item.legend
    if legend is not None and legend.items:
        overlap = legend.sceneBoundingRect().intersected(item.vb.sceneBoundingRect())
        assert overlap.width() < 1 or overlap.height() < 1, f"{name}: the legend covers the data {overlap}"
        assert shown.contains(view_rect(plot, legend)), f"{name}: the legend is cut off"


def assert_no_scrolling_needed(view) -> None:
    for area in view.findChildren(QScrollArea, "plot_scroll"):
        assert not area.horizontalScrollBar().isVisible() and not area.verticalScrollBar().isVisible()


@pytest.mark.parametrize("size", SIZES)
def test_health_and_curves_are_readable_with_legends_beside_the_data(window, qtbot, size):
    window.resize(*size)
    assert window.load_path(EXAMPLES_DIR / "vanishing_gradients.json")  # nine layers in the legend
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: len(window.training_panel.health.times) >= 3, timeout=30000)
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=10000)
    assert window.workspaces.current == "train"
    health = show_tab(window, qtbot, "Health")
    assert len(health.grad_plot.getPlotItem().legend.items) == 9
    for plot in (health.grad_plot, health.fraction_plot, health.hist_plot):
        assert_readable(plot)
    assert_no_scrolling_needed(health)
    curves = show_tab(window, qtbot, "Curves")
    for plot in (curves.loss_plot, curves.metric_plot):
        assert_readable(plot)
    assert_no_scrolling_needed(curves)


@pytest.mark.parametrize("size", SIZES)
def test_the_whole_confusion_matrix_and_every_caption_are_shown(window, qtbot, size):
    window.resize(*size)
    window.workspaces.actions["train"].trigger()
    results = show_tab(window, qtbot, "Results")
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 784)).astype(np.float32), rng.integers(0, 10, 60)
    results.set_validation(x, y)
    matrix = rng.integers(0, 20, (10, 10))
    np.fill_diagonal(matrix, rng.integers(900, 1200, 10))  # four-digit counts, as MNIST gives
    wrong = np.arange(SAMPLE_TILES + 5)
    predicted = (y[wrong] + 1) % 10
    results.update_epoch(matrix, wrong, rng.normal(size=(784, 12)).astype(np.float32), predicted)
    window.training_panel.redraw(everything=True)
    qtbot.wait(30)
    assert_readable(results.plot)
    assert_no_scrolling_needed(results)
    counts = results.counts.shown_labels()
    assert len(counts) == 100, "some cells have no number"
    data = view_rect(results.plot, results.plot.getPlotItem().vb)
    for text, box in counts:
        assert data.contains(box), f"count {text} is outside the visible matrix"
    assert {text for text, _box in counts} == {str(v) for v in matrix.ravel()}
    assert min(box.height() for _t, box in counts) >= 10  # legible: 8 pt and up
    captions = results.captions.shown_labels()
    assert [text for text, _box in captions] == [
        f"{y[i]}→{p}" for i, p in zip(wrong[:SAMPLE_TILES], predicted, strict=False)
    ]
    shown = QRectF(results.samples.viewport().rect())
    assert all(shown.contains(box) for _text, box in captions)
