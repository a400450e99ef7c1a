"""The layer palette driven like a user: search, drag onto the canvas, double-click."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

import engine  # noqa: F401  (registers every layer type)
from engine.registry import LAYERS
from gui.canvas.node_item import HEIGHT, WIDTH
from gui.canvas.view import CanvasView
from gui.document import LAYER_MIME
from gui.palette import PaletteWidget

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def editor(qtbot, doc):
    """A palette beside a canvas on one document, shown."""
    host = QWidget()
    view = CanvasView(doc)
    palette = PaletteWidget(doc, lambda: (100.0, 50.0))
    layout = QHBoxLayout(host)
    layout.addWidget(palette)
    layout.addWidget(view, 1)
    qtbot.addWidget(host)
    host.resize(1100, 700)
    host.show()
    qtbot.waitExposed(host)
    yield palette, view
    del host  # kept alive (pytest-qt holds widgets weakly) until the test is over


def item_point(palette, type_name):
    item = palette.layer_item(type_name)
    palette.tree.scrollToItem(item)
    return palette.tree.visualItemRect(item).center()


def double_click(palette, type_name):
    """A real double-click: a click, then the double-click event on the same row."""
    point = item_point(palette, type_name)
    QTest.mouseClick(palette.tree.viewport(), LEFT, NO_MOD, point)
    QTest.mouseDClick(palette.tree.viewport(), LEFT, NO_MOD, point)


def test_every_layer_is_listed_with_its_group(editor):
    palette, _view = editor
    assert sorted(palette.visible_types()) == sorted(LAYERS.names())
    item = palette.layer_item("Dropout")
    assert item.parent().text(0) == LAYERS.get("Dropout").group
    assert "Dropout" in item.toolTip(0)


def test_search_filters_by_name_and_description(editor, qtbot):
    palette, _view = editor
    qtbot.keyClicks(palette.search, "drop")
    assert palette.visible_types() == ["Dropout"]
    palette.search.clear()
    qtbot.keyClicks(palette.search, "fully connected")  # words of Dense's description
    assert palette.visible_types() == ["Dense"]
    palette.search.clear()
    qtbot.keyClicks(palette.search, "no such layer")
    assert palette.visible_types() == []
    assert all(palette.tree.topLevelItem(i).isHidden() for i in range(palette.tree.topLevelItemCount()))
    palette.search.clear()
    assert sorted(palette.visible_types()) == sorted(LAYERS.names())


def test_mime_data_names_the_layer_type(editor):
    palette, _view = editor
    mime = palette.mimeData([palette.layer_item("Flatten")])
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "Flatten"


def test_dragging_a_layer_onto_the_canvas_adds_it_where_dropped(editor, doc, monkeypatch):
    palette, view = editor
    drop_at = QPoint(400, 260)
    delivered = []

    def deliver(mime):  # what QDrag.exec would do, as QT-NOTES.md describes
        delivered.append(bytes(mime.data(LAYER_MIME)).decode("utf-8"))
        target = view.viewport()
        action = Qt.DropAction.CopyAction
        enter = QDragEnterEvent(drop_at, action, mime, LEFT, NO_MOD)
        QApplication.sendEvent(target, enter)
        assert enter.isAccepted()
        QApplication.sendEvent(target, QDragMoveEvent(drop_at, action, mime, LEFT, NO_MOD))
        QApplication.sendEvent(target, QDropEvent(drop_at.toPointF(), action, mime, LEFT, NO_MOD))

    monkeypatch.setattr(palette, "start_drag", deliver)
    start = item_point(palette, "Dense")
    viewport = palette.tree.viewport()
    QTest.mousePress(viewport, LEFT, NO_MOD, start)
    distance = QApplication.startDragDistance() + 10
    for step in range(1, 5):
        QTest.mouseMove(viewport, start + QPoint(distance * step // 4, 2))
    QTest.mouseRelease(viewport, LEFT, NO_MOD, start + QPoint(distance, 2))

    assert delivered == ["Dense"]
    assert list(doc.spec.nodes) == ["dense_1"]
    centre = view.mapToScene(drop_at)
    x, y = doc.spec.nodes["dense_1"].pos
    assert abs(x + WIDTH / 2 - centre.x()) < 1 and abs(y + HEIGHT / 2 - centre.y()) < 1
    assert view.node_item("dense_1") is not None
    assert doc.undo_stack.count() == 1


def test_double_click_adds_after_the_selected_layer_and_connects(editor, doc, qtbot):
    palette, _view = editor
    first = doc.add_node("Input", (0, 0), {"shape": [4]})
    doc.set_selection([first])
    double_click(palette, "Dense")
    assert list(doc.spec.nodes) == ["input_1", "dense_1"]
    assert doc.spec.edges == [("input_1", "dense_1")]
    assert doc.selected_ids == ["dense_1"]  # so the next double-click chains after it
    double_click(palette, "Dropout")
    assert doc.spec.edges == [("input_1", "dense_1"), ("dense_1", "dropout_1")]
    assert doc.shape_report.shapes["dropout_1"] == (32,)
    doc.undo_stack.undo()
    assert "dropout_1" not in doc.spec.nodes


def test_double_click_with_nothing_selected_adds_at_the_view_centre(editor, doc):
    palette, _view = editor
    double_click(palette, "Input")
    assert doc.spec.nodes["input_1"].pos == (100.0, 50.0)
    assert doc.spec.edges == []


def test_enter_on_a_keyboard_selected_layer_adds_it(editor, doc, qtbot):
    palette, _view = editor
    palette.tree.setCurrentItem(palette.layer_item("Flatten"))
    palette.tree.setFocus()
    qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    assert [n.type for n in doc.spec.nodes.values()] == ["Flatten"]
