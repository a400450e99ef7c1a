"""The Lessons menu and the Lesson panel.

Each lesson (engine.lessons) opens its network as a document, like an example (unmodified; Save
asks where), and shows its explanation in a dock beside the canvas: the text (Markdown: headings,
lists, tables, formulas in Unicode), one button per change the text asks to try (one undoable edit
each), the fits plot of the universal-approximation lesson, and "◂ Previous" / "Next lesson ▸".
A lesson's network opened any other way (the command line, File > Open, a recent file) shows its
lesson too. When another file is opened (or New, or a revert to another file) the panel says that
the lesson's network is no longer open and offers to reopen it.

`python -m gui.lessons` opens the window on the first lesson.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.lessons import Lesson, list_lessons
from gui.lesson_fits import WidthFitsView

if TYPE_CHECKING:
    from gui.main_window import MainWindow

DOCK_KEY = "lesson"
PANEL_WIDTH = 400  # pixels the Lesson dock asks for when a lesson opens


class LessonPanel(QWidget):
    """The text and controls of one lesson of `lessons`, for the window's document."""

    lesson_shown = Signal(int)  # index of the lesson now shown

    def __init__(self, window: MainWindow, lessons: list[Lesson], parent: QWidget | None = None):
        super().__init__(parent)
        self.main_window, self.lessons = window, lessons
        self.index: int | None = None
        self._opening = False
        self.position = QLabel()
        self.position.setStyleSheet("color: palette(mid);")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #fef3c7; color: #713f12; padding: 6px; border-radius: 4px;")
        self.reopen = QPushButton("Reopen the lesson's network")
        self.reopen.setToolTip("Open this lesson's network again, as shipped")
        self.reopen.clicked.connect(lambda: self.open_lesson(self.index or 0))
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setAccessibleName("Lesson text")
        self.text.setMinimumHeight(200)
        self.tries = QWidget()
        self.tries_layout = QVBoxLayout(self.tries)
        self.tries_layout.setContentsMargins(0, 0, 0, 0)
        self.fits: WidthFitsView | None = None
        self.fits_slot = QVBoxLayout()
        self.previous = QPushButton("◂ Previous")
        self.previous.setToolTip("Open the previous lesson")
        self.previous.clicked.connect(lambda: self.open_lesson((self.index or 0) - 1))
        self.next = QPushButton("Next lesson ▸")
        self.next.setToolTip("Open the next lesson")
        self.next.clicked.connect(lambda: self.open_lesson((self.index or 0) + 1))
        nav = QHBoxLayout()
        nav.addWidget(self.previous)
        nav.addStretch(1)
        nav.addWidget(self.position)
        nav.addStretch(1)
        nav.addWidget(self.next)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.reopen)
        layout.addWidget(self.text, 3)
        layout.addWidget(self.tries)
        layout.addLayout(self.fits_slot, 2)
        layout.addLayout(nav)
        self.setMinimumWidth(340)
        window.document.document_reset.connect(self._document_reset)
        self._set_notice("")

    @property
    def lesson(self) -> Lesson | None:
        return self.lessons[self.index] if self.index is not None else None

    def is_open(self) -> bool:
        """Whether the window's document is the shown lesson's network file."""
        return self.index is not None and self._lesson_of(self.main_window.document.path) == self.index

    def _lesson_of(self, path: Path | None) -> int | None:
        """The index of the lesson whose network file `path` is, if any."""
        if path is None:
            return None
        resolved = Path(path).resolve()
        return next(
            (i for i, lesson in enumerate(self.lessons) if Path(lesson.path).resolve() == resolved), None
        )

    def open_lesson(self, index: int) -> bool:
        """Open lesson `index`'s network (asking first to save unsaved changes) and show its text.
        False when the user cancelled or the network could not be opened (the error is shown)."""
        if not 0 <= index < len(self.lessons):
            return False
        self._opening = True
        try:
            opened = self.main_window.open_file(self.lessons[index].path)
        finally:
            self._opening = False
        if opened:
            self.show_lesson(index)
        return opened

    def show_lesson(self, index: int) -> None:
        """Show lesson `index`'s text and controls (the network is opened by `open_lesson`)."""
        self.index = index
        lesson = self.lessons[index]
        self.position.setText(f"Lesson {index + 1} of {len(self.lessons)}")
        self.previous.setEnabled(index > 0)
        self.next.setEnabled(index + 1 < len(self.lessons))
        self.text.setMarkdown(lesson.text)
        self._build_tries(lesson)
        self._build_fits(lesson)
        self._set_notice("")
        self.lesson_shown.emit(index)

    def shutdown(self) -> None:
        """Wait for a fits run to end; the window calls it (through an event filter) on close."""
        if self.fits is not None:
            self.fits.shutdown()

    # ------------------------------------------------------------------ parts
    def _build_tries(self, lesson: Lesson) -> None:
        while self.tries_layout.count():
            widget = self.tries_layout.takeAt(0).widget()
            if widget is not None:
                widget.setParent(None)  # out of the panel now, deleted later
                widget.deleteLater()
        if lesson.tries:
            self.tries_layout.addWidget(QLabel("<b>Try</b> (each is one edit: Undo takes it back)"))
        for entry in lesson.tries:
            button = QPushButton(str(entry.get("label", "Try")))
            button.setToolTip(_describe(entry))
            button.clicked.connect(lambda _c=False, e=entry: self.apply_try(e))
            self.tries_layout.addWidget(button)
        self.tries.setVisible(bool(lesson.tries))

    def _build_fits(self, lesson: Lesson) -> None:
        if self.fits is not None:
            self.fits.shutdown()
            self.fits.deleteLater()
            self.fits = None
        if lesson.fits:
            self.fits = WidthFitsView(lesson.path, str(lesson.fits["node"]), list(lesson.fits["units"]))
            self.fits_slot.addWidget(self.fits)

    def apply_try(self, entry: dict[str, Any]) -> None:
        """Make the changes of one "try" entry on the document, as one undoable edit."""
        document = self.main_window.document
        stack = document.undo_stack
        stack.beginMacro(str(entry.get("label", "Lesson change")))
        try:
            for node_id, params in (entry.get("nodes") or {}).items():
                if node_id not in document.spec.nodes:
                    raise NetCanvasError(
                        f"the lesson changes the layer '{node_id}', which this network no longer has: "
                        "reopen the lesson's network"
                    )
                document.set_node_params(node_id, params)
            if entry.get("training"):
                document.set_training({**document.spec.training, **entry["training"]})
        except NetCanvasError as exc:
            self.main_window.show_error("Cannot make the lesson's change", str(exc))
        finally:
            stack.endMacro()

    def _document_reset(self) -> None:
        if self._opening:
            return
        if not self.is_open():  # a lesson's network opened another way: show its lesson
            index = self._lesson_of(self.main_window.document.path)
            if index is not None:
                first = self.lesson is None
                self.show_lesson(index)
                _reveal(self, first)
        if self.lesson is None:
            return
        if self.is_open():
            self._set_notice("")
        else:
            self._set_notice(
                "Another network is open now: the buttons of this lesson change its network only. "
                "Reopen it to follow the lesson."
            )

    def _set_notice(self, message: str) -> None:
        self.notice.setText(message)
        self.notice.setVisible(bool(message))
        self.reopen.setVisible(bool(message))
        self.tries.setEnabled(not message)


