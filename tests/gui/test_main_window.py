"""The main window driven like a user: menus, shortcuts, files, clipboard, undo, panels, themes.

File dialogs and message boxes are the static QFileDialog / QMessageBox functions, replaced here
by `Dialogs`, which records every question and answers from a queue. Settings live in an INI file
under tmp_path, so the user's real settings are never read or written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QToolButton,
)

import engine  # noqa: F401  (registers every layer type)
from engine import io as engine_io
from engine.errors import NetCanvasError
from gui.app_settings import AppSettings
from gui.document import FRAGMENT_MIME
from gui.examples import EXAMPLES_DIR
from gui.main_window import MainWindow
from gui.theme import apply_theme

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
Button = QMessageBox.StandardButton


class Dialogs:
    """Stand-ins for the static dialog functions: records calls, answers from queues."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (kind, title, text)
        self.answers: list[Button] = []  # for QMessageBox.question, first in first out
        self.save_paths: list[str] = []  # for QFileDialog.getSaveFileName
        self.open_paths: list[str] = []  # for QFileDialog.getOpenFileName

    def kinds(self) -> list[str]:
        return [kind for kind, _title, _text in self.calls]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def box(kind):
            def show(_parent, title, text, *_args, **_kwargs):
                self.calls.append((kind, title, text))
                if kind == "question":
                    assert self.answers, f"unexpected question: {title}: {text}"
                    return self.answers.pop(0)
                return Button.Ok

            return show

        for kind in ("question", "critical", "warning", "information", "about"):
            monkeypatch.setattr(QMessageBox, kind, box(kind))

        def get_save(_parent, title, *_args, **_kwargs):
            self.calls.append(("save_dialog", title, ""))
            path = self.save_paths.pop(0) if self.save_paths else ""
            return path, ""

        def get_open(_parent, title, *_args, **_kwargs):
            self.calls.append(("open_dialog", title, ""))
            return (self.open_paths.pop(0) if self.open_paths else ""), ""

        monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open)


@pytest.fixture
def dialogs(monkeypatch):
    fake = Dialogs()
    fake.install(monkeypatch)
    return fake


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "settings.ini"


def make_settings(path: Path) -> AppSettings:
    return AppSettings(QSettings(str(path), QSettings.Format.IniFormat))


@pytest.fixture
def make_window(qtbot, dialogs, settings_file):
    """Build shown main windows (on the tmp settings); closed here without questions (not with
    qtbot.addWidget: pytest-qt closes those before fixture teardown, while they may be modified)."""
    windows: list[MainWindow] = []

    def make(path: Path | None = None, size: tuple[int, int] | None = (1280, 800)) -> MainWindow:
        window = MainWindow(settings=make_settings(settings_file))
        if size is not None:
            window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        if path is not None:
            assert window.load_path(path)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.document.undo_stack.setClean()  # pytest-qt's close must not ask about changes
        window.close()
        window.deleteLater()
    QGuiApplication.clipboard().clear()


SPIRAL = EXAMPLES_DIR / "spiral.json"


@pytest.fixture(scope="module")
def shared_window(qapp, tmp_path_factory):
    """One main window for the tests that need just one (building a window costs ~0.5 s);
    `window` puts it back to a freshly opened spiral example before each test."""
    settings = make_settings(tmp_path_factory.mktemp("shared") / "settings.ini")
    window = MainWindow(settings=settings)
    window.resize(1280, 800)
    assert window.load_path(SPIRAL)
    yield window, window.document.spec.to_dict()
    window.document.undo_stack.setClean()
    window.close()
    window.deleteLater()


