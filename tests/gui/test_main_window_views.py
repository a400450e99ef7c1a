"""The main window, continued: every kind of edit undone and redone, the history view, remembered
files and layout, problems and the summary, the
examples, canvas export, the theme, and a layer dropped onto the window's canvas."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
)

import engine  # noqa: F401  (registers every layer type)
import gui.theme
from gui.examples import EXAMPLES_DIR, list_examples
from gui.examples_dialog import ExamplesDialog
from gui.inspector import NodePage
from gui.theme import is_dark
from tests.gui.test_main_window import (  # noqa: F401  (fixtures, used by name)
    LEFT,
    NO_MOD,
    SPIRAL,
    action_for,
    dialogs,
    drop_layer,
    make_settings,
    make_window,
    menu_actions,
    restore_theme,
    settings_file,
    shared_window,
    spec_dict,
    window,
)


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
