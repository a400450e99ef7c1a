"""MainWindow: the canvas in the middle, palette left, inspector right, panels below.

The window owns no network state: it holds a NetworkDocument and routes menu commands to it.
File dialogs and questions go through the static QFileDialog / QMessageBox functions (tests
replace them); errors go through `show_error` to gui.errors, where every error is shown.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QUndoView,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.examples import is_example, is_examples_folder
from gui import accessibility, errors
from gui.actions import Actions
from gui.app_settings import AppSettings
from gui.canvas import CanvasView
from gui.document import FRAGMENT_MIME, NetworkDocument
from gui.examples_dialog import ExamplesDialog
from gui.export_actions import build_model_menus
from gui.gui_thread_gc import collect_on_gui_thread
from gui.inspector import InspectorWidget
from gui.lessons import install as install_lessons
from gui.loss_explorer import install as install_loss_explorer
from gui.palette import PaletteWidget
from gui.param_editors import install_wheel_guard
from gui.problems import ProblemsWidget
from gui.step_through import install as install_step_through
from gui.summary_view import SummaryView, total_parameters
from gui.theme import apply_theme
from gui.training.panel import TrainingPanel
from gui.training.run_buttons import TrainingControls
from gui.training.runs_view import install as install_runs
from gui.training.session import TrainingSession
from gui.training.watch import install as install_watch
from gui.workspaces import Workspaces

APP_TITLE = "NetCanvas"
FILE_FILTER = "NetCanvas networks (*.json *.ncv);;All files (*)"
SAVE_FILTERS = "Network settings (*.json);;Network with trained weights (*.ncv)"


class MainWindow(QMainWindow):
    def __init__(
        self,
        document: NetworkDocument | None = None,
        settings: AppSettings | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        accessibility.install()  # every widget shown from now on gets a screen-reader name
        collect_on_gui_thread()  # Qt objects in garbage cycles are freed on this thread only
        install_wheel_guard()  # spin boxes, combo boxes and sliders: the wheel only once focused
        self.document = document if document is not None else NetworkDocument(parent=self)
        self.settings = settings if settings is not None else AppSettings()
        self.view = CanvasView(self.document)
        self.view.setToolTip("")
        self.view.setAccessibleName("Network canvas")
        self.setCentralWidget(self.view)
        self.docks: dict[str, QDockWidget] = {}
        self.palette_panel = PaletteWidget(self.document, self.view_centre)
        self.inspector = InspectorWidget(self.document)
        self.problems = ProblemsWidget(self.document)
        self.summary = SummaryView(self.document)
        self.session = TrainingSession(self.document, self)
        training = self.training_panel = TrainingPanel(self.session, self.view)
        self.history = QUndoView(self.document.undo_stack)
        self.history.setEmptyLabel("<opened>")
        self.history.setToolTip("Every edit; click one to go back to that point")
        self._add_dock("palette", "Layers", self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.docks["palette"].setMinimumWidth(210)  # wide plots below must not squeeze the palette
        self._add_dock("inspector", "Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._add_dock("history", "History", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.docks["inspector"], self.docks["history"], Qt.Orientation.Vertical)
        self.docks["history"].hide()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        for key, title, widget in (
            ("problems", "Problems", self.problems),
            ("summary", "Summary", self.summary),
            ("training", "Training", training),
        ):
            self._add_dock(key, title, widget, bottom)
        # problems and summary side by side, so both stay in view; training plots share the left tab
        self.splitDockWidget(self.docks["problems"], self.docks["summary"], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.docks["problems"], self.docks["training"])
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self.workspaces = Workspaces(self)
        self.actions_ = Actions(self)
        self.toolbar = self.actions_.build_toolbar()
        self.addToolBar(self.toolbar)
        self.recent_menu = self.actions_.build_menus()
        self.addToolBar(self.workspaces.toolbar)
        self.workspaces.add_to_menu(self.actions_.menus["view"])
        self.export_menu = build_model_menus(self, self.actions_.file_menu)
        self.training_controls = TrainingControls(
            self, self.session, self.view, self.palette_panel, self.actions_.train_menu, self.toolbar
        )
        self.lessons = install_lessons(self)  # the Lessons menu's lessons and the Lesson panel
        self.loss_explorer = install_loss_explorer(self)  # Lessons > Loss Explorer...
        self.watch = install_watch(self)  # pace, until stopped, unit response maps
        self.step_through = install_step_through(self)
        self.runs_view = install_runs(self)  # the Runs panel: runs side by side
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self.actions_.themes[self.settings.theme()].setChecked(True)

        self.params_label = QLabel()
        self.params_label.setToolTip("Trainable and non-trainable parameters of the whole network")
        self.problems_button = QPushButton()
        self.problems_button.setFlat(True)
        self.problems_button.clicked.connect(lambda: self._raise_dock("problems"))
        self.statusBar().addPermanentWidget(self.params_label)
        self.statusBar().addPermanentWidget(self.problems_button)

        doc = self.document
        # The count includes the data check, which changes with the data as well as the network.
        for signal in (
            doc.shapes_changed,
            doc.settings_changed,
            doc.document_reset,
            self.session.data_changed,
            self.session.data_unreadable,
        ):
            signal.connect(self._update_status)
        doc.modified_changed.connect(lambda _m: self._update_title())
        doc.path_changed.connect(lambda _p: self._update_title())
        doc.selection_changed.connect(self._update_edit_actions)
        doc.document_reset.connect(self._document_reset)
        self.problems.problem_activated.connect(self._show_node)
        self.problems.data_problem_activated.connect(self.training_panel.data_panel.reveal)
        QGuiApplication.clipboard().dataChanged.connect(self._update_edit_actions)
        self._update_title()
        self._update_status()
        self._update_edit_actions()
        self._restore_layout()

    # ------------------------------------------------------------------ layout
    def _add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setToolTip("")
        dock.toggleViewAction().setToolTip(f"Show or hide the {title} panel")
        for name, tip in (
            ("qt_dockwidget_closebutton", f"Hide the {title} panel (View > Panels shows it again)"),
            ("qt_dockwidget_floatbutton", f"Detach the {title} panel, or dock it back"),
        ):
            for button in dock.findChildren(QAbstractButton, name):
                button.setToolTip(tip)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    def _restore_layout(self) -> None:
        geometry, _state = self.settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        self.workspaces.restore()

    def _raise_dock(self, key: str) -> None:
        self.docks[key].show()
        self.docks[key].raise_()

    def view_centre(self) -> tuple[float, float]:
        """Where a double-clicked layer goes: centred in the canvas, or beside a card already there."""
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        return self.view.free_spot_centred(centre)

    # ------------------------------------------------------------------ status
    def _update_title(self) -> None:
        path = self.document.path
        name = path.name if path is not None else "Untitled"
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}")
        self.setWindowModified(self.document.is_modified())
        self.actions_.revert.setEnabled(self.document.is_modified())

    def _update_status(self) -> None:
        """Parameters, and the problems indicator: the network's problems plus the data check's
        (no data chosen, data that does not fit), so it never says "No problems" before a run
        that the check knows would fail."""
        spec, report = self.document.spec, self.document.shape_report
        self.params_label.setText(f"Parameters: {total_parameters(spec, report):,}")
        data_problems = self.session.fit_problems()
        self.problems.set_data_problems(data_problems)
        messages = [p.message for p in report.problems] + [p.message for p in data_problems]
        count = len(messages)
        self.problems_button.setText(
            "✓ No problems" if not count else f"⚠ {count} problem" + ("s" if count > 1 else "")
        )
        tip = (
            "\n".join(f"• {m}" for m in messages) + "\n\nClick to show the Problems panel."
            if messages
            else ""
        )
        self.problems_button.setToolTip(tip or "The network can be built and its data fits it")

    def _update_edit_actions(self, *_args: object) -> None:
        has_selection = bool(self.document.selected_ids)
        for action in (self.actions_.cut, self.actions_.copy, self.actions_.duplicate, self.actions_.delete):
            action.setEnabled(has_selection or action is self.actions_.delete)
        mime = QGuiApplication.clipboard().mimeData()
        self.actions_.paste.setEnabled(mime is not None and mime.hasFormat(FRAGMENT_MIME))

    def _document_reset(self) -> None:
        self._update_title()
        QTimer.singleShot(0, self.view.fit_to_view)

    def _show_node(self, node_id: str) -> None:
        item = self.view.node_item(node_id) if node_id else None
        if item is not None:
            self.view.ensureVisible(item, 40, 40)

    def show_error(self, title: str, message: str) -> None:
        """Show an error over this window (through gui.errors, the one place for errors)."""
        errors.show_error(self, title, message)

    # ------------------------------------------------------------------- files
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or unchanged)."""
        if not self.document.is_modified():
            return True
        name = self.document.path.name if self.document.path else "the untitled network"
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {name} before closing it?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        if answer == buttons.Save:
            return self.save_file()
        return answer == buttons.Discard

    def new_file(self) -> None:
        if self.maybe_save():
            self.document.new_document()

    def open_file(self, path: str | Path | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open network", self.settings.last_directory(), FILE_FILTER
            )
            if not path:
                return False
        return self.load_path(path)

    def load_path(self, path: str | Path) -> bool:
        """Open `path` without asking; on error show it and keep the current document."""
        path = Path(path)
        try:
            self.document.open_file(path)
        except (NetCanvasError, OSError) as exc:
            self.show_error("Cannot open the network", str(exc))
            return False
        if is_example(path):  # the installed examples folder is no folder of the user's
            self.statusBar().showMessage(f"Opened the example {path.stem}", 4000)
            return True
        self.settings.add_recent_file(path)
        self.settings.set_last_directory(path)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def save_file(self) -> bool:
        if self.document.path is None or is_example(self.document.path):
            return self.save_file_as()
        return self._save_to(self.document.path)

    def save_file_as(self) -> bool:
        """Ask where to save, proposing `.ncv` once the network has trained weights to keep."""
        current = self.document.path
        trained = self.document.network.history.steps > 0
        suffix = ".ncv" if trained else ".json"
        start = str(self._save_folder() / f"{current.stem if current else 'network'}{suffix}")
        selected = SAVE_FILTERS.split(";;")[1 if trained else 0]
        path, chosen = QFileDialog.getSaveFileName(self, "Save network as", start, SAVE_FILTERS, selected)
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() not in (".json", ".ncv"):
            path = path.with_suffix(".ncv" if "ncv" in chosen else ".json")
        return self._save_to(path)

    def _save_folder(self) -> Path:
        """The folder the user last used, else Documents (or home): never the examples' folder."""
        last = Path(self.settings.last_directory())  # home when no folder was used yet
        if last != Path.home() and last.is_dir() and not is_examples_folder(last):
            return last
        documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return Path(documents) if documents and Path(documents).is_dir() else Path.home()

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except (NetCanvasError, OSError) as exc:
            self.show_error("Cannot save the network", str(exc))
            return False
        self.settings.add_recent_file(path)
        self.settings.set_last_directory(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def revert_file(self) -> None:
        if not self.document.is_modified():
            return
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self,
            "Revert",
            "Discard every change since the last save?",
            buttons.Discard | buttons.Cancel,
            buttons.Cancel,
        )
        if answer == buttons.Discard:
            try:
                self.document.revert()
            except (NetCanvasError, OSError) as exc:
                self.show_error("Cannot revert", str(exc))

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.settings.recent_files()
        for index, path in enumerate(files):
            action = menu.addAction(f"&{index + 1 if index < 9 else 0}  {path.name}")
            action.setToolTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self._open_recent(p))
        if files:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", self._clear_recent).setToolTip("Forget these files")
        else:
            menu.addAction("No recent files").setEnabled(False)

    def _open_recent(self, path: Path) -> None:
        if not path.exists():
            self.show_error(
                "Cannot open the network", f"{path} no longer exists; it was removed from the recent files."
            )
            self.settings.remove_recent_file(path)
            self._fill_recent_menu()
            return
        self.open_file(path)
        self._fill_recent_menu()

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._fill_recent_menu()

    def show_examples(self) -> None:
        dialog = ExamplesDialog(self)
        if dialog.exec() and dialog.selected_path is not None:
            self.open_file(dialog.selected_path)
        dialog.deleteLater()

    def export_png(self) -> None:
        self._export("PNG image", "png", self.view.export_png)

    def export_svg(self) -> None:
        self._export("SVG drawing", "svg", self.view.export_svg)

    def _export(self, label: str, suffix: str, writer) -> None:
        stem = self.document.path.stem if self.document.path else "network"
        start = str(Path(self.settings.last_directory()) / f"{stem}.{suffix}")
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export canvas as {label}", start, f"{label}s (*.{suffix})"
        )
        if not path:
            return
        path = Path(path) if Path(path).suffix else Path(path).with_suffix(f".{suffix}")
        try:
            writer(path)
        except OSError as exc:
            self.show_error("Cannot export the canvas", str(exc))
            return
        self.statusBar().showMessage(f"Exported {path}", 4000)

    # -------------------------------------------------------------------- edit
    def copy(self) -> None:
        ids = self.document.selected_ids
        if not ids:
            return
        mime = QMimeData()
        text = json.dumps(self.document.copy_fragment(ids))
        mime.setData(FRAGMENT_MIME, QByteArray(text.encode("utf-8")))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)

    def cut(self) -> None:
        self.copy()
        self.delete_selection()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(FRAGMENT_MIME):
            return
        try:
            fragment = json.loads(bytes(mime.data(FRAGMENT_MIME)).decode("utf-8"))
            self.document.paste_fragment(fragment)
        except (NetCanvasError, ValueError) as exc:
            self.show_error("Cannot paste", str(exc))

    def duplicate(self) -> None:
        if self.document.selected_ids:
            self.document.duplicate(self.document.selected_ids)

    def delete_selection(self) -> None:
        self.view.delete_selection()

    def select_all(self) -> None:
        self.document.set_selection(list(self.document.spec.nodes))

    def auto_layout(self) -> None:
        self.document.auto_layout()
        self.view.fit_to_view()

    def show_history(self) -> None:
        self._raise_dock("history")

    def show_training_settings(self) -> None:
        self.document.set_selection([])
        self._raise_dock("inspector")

    # -------------------------------------------------------------- view, help
    def set_theme(self, mode: str) -> None:
        self.settings.set_theme(mode)
        apply_theme(QApplication.instance(), mode)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "actions_"):
            self.actions_.refresh_icons()
        super().changeEvent(event)

    def show_shortcuts(self) -> None:
        """Every shortcut of the window, under the menu that holds its action, by a name that stays
        the same whatever the state ("Undo", not "Undo Set 2 parameters of …")."""
        groups: dict[str, list] = {m.title(): list(m.actions()) for m in self.actions_.menus.values()}
        for action in self.actions():  # in a submenu made elsewhere (View > Workspace), or none
            menus = [o for o in action.associatedObjects() if isinstance(o, QMenu)]
            groups.setdefault(menus[0].title() if menus else "Other", []).append(action)
        rows, listed = [], set()
        for title, actions in groups.items():
            entries = []
            for action in actions:
                keys = ", ".join(
                    k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
                )
                if keys and action not in listed:
                    listed.add(action)
                    name = action.property("shortcut_name") or action.text()
                    entries.append(f"<tr><td>{name.replace('&', '')}</td><td><b>{keys}</b></td></tr>")
            if entries:
                rows += [f"<tr><td colspan=2><br><i>{title.replace('&', '')}</i></td></tr>", *entries]
        QMessageBox.information(
            self, "Keyboard shortcuts", "<table cellspacing=4>" + "".join(rows) + "</table>"
        )

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About NetCanvas",
            "<h3>NetCanvas</h3><p>Design a neural network by dragging layers onto a "
            "canvas, then train it and watch it learn.</p><p>Engine: NumPy + Numba. "
            "Interface: PySide6 + pyqtgraph.</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.session.shutdown()
        if not self.maybe_save():
            event.ignore()
            return
        self.settings.save_window_state(self.saveGeometry(), self.saveState(), self.workspaces.current)
        event.accept()