@pytest.fixture
def window(shared_window, qtbot, dialogs, settings_file):
    window, opened = shared_window
    window.settings = make_settings(settings_file)
    doc = window.document
    doc.undo_stack.setIndex(0)  # undo what the last test did, if it went through the stack...
    doc.undo_stack.clear()
    if doc.path != SPIRAL or doc.spec.to_dict() != opened:  # ...else open the file again
        assert window.load_path(SPIRAL)
    doc.set_selection([])
    for key, dock in window.docks.items():
        dock.setVisible(key != "history")
    window.docks["problems"].raise_()
    window.show()
    qtbot.waitExposed(window)
    window.view.fit_to_view()
    yield window
    doc.undo_stack.setClean()
    QGuiApplication.clipboard().clear()


@pytest.fixture
def restore_theme(qapp):
    yield
    apply_theme(qapp, "light")


def spec_dict(window: MainWindow) -> dict:
    return window.document.spec.to_dict()


def drop_layer(window: MainWindow, type_name: str, pos: QPoint | None = None) -> None:
    """Deliver the palette's own drag data to the canvas (see QT-NOTES.md)."""
    pos = pos if pos is not None else QPoint(300, 200)
    palette = window.palette_panel
    mime = palette.mimeData([palette.layer_item(type_name)])
    viewport, copy = window.view.viewport(), Qt.DropAction.CopyAction
    QApplication.sendEvent(viewport, QDragEnterEvent(pos, copy, mime, LEFT, NO_MOD))
    QApplication.sendEvent(viewport, QDragMoveEvent(pos, copy, mime, LEFT, NO_MOD))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(pos), copy, mime, LEFT, NO_MOD))


def action_for(window: MainWindow, keys: str):
    """The window's action answering the key sequence `keys`, or None."""
    wanted = QKeySequence(keys)
    for action in window.actions():
        if any(s.matches(wanted) == QKeySequence.SequenceMatch.ExactMatch for s in action.shortcuts()):
            return action
    return None


def menu_actions(window: MainWindow) -> list:
    """Every action reachable from the menu bar (submenus opened first, as a user would)."""
    found, menus = [], window.actions_.menus.values()
    submenus = {m.menuAction() for m in menus}  # (QAction.menu() would hand PySide the menu to delete)
    for menu in menus:
        menu.aboutToShow.emit()
        found += [a for a in menu.actions() if a not in submenus]
    return found


