"""The Step-through panel: one sample walked through the network, forward, loss, backward and
one gradient step (see panel.py), picked from the training views (picking.py), with the node
shown marked on the canvas (canvas_marks.py). `install(window)` adds it to the main window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from gui.step_through.canvas_marks import CanvasMarks
from gui.step_through.panel import StepThroughPanel
from gui.step_through.picking import SamplePicker

if TYPE_CHECKING:
    from gui.main_window import MainWindow

DOCK = "step_through"


def install(window: MainWindow) -> StepThroughPanel:
    """Add the Step-through dock (hidden until a sample is picked), its entry in View > Panels and
    in the Lessons menu, the sample picking and the canvas marks; returns the panel."""
    panel = StepThroughPanel(window.session)
    window._add_dock(DOCK, "Step-through", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
    dock = window.docks[DOCK]
    window.splitDockWidget(window.docks["training"], dock, Qt.Orientation.Horizontal)
    dock.hide()
    window.actions_.menus["panels"].addAction(dock.toggleViewAction())
    lesson = QAction("Step through one sample…", window)
    lesson.setToolTip("Walk one training sample through the network: forward, loss, backward, update")
    lesson.triggered.connect(lambda: _open(window, panel, None))
    window.actions_.menus["lessons"].addAction(lesson)
    picker = panel.picker = SamplePicker(window.training_panel, panel)
    picker.sample_picked.connect(lambda index, split: _open(window, panel, (index, split)))
    picker.sample_browsed.connect(lambda index, split: dock.isVisible() and panel.show_sample(index, split))
    marks = panel.marks = CanvasMarks(window.view)

    def mark(view: object) -> None:
        shown = dock.isVisible() and panel.steps and view is not None
        node = panel.steps[panel.index].node if shown else None
        marks.show(node.id if node is not None else None, view if shown else None)

    panel.step_shown.connect(mark)
    dock.visibilityChanged.connect(lambda _visible: mark(panel.view))
    return panel


def _open(window: MainWindow, panel: StepThroughPanel, sample: tuple[int, str] | None) -> None:
    """Show the dock (in the Train workspace, right of the Training dock, when it was hidden) with
    `sample`, or the first training sample when none is picked yet."""
    dock, training = window.docks[DOCK], window.docks["training"]
    if not dock.isVisible():  # the Train workspace gives the bottom docks most of the height
        window.workspaces.switch("train")
    if not dock.isVisible() or window.tabifiedDockWidgets(dock):
        # at the right end of the bottom docks, not a tab behind the Training dock: the view
        # clicked in stays in sight (a split from a tabbed dock would only add a tab)
        window.removeDockWidget(dock)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock, Qt.Orientation.Horizontal)
        dock.show()
        training.show()
        window.resizeDocks([training, dock], [1, 2], Qt.Orientation.Horizontal)
    dock.raise_()
    if sample is not None:
        panel.show_sample(*sample)
    elif panel.sample is None and window.session.train_set is not None:
        panel.show_sample(0, "train")
