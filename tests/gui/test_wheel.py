"""The mouse wheel over the Inspector scrolls it: spin boxes, combo boxes and sliders take the
wheel only once they have the focus (Qt's StrongFocus convention), so wheeling down a form never
changes a value or pushes an undo entry on the way."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QSlider, QWidget

import engine  # noqa: F401  (registers every layer type)
from gui.examples import EXAMPLES_DIR

DOWN = -120  # one wheel click away from the user


@pytest.fixture
def window(window, qtbot):
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    window.document.set_selection([])  # the inspector shows the training settings
    qtbot.waitUntil(lambda: window.inspector.verticalScrollBar().maximum() > 0)
    return window


def wheel(widget: QWidget, at: QPoint, clicks: int = 1) -> None:
    """Wheel clicks at `at` (in `widget`'s coordinates), delivered as a real mouse's are: to the
    widget under the pointer at that moment, then to its parents while they ignore it. (Qt
    propagates only spontaneous wheel events, which a test cannot make: the loop below is what
    QApplication::notify does for them.)"""
    for _ in range(abs(clicks)):
        target = widget.childAt(at) or widget
        while target is not None:
            local = QPointF(at if target is widget else target.mapFrom(widget, at))
            event = QWheelEvent(
                local,
                QPointF(target.mapToGlobal(local)),
                QPoint(0, 0),
                QPoint(0, DOWN if clicks < 0 else -DOWN),
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
                Qt.ScrollPhase.NoScrollPhase,
                False,
            )
            if (QApplication.sendEvent(target, event) and event.isAccepted()) or target.isWindow():
                break
            target = target.parentWidget()


def test_wheel_over_the_training_settings_scrolls_and_changes_nothing(window):
    inspector, stack = window.inspector, window.document.undo_stack
    batch = window.inspector.page.loop_form.fields["batch_size"].input
    assert isinstance(batch, QAbstractSpinBox)
    window.view.setFocus()  # the pointer is over the inspector, the focus elsewhere
    before = window.document.spec.training.copy(), stack.count(), batch.value()
    inspector.ensureWidgetVisible(batch)
    pointer = batch.mapTo(inspector, batch.rect().center())
    assert inspector.childAt(pointer) is batch.lineEdit()  # the pointer rests on Batch size
    bar = inspector.verticalScrollBar()
    start = bar.value()
    assert start < bar.maximum()
    wheel(inspector, pointer, clicks=-30)  # passes over the inputs below it too
    assert bar.value() > start  # the inspector scrolled
    assert (window.document.spec.training, stack.count(), batch.value()) == before
    wheel(inspector, pointer, clicks=30)
    assert bar.value() < start
    assert (window.document.spec.training, stack.count(), batch.value()) == before


def value_of(widget: QWidget) -> object:
    return (
        widget.currentIndex()
        if isinstance(widget, QComboBox)
        else widget.text()
        if isinstance(widget, QAbstractSpinBox)
        else widget.value()
    )


def test_no_input_anywhere_takes_the_wheel_unfocused(window, qtbot):
    """Every spin box, combo box and slider of the window: a layer's editors, and each tab of the
    Training panel (the Data tab's source settings among them)."""
    window.document.set_selection(["hidden1"])
    window.docks["training"].show()
    window.docks["training"].raise_()
    tabs = window.training_panel.tabs
    count = window.document.undo_stack.count()
    state = (window.document.spec.to_dict(), window.document.spec.training, window.document.spec.data)
    checked = 0
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        QApplication.processEvents()
        inputs = [
            w
            for kind in (QAbstractSpinBox, QComboBox, QSlider)
            for w in window.findChildren(kind)
            if w.isVisible()
        ]
        for widget in inputs:
            assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus, widget
            before = value_of(widget)
            wheel(widget, widget.rect().center(), clicks=-3)
            wheel(widget, widget.rect().center(), clicks=3)
            assert value_of(widget) == before, widget
            checked += 1
    assert checked >= 8
    assert window.document.undo_stack.count() == count
    assert (window.document.spec.to_dict(), window.document.spec.training, window.document.spec.data) == state


def test_a_focused_spin_box_still_takes_the_wheel(window, qtbot):
    window.document.set_selection(["hidden1"])
    units = window.inspector.page.form.fields["units"].input
    window.activateWindow()
    units.setFocus()
    qtbot.waitUntil(units.hasFocus)
    value = units.value()
    wheel(units, units.rect().center(), clicks=1)
    assert units.value() == value + 1
    assert window.document.spec.nodes["hidden1"].params["units"] == value + 1
    window.actions_.undo.trigger()
    assert window.document.spec.nodes["hidden1"].params["units"] == value


def test_wheel_over_the_activation_plot_scrolls_the_inspector(window):
    """A layer's page shows its activation's curve; wheeling down the page over that plot goes on
    scrolling the page (the plot neither zooms nor keeps the wheel)."""
    window.document.set_selection(["hidden1"])
    inspector = window.inspector
    plot = inspector.page.plot.plot
    view_range = plot.getPlotItem().viewRange()
    inspector.ensureWidgetVisible(plot)
    QApplication.processEvents()
    bar = inspector.verticalScrollBar()
    start = bar.value()
    pointer = plot.mapTo(inspector, plot.rect().center())
    assert inspector.childAt(pointer) is plot.viewport()
    wheel(inspector, pointer, clicks=-5)
    assert bar.value() > start
    assert plot.getPlotItem().viewRange() == view_range
