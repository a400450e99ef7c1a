"""The main window driven like a user: menus, shortcuts, files, clipboard, undo, panels, themes.

File dialogs and message boxes are the static QFileDialog / QMessageBox functions, replaced here
by `Dialogs`, which records every question and answers from a queue. Settings live in an INI file
under tmp_path, so the user's real settings are never read or written.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtSvg import QSvgRenderer
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
import gui.theme
from engine import io as engine_io
from engine.errors import NetCanvasError
from gui.app_settings import AppSettings
from gui.document import FRAGMENT_MIME
from gui.examples import EXAMPLES_DIR, list_examples
from gui.examples_dialog import ExamplesDialog
from gui.inspector import NodePage
from gui.main_window import MainWindow
from gui.theme import apply_theme, is_dark

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
    assert titles == ["File", "Edit", "View", "Train", "Help"]
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
def _edit_move(window):
    item = window.view.node_item("hidden2")
    start = window.view.mapFromScene(item.sceneBoundingRect().center())
    viewport = window.view.viewport()
    QTest.mousePress(viewport, LEFT, NO_MOD, start)
    for k in range(1, 5):
        QTest.mouseMove(viewport, start + QPoint(15 * k, 10 * k))
    QTest.mouseRelease(viewport, LEFT, NO_MOD, start + QPoint(60, 40))


def _edit_inspector_units(window):
    window.document.set_selection(["hidden1"])
    page = window.inspector.page
    assert isinstance(page, NodePage)
    spin = page.form.fields["units"].input
    spin.lineEdit().setFocus()
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), "48")
    QTest.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def _edit_delete(window):
    window.document.set_selection(["hidden2"])
    window.actions_.delete.trigger()


# kind of edit -> (preparation or None, the edit as a user makes it)
EDITS = {
    "add (palette drop)": (None, lambda w: drop_layer(w, "Dropout")),
    "add after (palette double-click)": (
        lambda w: w.document.set_selection(["out"]),
        lambda w: w.palette_panel.add_layer("Activation"),
    ),
    "remove": (None, _edit_delete),
    "move (one drag)": (None, _edit_move),
    "connect": (
        lambda w: w.document.disconnect("hidden1", "hidden2"),
        lambda w: w.document.connect("hidden1", "hidden2"),
    ),
    "disconnect": (None, lambda w: w.document.disconnect("hidden2", "out")),
    "property (inspector)": (None, _edit_inspector_units),
    "rename": (None, lambda w: w.document.rename_node("out", "prediction")),
    "paste": (
        lambda w: (w.document.set_selection(["out"]), w.actions_.copy.trigger()),
        lambda w: w.actions_.paste.trigger(),
    ),
    "duplicate": (lambda w: w.document.set_selection(["hidden1"]), lambda w: w.actions_.duplicate.trigger()),
    "auto-layout": (
        lambda w: w.document.move_nodes({"hidden2": (440.0, 300.0)}),
        lambda w: w.actions_.auto_layout.trigger(),
    ),
    "training settings": (None, lambda w: w.document.set_training({**w.document.spec.training, "epochs": 7})),
}


def test_each_kind_of_edit_undoes_and_redoes_through_the_actions(window):
    doc, stack = window.document, window.document.undo_stack
    for kind, (prepare, edit) in EDITS.items():
        stack.setIndex(0)  # back to the opened spiral
        stack.clear()
        if prepare is not None:
            prepare(window)
        count, before = stack.count(), spec_dict(window)
        edit(window)
        after = spec_dict(window)
        assert after != before, kind
        assert stack.count() == count + 1, f"{kind}: one undo entry per edit"
        assert window.isWindowModified() and window.actions_.undo.isEnabled(), kind
        window.actions_.undo.trigger()
        assert spec_dict(window) == before, kind
        for node_id, node in doc.spec.nodes.items():  # the canvas follows
            assert window.view.node_item(node_id).pos() == QPointF(*node.pos), kind
        assert set(window.view.canvas_scene.edge_items) == set(doc.spec.edges), kind
        window.actions_.redo.trigger()
        assert spec_dict(window) == after, kind
        assert set(window.view.canvas_scene.edge_items) == set(doc.spec.edges), kind
        assert set(window.view.canvas_scene.node_items) == set(doc.spec.nodes), kind


def test_history_view_lists_the_edits(window):
    history = window.history
    assert not window.docks["history"].isVisible()
    window.actions_.history.trigger()
    assert window.docks["history"].isVisible()
    window.document.set_node_params("hidden1", {"units": 4})
    window.document.set_selection(["out"])
    window.actions_.delete.trigger()
    window.actions_.auto_layout.trigger()
    model = history.model()
    texts = [model.data(model.index(row, 0)) for row in range(model.rowCount())]
    assert texts[0] == "<opened>" and len(texts) == 4
    assert "hidden1" in texts[1] and "out" in texts[2] and texts[3] == "Auto-layout"
    history.setCurrentIndex(model.index(1, 0))  # clicking an entry goes back to it
    assert "out" in window.document.spec.nodes


# ------------------------------------------------------------ recent, geometry
def test_recent_files_are_remembered(window, make_window, dialogs, tmp_path, settings_file):
    paths = []
    for name in ("a.json", "b.ncv"):
        dialogs.save_paths.append(str(tmp_path / name))
        window.actions_.save_as.trigger()
        paths.append((tmp_path / name).resolve())
    assert window.settings.recent_files() == paths[::-1]
    assert make_settings(settings_file).recent_files() == paths[::-1]  # on disk
    other = make_window()
    other.recent_menu.aboutToShow.emit()
    entries = [a for a in other.recent_menu.actions() if a.toolTip() in map(str, paths)]
    assert [a.toolTip() for a in entries] == [str(p) for p in paths[::-1]]
    entries[1].trigger()  # a.json
    assert other.document.path.resolve() == paths[0]
    assert other.settings.recent_files()[0] == paths[0]
    paths[1].unlink()
    other.recent_menu.aboutToShow.emit()
    gone = next(a for a in other.recent_menu.actions() if a.toolTip() == str(paths[1]))
    gone.trigger()
    assert dialogs.kinds()[-1] == "critical" and paths[1] not in other.settings.recent_files()


def test_window_geometry_and_panels_are_remembered(make_window, settings_file):
    first = make_window()
    first.resize(first.width(), 560)  # (the offscreen screen is 800 x 600: a restored width is clamped)
    first.docks["history"].show()
    first.docks["summary"].hide()
    assert first.close()
    geometry, state = make_settings(settings_file).window_state()
    assert geometry is not None and state is not None
    second = make_window(size=None)
    assert second.height() == 560
    assert second.docks["history"].isVisible() and not second.docks["summary"].isVisible()


# ------------------------------------------------------ problems, summary, status
def test_shape_error_shows_badge_problem_and_jumps_to_node(window):
    doc = window.document
    doc.new_document()
    image = doc.add_node("Input", (0, 0), {"shape": [28, 28]})
    dense = doc.add_node("Dense", (2400, 1600), {"units": 10})
    doc.connect(image, dense)
    assert window.view.node_item(dense).content.problem
    assert "add a Flatten" in window.view.node_item(dense).toolTip()
    messages = window.problems.messages()
    assert len(messages) == 2 and "expects a 1-D input, got (28, 28)" in messages[0]
    assert messages[1] == "[data] no data chosen: choose a data source in the Data tab"  # a new file has none
    assert "2 problems" in window.problems_button.text()
    window.view.reset_zoom()
    window.view.centerOn(0, 0)
    assert (
        not window.view.mapToScene(window.view.viewport().rect())
        .boundingRect()
        .intersects(window.view.node_item(dense).sceneBoundingRect())
    )
    problems = window.problems.list
    QTest.mouseClick(problems.viewport(), LEFT, NO_MOD, problems.visualItemRect(problems.item(0)).center())
    assert doc.selected_ids == [dense]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.view.node_item(dense).sceneBoundingRect())
    doc.undo_stack.undo()  # disconnect again: that problem goes away
    assert not any("1-D input" in m for m in window.problems.messages())
    assert "1-D input" not in window.view.node_item(dense).content.problem


def test_summary_and_parameter_count_are_always_visible(window):
    assert window.docks["summary"].isVisible() and window.docks["problems"].isVisible()
    assert not window.docks["summary"].visibleRegion().isEmpty()
    assert not window.docks["problems"].visibleRegion().isEmpty()
    text = window.summary.text.toPlainText()
    assert "hidden1" in text and "1,185" in text.replace(" ", "").replace("1185", "1,185")
    assert window.params_label.text() == "Parameters: 1,185"
    window.document.set_node_params("hidden1", {"units": 2})
    assert window.params_label.text() == f"Parameters: {2 * 2 + 2 + 2 * 32 + 32 + 33:,}"


# ------------------------------------------------------------ examples, export
def test_examples_dialog_lists_every_example_with_preview(qtbot, window, monkeypatch):
    files = sorted(EXAMPLES_DIR.glob("*.json"))
    dialog = ExamplesDialog()
    qtbot.addWidget(dialog)
    listed = {
        Path(dialog.list.item(i).data(Qt.ItemDataRole.UserRole + 1)) for i in range(dialog.list.count())
    }
    assert listed == set(files)
    for example in list_examples():
        assert example.name and example.description
    for row in range(dialog.list.count()):
        dialog.list.setCurrentRow(row)
        item = dialog.list.item(row)
        assert item.text() in dialog.title.text()
        assert dialog.description.text() and dialog.description.text() == item.toolTip()
        pixmap = dialog.preview.pixmap()
        assert pixmap is not None and not pixmap.isNull() and pixmap.width() > 100
        image = pixmap.toImage()
        assert len({image.pixel(x, image.height() // 2) for x in range(0, image.width(), 4)}) > 3
    monkeypatch.setattr(
        ExamplesDialog,
        "exec",
        lambda self: (
            self.list.setCurrentRow(
                next(i for i in range(self.list.count()) if self.list.item(i).text() == "XOR")
            ),
            self.accept(),
            1,
        )[-1],
    )
    window.actions_.examples.trigger()
    assert window.document.path == EXAMPLES_DIR / "xor.json"
    assert [p for p in window.settings.recent_files() if p.parent == EXAMPLES_DIR] == []


def test_examples_menu_opens_an_example(window):
    window.document.new_document()
    menu = window.actions_.menus["examples"]
    menu.aboutToShow.emit()
    entries = {a.text().replace("&", ""): a for a in menu.actions() if a.data()}
    assert len(entries) == len(list(EXAMPLES_DIR.glob("*.json")))
    spiral = next(a for a in entries.values() if Path(a.data()).name == "spiral.json")
    assert spiral.toolTip()
    spiral.trigger()
    assert window.document.path.name == "spiral.json" and "out" in window.document.spec.nodes


def test_export_canvas_png_and_svg(window, dialogs, tmp_path):
    dialogs.save_paths += [str(tmp_path / "net.png"), str(tmp_path / "net.svg")]
    window.actions_.export_png.trigger()
    window.actions_.export_svg.trigger()
    image = QImage(str(tmp_path / "net.png"))
    assert not image.isNull() and image.width() > 400 and image.height() > 100
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 10  # cards, text and edges, not a blank fill
    svg = tmp_path / "net.svg"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "hidden1" in svg.read_text(encoding="utf-8")
    assert QSvgRenderer(str(svg)).isValid()
    assert "critical" not in dialogs.kinds()


# ------------------------------------------------------------------------ theme
def test_theme_follows_system_light_and_dark(window, qapp, restore_theme, monkeypatch, settings_file):
    window.actions_.themes["dark"].trigger()
    QApplication.processEvents()  # the palette change reaches the widgets as events
    assert window.settings.theme() == "dark"
    assert qapp.palette().window().color().lightnessF() < 0.5
    assert window.view.canvas_scene.theme.dark
    window.actions_.themes["light"].trigger()
    QApplication.processEvents()
    assert qapp.palette().window().color().lightnessF() > 0.5
    assert not window.view.canvas_scene.theme.dark
    window.actions_.themes["system"].trigger()
    assert window.settings.theme() == "system"
    assert (qapp.palette().window().color().lightnessF() < 0.5) == is_dark("system")
    desktop = SimpleNamespace(scheme=Qt.ColorScheme.Dark)  # the desktop switches to dark
    hints = SimpleNamespace(colorScheme=lambda: desktop.scheme)
    monkeypatch.setattr(gui.theme, "QGuiApplication", SimpleNamespace(styleHints=lambda: hints))
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what Qt sends then
    QApplication.processEvents()
    assert qapp.palette().window().color().lightnessF() < 0.5 and window.view.canvas_scene.theme.dark
    desktop.scheme = Qt.ColorScheme.Light
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    QApplication.processEvents()
    assert qapp.palette().window().color().lightnessF() > 0.5
    window.actions_.themes["dark"].trigger()  # a fixed choice ignores the desktop
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert qapp.palette().window().color().lightnessF() < 0.5
    assert make_settings(settings_file).theme() == "dark"


def test_layer_drop_onto_window_canvas(window):
    count = len(window.document.spec.nodes)
    drop_layer(window, "Dense")
    assert len(window.document.spec.nodes) == count + 1
    assert window.document.selected_ids == ["dense_1"]
