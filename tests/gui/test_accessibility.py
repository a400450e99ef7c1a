"""Every action, button, tab page, input, list, table and plot has a name for screen readers.

The window is walked as a user would see it: a loaded example, every panel tab and training tab
shown in turn, a layer selected (the inspector builds its editors), the examples browser open.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QGraphicsView,
    QLineEdit,
    QPushButton,
    QSlider,
    QTabBar,
    QTabWidget,
    QWidget,
)

import engine  # noqa: F401  (registers every layer type)
from gui.accessibility import derive_name
from gui.examples import EXAMPLES_DIR
from gui.examples_dialog import ExamplesDialog
from gui.main_window import MainWindow

NAMED = (
    QAbstractButton,
    QSlider,
    QComboBox,
    QAbstractSpinBox,
    QLineEdit,
    QAbstractItemView,
    QTabBar,
    QGraphicsView,
)  # (pyqtgraph's plots are QGraphicsViews, and so is the canvas)


@pytest.fixture
def window(window):
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    return window


def unnamed(root: QWidget) -> set[str]:
    """The visible widgets of the checked kinds without an accessible name (and tab pages)."""
    QApplication.processEvents()
    missing = set()
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible() or (isinstance(widget, QTabBar) and widget.count() == 0):
            continue  # (QMainWindow keeps an empty dock tab bar for later: it shows nothing)
        if isinstance(widget, NAMED) and not widget.accessibleName():
            missing.add(
                f"{type(widget).__name__} {widget.objectName()!r} in {type(widget.parentWidget()).__name__}"
            )
        if isinstance(widget, QTabWidget):
            for index in range(widget.count()):
                if not widget.widget(index).accessibleName():
                    missing.add(f"tab page {widget.tabText(index)!r}")
    return missing


def every_tab_shown(window: MainWindow) -> set[str]:
    """Show each dock and each tab of every tab widget in turn, collecting what lacks a name."""
    missing = unnamed(window)
    for dock in window.findChildren(QDockWidget):
        dock.show()
        dock.raise_()
        missing |= unnamed(window)
    for tabs in window.findChildren(QTabWidget):
        for index in range(tabs.count()):
            tabs.setCurrentIndex(index)
            missing |= unnamed(window)
    return missing


def test_every_widget_and_action_has_a_name(window, qtbot, monkeypatch):
    missing = every_tab_shown(window)  # the training settings in the inspector
    window.document.set_selection(["hidden1"])  # a layer's editors, activation plot included
    missing |= unnamed(window)
    window.document.set_selection(["in"])
    missing |= unnamed(window)

    seen: list[ExamplesDialog] = []

    def look(dialog: ExamplesDialog) -> int:
        dialog.show()
        qtbot.waitExposed(dialog)
        missing.update(f"examples: {m}" for m in unnamed(dialog))
        seen.append(dialog)
        dialog.reject()
        return 0

    monkeypatch.setattr(ExamplesDialog, "exec", look)
    window.actions_.examples.trigger()  # File > Examples > Browse Examples…
    assert seen
    assert sorted(missing) == [], "\n".join(sorted(missing))

    actions = [a for a in window.findChildren(QAction) if not a.isSeparator()]
    assert len(actions) > 40
    assert [a.objectName() or repr(a) for a in actions if not a.text().replace("&", "").strip()] == []


def test_names_follow_what_the_user_reads(window):
    controls = window.training_controls
    train_button = window.toolbar.widgetForAction(controls.train)
    assert train_button.accessibleName() == "Train"
    controls.train.setText("&Resume")  # as when a run is paused
    train_button.repaint()
    assert train_button.accessibleName() == "Resume"
    controls.train.setText("&Train")
    batch = window.inspector.page.loop_form.fields["batch_size"].input
    assert batch.accessibleName() == "Batch size"  # its form label
    assert batch.lineEdit().accessibleName() == "Batch size"
    explicit = QPushButton("Go", window)
    explicit.setAccessibleName("Start the run")
    explicit.show()
    QApplication.processEvents()
    assert explicit.accessibleName() == "Start the run"  # a name given by the code is kept
    assert derive_name(explicit) == "Go"


def test_naming_keeps_no_wrapper_of_a_layout_item(qtbot):
    """PySide keeps the wrapper of a layout item read with `itemAt` alive with its layout; when
    Qt deletes the item (its widget removed), the wrapper stays registered at a freed address,
    and a widget or undo command allocated there later is taken for a QWidgetItem (seen as an
    AttributeError in topLevelWidgets() and a segfault in QUndoStack.clear())."""
    import shiboken6
    from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QWidgetItem

    page = QWidget()
    qtbot.addWidget(page)
    form = QFormLayout(page)
    rate = QLineEdit()
    form.addRow("Learning rate", rate)
    row = QHBoxLayout()
    beta = QLineEdit()
    row.addWidget(beta)
    form.addRow(QLabel("Beta 1"), row)
    page.show()
    QApplication.processEvents()  # (names are given when a widget is polished)
    assert (rate.accessibleName(), beta.accessibleName()) == ("Learning rate", "Beta 1")
    kept = [
        item
        for item in shiboken6.getAllValidWrappers()
        if isinstance(item, QWidgetItem) and item.widget() in (rate, beta)
    ]
    assert kept == []
