"""Design and Train workspaces: two dock layouts of the main window, switched from the toolbar.

Design gives the room to the canvas, the palette and the inspector; Train gives most of the
window's height to the Training dock (a run switches to it, as MATLAB's Deep Network Designer
and Neural Network Console do). Each workspace keeps the user's own dock layout: leaving one
saves its `saveState()` in AppSettings, entering one restores what was saved, else its default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

if TYPE_CHECKING:
    from gui.main_window import MainWindow

DESIGN, TRAIN = "design", "train"
_OWN = ("palette", "inspector", "history", "problems", "summary", "training")  # the layouts' docks
TRAIN_HEIGHT_SHARE = 0.62  # of the window's height, for the Training dock in the default Train layout
Area = Qt.DockWidgetArea


class Workspaces(QObject):
    changed = Signal(str)  # DESIGN or TRAIN, after the switch

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.current = DESIGN
        self._sizes_pending: str | None = None
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for key, text, keys, tip in (
            (
                DESIGN,
                "&Design",
                "Ctrl+Shift+D",
                "Design workspace: room for the canvas, the layers and the inspector",
            ),
            (
                TRAIN,
                "T&rain",
                "Ctrl+Shift+T",
                "Train workspace: room for the training plots (a run switches to it)",
            ),
        ):
            action = QAction(text, window, checkable=True)
            action.setShortcut(QKeySequence(keys))
            action.setToolTip(f"{tip} ({keys})")
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, k=key: self.switch(k))
            self.group.addAction(action)
            window.addAction(action)
            self.actions[key] = action
        self.actions[DESIGN].setChecked(True)
        self.toolbar = QToolBar("Workspace")
        self.toolbar.setObjectName("workspace_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addActions(list(self.actions.values()))

    def add_to_menu(self, menu: QMenu) -> None:
        menu.addSeparator()
        workspace = menu.addMenu("&Workspace")
        workspace.setToolTipsVisible(True)
        workspace.addActions(list(self.actions.values()))
        self.menu = workspace  # kept referenced (see Actions.menus)

    # ------------------------------------------------------------------ public
    def restore(self) -> None:
        """At start: the Design layout the user left, or the default one."""
        self.current = DESIGN
        self.actions[DESIGN].setChecked(True)
        self._enter(DESIGN)

    def switch(self, key: str) -> None:
        """Keep the current workspace's layout, then show `key`'s."""
        self.actions[key].setChecked(True)
        if key == self.current:
            return
        self.save()
        self.current = key
        self._enter(key)
        self.changed.emit(key)

    def save(self) -> None:
        self.window.settings.save_workspace_state(self.current, self.window.saveState())

    # ----------------------------------------------------------------- layouts
    def _enter(self, key: str) -> None:
        state = self.window.settings.workspace_state(key)
        if state is None or not self.window.restoreState(state):
            self.default_layout(key)

    def default_layout(self, key: str) -> None:
        """Design: palette left, inspector right, Problems | Summary below (Training behind
        Problems). Train: the Training dock across the bottom at most of the height, the
        inspector beside it for settings; palette, Problems and Summary hidden (View > Panels)."""
        w = self.window
        docks = w.docks
        # Panels added by other modules (Runs, Step-through, …) keep their area and visibility;
        # those at the bottom share the Training dock's tabs.
        others = {
            name: (w.dockWidgetArea(d), not d.isHidden()) for name, d in docks.items() if name not in _OWN
        }
        for dock in docks.values():  # out of any tab group first (re-adding keeps a dock's tabs)
            dock.setFloating(False)
            w.removeDockWidget(dock)
        w.addDockWidget(Area.LeftDockWidgetArea, docks["palette"])
        w.addDockWidget(Area.RightDockWidgetArea, docks["inspector"])
        w.addDockWidget(Area.RightDockWidgetArea, docks["history"])
        w.splitDockWidget(docks["inspector"], docks["history"], Qt.Orientation.Vertical)
        for name in ("problems", "summary", "training"):
            w.addDockWidget(Area.BottomDockWidgetArea, docks[name])
        w.splitDockWidget(docks["problems"], docks["summary"], Qt.Orientation.Horizontal)
        if key == DESIGN:
            w.tabifyDockWidget(docks["problems"], docks["training"])
            for name in _OWN:
                docks[name].setVisible(name != "history")
        else:
            w.splitDockWidget(docks["training"], docks["problems"], Qt.Orientation.Horizontal)
            for name in _OWN:
                docks[name].setVisible(name in ("training", "inspector"))
        for name, (area, shown) in others.items():
            bottom = area in (Area.BottomDockWidgetArea, Area.NoDockWidgetArea)
            w.addDockWidget(Area.BottomDockWidgetArea if bottom else area, docks[name])
            if bottom:
                w.tabifyDockWidget(docks["training"], docks[name])
            docks[name].setVisible(shown)
        docks["problems" if key == DESIGN else "training"].raise_()
        if w.isVisible():
            self._default_sizes(key)
        else:  # (sizes given before the window is shown are lost)
            self._sizes_pending = key
            w.installEventFilter(self)

    def _default_sizes(self, key: str) -> None:
        w, docks, across = self.window, self.window.docks, Qt.Orientation.Horizontal
        if key == DESIGN:
            w.resizeDocks([docks["palette"], docks["inspector"]], [220, 300], across)
            w.resizeDocks([docks["problems"], docks["summary"]], [270, 430], across)
            w.resizeDocks([docks["problems"]], [190], Qt.Orientation.Vertical)
        else:
            w.resizeDocks([docks["inspector"]], [300], across)
            w.resizeDocks(
                [docks["training"]], [int(w.height() * TRAIN_HEIGHT_SHARE)], Qt.Orientation.Vertical
            )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.window and event.type() == QEvent.Type.Show:
            self.window.removeEventFilter(self)
            if self._sizes_pending == self.current:
                self._default_sizes(self.current)
            self._sizes_pending = None
        return False
