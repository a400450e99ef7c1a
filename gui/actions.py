"""The main window's actions, menus and toolbar (the handlers live in gui/main_window.py).

Every action has a shortcut where one is usual, a status tip and a tooltip naming the shortcut.
Icons are QStyle standard icons, or small glyphs drawn here in the palette's text colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QMenu, QStyle, QToolBar

from gui.examples import list_examples
from gui.theme import THEME_MODES, icon_canvas

if TYPE_CHECKING:
    from gui.main_window import MainWindow

Key = QKeySequence.StandardKey


def menu_action(menu: QMenu, text: str, tip: str, parent: QObject, *, checkable: bool = False) -> QAction:
    """A new action at the end of `menu`, whose tooltip is also its status-bar tip."""
    action = QAction(text, parent, checkable=checkable)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    menu.addAction(action)
    return action


def drawn_icon(kind: str, palette: QPalette, size: int = 24) -> QIcon:
    """Simple line icons for zoom in/out, fit, auto-layout, training settings and the curved
    undo / redo arrows, in the palette's text colour (redrawn when the theme changes)."""
    pixmap, painter = icon_canvas(size)
    pen = QPen(palette.color(QPalette.ColorRole.WindowText), size / 12)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    s = float(size)
    if kind in ("zoom_in", "zoom_out"):
        painter.drawEllipse(QPointF(s * 0.42, s * 0.42), s * 0.26, s * 0.26)
        painter.drawLine(QPointF(s * 0.61, s * 0.61), QPointF(s * 0.86, s * 0.86))
        painter.drawLine(QPointF(s * 0.3, s * 0.42), QPointF(s * 0.54, s * 0.42))
        if kind == "zoom_in":
            painter.drawLine(QPointF(s * 0.42, s * 0.3), QPointF(s * 0.42, s * 0.54))
    elif kind == "fit":
        for x, y, dx, dy in (
            (0.15, 0.15, 1, 1),
            (0.85, 0.15, -1, 1),
            (0.15, 0.85, 1, -1),
            (0.85, 0.85, -1, -1),
        ):
            painter.drawLine(QPointF(s * x, s * y), QPointF(s * (x + 0.2 * dx), s * y))
            painter.drawLine(QPointF(s * x, s * y), QPointF(s * x, s * (y + 0.2 * dy)))
        painter.drawRect(QRectF(s * 0.35, s * 0.38, s * 0.3, s * 0.24))
    elif kind == "layout":
        boxes = [
            QRectF(s * 0.08, s * 0.4, s * 0.2, s * 0.2),
            QRectF(s * 0.42, s * 0.15, s * 0.2, s * 0.2),
            QRectF(s * 0.42, s * 0.65, s * 0.2, s * 0.2),
            QRectF(s * 0.74, s * 0.4, s * 0.2, s * 0.2),
        ]
        for box in boxes:
            painter.drawRoundedRect(box, s * 0.04, s * 0.04)
        for a, b in ((0, 1), (0, 2), (1, 3), (2, 3)):
            painter.drawLine(
                QPointF(boxes[a].right(), boxes[a].center().y()),
                QPointF(boxes[b].left(), boxes[b].center().y()),
            )
    elif kind in ("undo", "redo"):
        if kind == "redo":  # the undo arrow, mirrored
            painter.translate(s, 0)
            painter.scale(-1, 1)
        hook = QPainterPath(QPointF(s * 0.3, s * 0.4))
        hook.lineTo(QPointF(s * 0.58, s * 0.4))
        hook.arcTo(QRectF(s * 0.4, s * 0.4, s * 0.4, s * 0.38), 90, -180)
        hook.lineTo(QPointF(s * 0.36, s * 0.78))
        painter.drawPath(hook)
        painter.setBrush(palette.color(QPalette.ColorRole.WindowText))
        painter.drawPolygon(
            QPolygonF([QPointF(s * 0.1, s * 0.4), QPointF(s * 0.34, s * 0.2), QPointF(s * 0.34, s * 0.6)])
        )
    elif kind == "settings":
        for i, y in enumerate((0.28, 0.5, 0.72)):
            painter.drawLine(QPointF(s * 0.15, s * y), QPointF(s * 0.85, s * y))
            knob = (0.35, 0.65, 0.45)[i]
            painter.setBrush(palette.color(QPalette.ColorRole.Window))
            painter.drawEllipse(QPointF(s * knob, s * y), s * 0.08, s * 0.08)
    painter.end()
    return QIcon(pixmap)