# ------------------------------------------------------------ menus, shortcuts
def test_menus_and_shortcuts(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Train", "Lessons", "Help"]
    a = window.actions_
    expected = {
        "Ctrl+N": a.new,
        "Ctrl+O": a.open,
        "Ctrl+S": a.save,
        "Ctrl+Shift+S": a.save_as,
        "Ctrl+Z": a.undo,
        "Ctrl+Y": a.redo,
        "Ctrl+C": a.copy,
        "Ctrl+V": a.paste,
        "Ctrl+D": a.duplicate,
        "Del": a.delete,
        "Ctrl+0": a.fit,
        "Ctrl++": a.zoom_in,
        "Ctrl+=": a.zoom_in,
        "Ctrl+-": a.zoom_out,
    }
    for keys, action in expected.items():
        assert action_for(window, keys) is action, keys
    edit = window.actions_.menus["edit"]
    edit_texts = [x.text().replace("&", "") for x in edit.actions()]
    assert {"Undo", "Redo", "Copy", "Paste", "Duplicate", "Delete", "History", "Auto-Layout"} <= set(
        edit_texts
    )


def test_shortcut_keys_reach_their_actions(window, qtbot):
    window.activateWindow()
    window.view.setFocus()
    scale = window.view.scale_factor()
    QTest.keyClick(window.view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.view.scale_factor() > scale
    window.document.set_selection(["hidden1"])
    count = len(window.document.spec.nodes)
    QTest.keyClick(window.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(window.document.spec.nodes) == count + 1
    QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.document.spec.nodes) == count
    QTest.keyClick(window.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(window.document.spec.nodes) == count + 1


def test_every_action_and_control_has_a_tooltip(window):
    for action in window.actions():
        if not action.isSeparator():
            assert action.toolTip().strip(), action.text()
    for action in menu_actions(window):
        if not action.isSeparator() and action.isEnabled():
            assert action.toolTip().strip(), action.text()
    for button in window.toolbar.findChildren(QToolButton):
        if button.defaultAction() is not None:
            assert button.defaultAction().toolTip()
    for selection in (["hidden1"], []):  # a layer's editors, then the training settings
        window.document.set_selection(selection)
        assert not controls_without_tooltip(window), selection
    tree = window.palette_panel.tree
    items = [
        tree.topLevelItem(i).child(j)
        for i in range(tree.topLevelItemCount())
        for j in range(tree.topLevelItem(i).childCount())
    ]
    assert items and all(item.toolTip(0) for item in items)


def controls_without_tooltip(window: MainWindow) -> list[str]:
    controls = [
        w
        for kind in (QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox)
        for w in window.findChildren(kind)
        if w.isVisibleTo(window)
    ]
    missing = []
    for widget in controls:
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
            continue  # the editor inside a combo/spin box: the box has the tooltip
        if isinstance(widget, QToolButton) and widget.defaultAction() is not None:
            continue
        if not widget.toolTip().strip():
            missing.append(
                f"{type(widget).__name__} {widget.objectName()} {getattr(widget, 'text', str)()!r}"
            )
    return missing


# ----------------------------------------------------------------- title, files
def test_title_shows_file_name_and_star_when_modified(window):
    assert window.windowTitle().startswith("spiral.json")
    assert not window.isWindowModified()
    window.document.set_node_params("hidden1", {"units": 16})
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    window.actions_.undo.trigger()
    assert not window.isWindowModified()
    window.document.new_document()
    assert window.windowTitle().startswith("Untitled")


@pytest.mark.parametrize("suffix", [".json", ".ncv"])
def test_save_then_reopen_gives_the_same_network(window, dialogs, tmp_path, suffix):
    window.document.set_node_params("hidden1", {"units": 12, "activation": "tanh"})
    window.document.move_nodes({"out": (700.0, 40.0)})
    before = spec_dict(window)
    target = tmp_path / f"saved{suffix}"
    dialogs.save_paths.append(str(target))
    window.actions_.save.trigger()  # an example: Save asks for a new name
    assert dialogs.kinds() == ["save_dialog"]
    assert target.exists() and window.document.path == target
    assert not window.isWindowModified() and window.windowTitle().startswith(target.name)
    window.actions_.new.trigger()
    assert window.document.spec.nodes == {}
    dialogs.open_paths.append(str(target))
    window.actions_.open.trigger()
    assert spec_dict(window) == before
    assert window.document.path == target and not window.isWindowModified()
    assert engine_io.load(target).spec.to_dict() == before


def test_save_as_without_suffix_adds_one(window, dialogs, tmp_path):
    dialogs.save_paths.append(str(tmp_path / "plain"))
    window.actions_.save_as.trigger()
    assert (tmp_path / "plain.json").exists()


BAD_FILES = {
    "truncated": '{"format": "netcanvas", "format_version": 1, "nodes": [ {"id": ',
    "unknown layer": '{"format": "netcanvas", "format_version": 1, "nodes": '
    '[{"id": "a", "type": "Dense3000", "params": {}, "pos": [0, 0]}], "edges": []}',
}


@pytest.mark.parametrize("content", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_corrupt_file_shows_the_loader_message_and_keeps_the_document(window, dialogs, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(NetCanvasError) as info:
        engine_io.load(bad)
    window.document.set_node_params("hidden1", {"units": 8})
    before, stack_count = spec_dict(window), window.document.undo_stack.count()
    dialogs.answers.append(Button.Discard)  # "save the changes first?"
    dialogs.open_paths.append(str(bad))
    window.actions_.open.trigger()
    assert dialogs.kinds() == ["question", "open_dialog", "critical"]
    assert dialogs.calls[-1][2] == str(info.value)
    assert spec_dict(window) == before and window.document.path.name == "spiral.json"
    assert window.document.undo_stack.count() == stack_count
    assert str(bad) not in [str(p) for p in window.settings.recent_files()]


def test_unsaved_changes_ask_before_open_new_and_close(window, dialogs, tmp_path):
    doc = window.document
    doc.remove_nodes(["out"])
    before = spec_dict(window)
    dialogs.answers.append(Button.Cancel)
    window.actions_.open.trigger()
    assert dialogs.kinds() == ["question"] and spec_dict(window) == before
    dialogs.answers.append(Button.Cancel)
    window.actions_.new.trigger()
    assert spec_dict(window) == before
    dialogs.answers.append(Button.Cancel)
    assert not window.close()
    assert window.isVisible() and spec_dict(window) == before
    dialogs.answers.append(Button.Discard)
    window.actions_.new.trigger()
    assert doc.spec.nodes == {} and not window.isWindowModified()
    doc.add_node("Input", (0, 0), {"shape": [3]})
    target = tmp_path / "kept.json"
    dialogs.answers.append(Button.Save)
    dialogs.save_paths.append(str(target))
    assert window.close()
    assert engine_io.load(target).spec.to_dict() == spec_dict(window)
    assert [k for k in dialogs.kinds() if k == "question"] == ["question"] * 5


def test_revert_goes_back_to_the_saved_file(window, dialogs):
    before = spec_dict(window)
    window.document.remove_nodes(["hidden2"])
    dialogs.answers.append(Button.Discard)
    window.actions_.revert.trigger()
    assert spec_dict(window) == before and not window.isWindowModified()


# ------------------------------------------------------------------- clipboard
def test_copy_in_one_window_paste_in_another(window, make_window):
    window.document.set_selection(["hidden1", "hidden2"])
    window.actions_.copy.trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(FRAGMENT_MIME)
    fragment = json.loads(bytes(mime.data(FRAGMENT_MIME)).decode("utf-8"))
    assert [n["id"] for n in fragment["nodes"]] == ["hidden1", "hidden2"]
    other = make_window()
    assert other.actions_.paste.isEnabled()
    other.actions_.paste.trigger()
    spec = other.document.spec
    assert sorted(spec.nodes) == ["hidden1", "hidden2"] and spec.edges == [("hidden1", "hidden2")]
    assert spec.nodes["hidden1"].params == window.document.spec.nodes["hidden1"].params
    assert other.document.selected_ids == ["hidden1", "hidden2"]
    assert other.document.undo_stack.count() == 1 and other.isWindowModified()
    other.actions_.paste.trigger()  # a second paste gets fresh ids
    assert sorted(spec.nodes) == ["hidden1", "hidden1_1", "hidden2", "hidden2_1"]
    assert ("hidden1_1", "hidden2_1") in spec.edges and other.document.undo_stack.count() == 2


def test_paste_of_foreign_text_is_ignored(window):
    mime = QMimeData()
    mime.setText("hello")
    QGuiApplication.clipboard().setMimeData(mime)
    assert not window.actions_.paste.isEnabled()
    before = spec_dict(window)
    window.actions_.paste.trigger()
    assert spec_dict(window) == before


def test_cut_and_duplicate(window):
    doc = window.document
    doc.set_selection(["hidden2"])
    window.actions_.duplicate.trigger()
    assert (
        doc.selected_ids == ["hidden2_1"]
        and doc.spec.nodes["hidden2_1"].params == doc.spec.nodes["hidden2"].params
    )
    assert doc.undo_stack.text(doc.undo_stack.index() - 1).startswith("Duplicate")
    window.actions_.cut.trigger()
    assert "hidden2_1" not in doc.spec.nodes
    window.actions_.paste.trigger()
    assert "hidden2_1" in doc.spec.nodes


# ------------------------------------------------------------------ undo / redo