def _describe(entry: dict[str, Any]) -> str:
    """A tooltip listing what a "try" entry changes."""
    parts = [
        f"{node}: " + ", ".join(f"{key} = {value}" for key, value in params.items())
        for node, params in (entry.get("nodes") or {}).items()
    ]
    for key, value in (entry.get("training") or {}).items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        parts.append(f"training {key}: {value}")
    return "Changes " + "; ".join(parts)


class _CloseWatcher(QObject):
    """Stops the panel's fits run when the window closes."""

    def __init__(self, panel: LessonPanel):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Close:
            self.panel.shutdown()
        return False


def install(window: MainWindow) -> LessonPanel:
    """Add the Lesson dock (hidden until a lesson opens) and the lessons, first in the Lessons menu,
    followed by a separator."""
    panel = LessonPanel(window, list_lessons())
    window._add_dock(DOCK_KEY, "Lesson", panel, Qt.DockWidgetArea.RightDockWidgetArea)
    dock = window.docks[DOCK_KEY]
    dock.hide()
    # A workspace's default layout places the docks it knows and leaves this one out of the layout:
    # put it back behind the inspector, shown only once a lesson was opened.
    window.workspaces.changed.connect(lambda _key: _place_dock(panel))
    QTimer.singleShot(0, lambda: _place_dock(panel))
    window.actions_.menus["panels"].addAction(dock.toggleViewAction())
    menu: QMenu = window.actions_.menus["lessons"]
    before = menu.actions()[0] if menu.actions() else None
    for index, lesson in enumerate(panel.lessons):
        action = menu.addAction(f"&{index + 1 if index < 9 else chr(ord('A') + index - 9)}  {lesson.name}")
        action.setToolTip(lesson.description)
        action.setStatusTip(lesson.description)
        action.triggered.connect(lambda _c=False, i=index: _open(panel, i))
        if before is not None:
            menu.removeAction(action)
            menu.insertAction(before, action)
    if before is not None:
        menu.insertSeparator(before)
    else:
        menu.addSeparator()
    window.installEventFilter(_CloseWatcher(panel))
    return panel


def _place_dock(panel: LessonPanel) -> None:
    window = panel.main_window
    dock = window.docks[DOCK_KEY]
    if window.dockWidgetArea(dock) == Qt.DockWidgetArea.NoDockWidgetArea and not dock.isFloating():
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        window.tabifyDockWidget(window.docks["inspector"], dock)
        dock.setVisible(panel.lesson is not None)


def _open(panel: LessonPanel, index: int) -> None:
    """Open lesson `index` from the menu and bring its panel to the front."""
    first = panel.lesson is None
    if panel.open_lesson(index):
        _reveal(panel, first)


def _reveal(panel: LessonPanel, first: bool) -> None:
    """Bring the Lesson dock to the front; the `first` time a lesson shows, as a tab behind the
    inspector (the text gets the window's height; where the user moves it, it stays)."""
    window = panel.main_window
    dock = window.docks[DOCK_KEY]
    _place_dock(panel)
    if first and not dock.isFloating() and window.docks["inspector"].isVisible():
        window.tabifyDockWidget(window.docks["inspector"], dock)
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [PANEL_WIDTH], Qt.Orientation.Horizontal)


def _main() -> None:
    import sys

    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication(sys.argv)
    main = MainWindow()
    main.show()
    _open(main.lessons, 0)
    sys.exit(app.exec())


if __name__ == "__main__":
    _main()