class Actions:
    """Creates every action of `window`, then its menus and toolbar."""

    def __init__(self, window: MainWindow):
        self.window = window
        w = window
        style = w.style()
        std = style.standardIcon
        SP = QStyle.StandardPixmap

        def make(text, slot, shortcut=None, tip="", icon=None):
            action = QAction(text, w)
            if shortcut is not None:
                shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
                action.setShortcuts([QKeySequence(s) for s in shortcuts])
            if icon is not None:
                action.setIcon(icon)
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            plain = text.replace("&", "").replace("…", "")
            action.setToolTip(f"{tip or plain} ({keys})" if keys else (tip or plain))
            action.setStatusTip(tip or plain)
            action.triggered.connect(slot)
            w.addAction(action)  # shortcuts work even with the menu bar hidden
            return action

        self.new = make("&New", w.new_file, Key.New, "Start an empty network", std(SP.SP_FileIcon))
        self.open = make(
            "&Open…",
            lambda: w.open_file(),
            Key.Open,
            "Open a network file (.json or .ncv)",
            std(SP.SP_DialogOpenButton),
        )
        self.examples = make(
            "&Browse Examples…",
            w.show_examples,
            "Ctrl+Shift+E",
            "Browse the example networks with a preview of each",
            std(SP.SP_FileDialogContentsView),
        )
        self.save = make("&Save", w.save_file, Key.Save, "Save the network", std(SP.SP_DialogSaveButton))
        self.save_as = make(
            "Save &As…",
            w.save_file_as,
            "Ctrl+Shift+S",
            "Save the network under a new name (.json: settings; .ncv: with weights)",
        )
        self.revert = make(
            "&Revert",
            w.revert_file,
            None,
            "Discard the changes since the last save",
            std(SP.SP_BrowserReload),
        )
        self.export_png = make("Export Canvas as &PNG…", w.export_png, None, "Save a picture of the network")
        self.export_svg = make(
            "Export Canvas as S&VG…", w.export_svg, None, "Save a scalable drawing of the network"
        )
        self.quit = make("&Quit", w.close, Key.Quit, "Close the window")

        stack = w.document.undo_stack
        self.undo = stack.createUndoAction(w, "&Undo")
        self.undo.setShortcuts([QKeySequence(Key.Undo)])
        self.undo.setIcon(drawn_icon("undo", w.palette()))
        self.undo.setProperty("shortcut_name", "Undo")  # its text names the edit it undoes
        self.redo = stack.createRedoAction(w, "&Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")])
        self.redo.setIcon(drawn_icon("redo", w.palette()))
        self.redo.setProperty("shortcut_name", "Redo")
        for action, tip in (
            (self.undo, "Undo the last edit (Ctrl+Z)"),
            (self.redo, "Redo the edit just undone (Ctrl+Y or Ctrl+Shift+Z)"),
        ):
            action.setToolTip(tip)
            action.setStatusTip(tip)
            w.addAction(action)
        self.cut = make("Cu&t", w.cut, Key.Cut, "Copy the selected layers and remove them")
        self.copy = make("&Copy", w.copy, Key.Copy, "Copy the selected layers (also into other windows)")
        self.paste = make("&Paste", w.paste, Key.Paste, "Paste copied layers")
        self.duplicate = make("&Duplicate", w.duplicate, "Ctrl+D", "Copy and paste the selected layers")
        self.delete = make(
            "De&lete",
            w.delete_selection,
            Key.Delete,
            "Remove the selected layers and connections",
            std(SP.SP_TrashIcon),
        )
        self.select_all = make("Select &All", w.select_all, Key.SelectAll, "Select every layer")
        self.history = make(
            "&History", w.show_history, "Ctrl+H", "Show the list of edits (click one to go back)"
        )

        pal = w.palette()
        self.zoom_in = make(
            "Zoom &In", w.view.zoom_in, [Key.ZoomIn, "Ctrl+="], "Zoom in", drawn_icon("zoom_in", pal)
        )
        self.zoom_out = make(
            "Zoom &Out", w.view.zoom_out, Key.ZoomOut, "Zoom out", drawn_icon("zoom_out", pal)
        )
        self.reset_zoom = make("&Actual Size", w.view.reset_zoom, "Ctrl+1", "Zoom to 100 %")
        self.fit = make(
            "&Fit Network", w.view.fit_to_view, "Ctrl+0", "Show the whole network", drawn_icon("fit", pal)
        )
        self.auto_layout = make(
            "Auto-&Layout",
            w.auto_layout,
            "Ctrl+L",
            "Arrange the layers left to right (undoable)",
            drawn_icon("layout", pal),
        )
        self.training_settings = make(
            "&Training Settings…",
            w.show_training_settings,
            None,
            "Show the loss, optimizer and data settings in the inspector",
            drawn_icon("settings", pal),
        )
        self.shortcuts = make(
            "&Keyboard Shortcuts", w.show_shortcuts, Key.HelpContents, "List the keyboard shortcuts"
        )
        self.about = make("&About NetCanvas", w.show_about, None, "Version and credits")
        self.theme_group = QActionGroup(w)
        self.themes: dict[str, QAction] = {}
        for mode in THEME_MODES:
            action = QAction(mode.capitalize(), w, checkable=True)
            action.setToolTip(
                {
                    "system": "Follow the desktop's light/dark setting",
                    "light": "Always light",
                    "dark": "Always dark",
                }[mode]
            )
            action.setStatusTip(action.toolTip())
            action.triggered.connect(lambda _checked, m=mode: w.set_theme(m))
            self.theme_group.addAction(action)
            self.themes[mode] = action

    def refresh_icons(self) -> None:
        """Redraw the drawn icons in the current palette (after a theme switch)."""
        pal = self.window.palette()
        for action, kind in (
            (self.zoom_in, "zoom_in"),
            (self.zoom_out, "zoom_out"),
            (self.fit, "fit"),
            (self.auto_layout, "layout"),
            (self.training_settings, "settings"),
            (self.undo, "undo"),
            (self.redo, "redo"),
        ):
            action.setIcon(drawn_icon(kind, pal))

    def build_menus(self) -> QMenu:
        """Fill the menu bar; returns the Open Recent menu (rebuilt by the window)."""
        bar = self.window.menuBar()
        self.file_menu = file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new, self.open])
        recent = file_menu.addMenu("Open &Recent")
        examples = file_menu.addMenu("E&xamples")
        self._fill_examples_menu(examples)
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as, self.revert])
        file_menu.addSeparator()
        file_menu.addActions([self.export_png, self.export_svg])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo, self.redo])
        edit.addSeparator()
        edit.addActions([self.cut, self.copy, self.paste, self.duplicate, self.delete, self.select_all])
        edit.addSeparator()
        edit.addActions([self.auto_layout, self.history])

        view = bar.addMenu("&View")
        view.addActions([self.zoom_in, self.zoom_out, self.reset_zoom, self.fit])
        view.addSeparator()
        panels = view.addMenu("&Panels")
        for dock in self.window.docks.values():
            panels.addAction(dock.toggleViewAction())
        panels.addAction(self.window.toolbar.toggleViewAction())
        theme = view.addMenu("&Theme")
        theme.addActions(list(self.themes.values()))

        self.train_menu = train = bar.addMenu("&Train")
        train.addAction(self.training_settings)
        # filled by the lesson and explorer modules when the window installs them
        lessons = bar.addMenu("&Lessons")

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts, self.about])
        # kept referenced: PySide invalidates a wrapper fetched later through QAction.menu()
        self.menus = {
            "file": file_menu,
            "recent": recent,
            "examples": examples,
            "edit": edit,
            "view": view,
            "panels": panels,
            "theme": theme,
            "train": train,
            "lessons": lessons,
            "help": help_menu,
        }
        for menu in self.menus.values():
            menu.setToolTipsVisible(True)
        return recent

    def _fill_examples_menu(self, menu: QMenu) -> None:
        """One entry per bundled example (tooltip: its description), then the browser with previews."""
        for example in list_examples():
            action = menu.addAction(example.name)
            action.setData(str(example.path))
            action.setToolTip(example.description or example.path.name)
            action.setStatusTip(example.description)
            action.triggered.connect(lambda _c=False, p=example.path: self.window.open_file(p))
        menu.addSeparator()
        menu.addAction(self.examples)

    def build_toolbar(self) -> QToolBar:
        toolbar = QToolBar("Main toolbar")
        toolbar.setObjectName("main_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        toolbar.addActions([self.new, self.open, self.save])
        toolbar.addSeparator()
        toolbar.addActions([self.undo, self.redo, self.delete])
        toolbar.addSeparator()
        toolbar.addActions([self.zoom_in, self.zoom_out, self.fit, self.auto_layout])
        toolbar.addSeparator()
        toolbar.addAction(self.training_settings)
        return toolbar
