"""A canvas that stays where the user put it: drops land under the cursor, a new card never covers
another one, and no edit (add, delete, undo, zoom) scrolls or re-centres the view by itself."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.canvas.node_item import HEIGHT, WIDTH
from gui.canvas.view import CanvasView
from gui.network_layout import free_position
from gui.palette import PaletteWidget

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def editor(qtbot, doc):
    """A canvas and the palette, as in the window; the spiral-sized chain on the canvas."""
    view = CanvasView(doc)
    palette = PaletteWidget(doc)
    for widget in (view, palette):
        qtbot.addWidget(widget)
    view.resize(900, 560)
    view.show()
    qtbot.waitExposed(view)
    previous = None
    for index, type_name in enumerate(("Input", "Dense", "Dense", "Dense")):
        node_id = doc.add_node(
            type_name, (index * 220.0, 0.0), {"shape": [2]} if type_name == "Input" else None
        )
        if previous:
            doc.connect(previous, node_id)
        previous = node_id
    doc.undo_stack.clear()
    view.fit_to_view()
    return view, palette


def drop(view: CanvasView, palette: PaletteWidget, type_name: str, pos: QPoint) -> None:
    """The palette's own drag data delivered to the canvas (QT-NOTES.md "Testing drag and drop")."""
    mime = palette.mimeData([palette.layer_item(type_name)])
    viewport, copy = view.viewport(), Qt.DropAction.CopyAction
    QApplication.sendEvent(viewport, QDragEnterEvent(pos, copy, mime, LEFT, NO_MOD))
    QApplication.sendEvent(viewport, QDragMoveEvent(pos, copy, mime, LEFT, NO_MOD))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(pos), copy, mime, LEFT, NO_MOD))


def where(view: CanvasView) -> tuple[QPointF, float]:
    """The scene point shown at the viewport's top-left corner, and the zoom."""
    return view.mapToScene(QPoint(0, 0)), view.scale_factor()


def card(view: CanvasView, node_id: str) -> QRectF:
    return QRectF(view.node_item(node_id).pos(), view.node_item(node_id).pos() + QPointF(WIDTH, HEIGHT))


def assert_no_overlap(view: CanvasView) -> None:
    ids = list(view.canvas_scene.node_items)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert not card(view, a).intersects(card(view, b)), f"{a} covers {b}"


def test_drops_land_under_the_cursor_and_the_view_stays_put(editor, doc):
    view, palette = editor
    for _ in range(5):  # far out: the network and its margin are smaller than the view
        view.zoom_out()
    for pos in (QPoint(60, 60), QPoint(510, 60), QPoint(60, 480), QPoint(840, 500)):
        before = where(view)
        scene_pos = view.mapToScene(pos)
        drop(view, palette, "Dropout", pos)
        node_id = doc.selected_ids[0]
        assert where(view) == before, "the view moved after a drop"
        assert card(view, node_id).center() == scene_pos, "the card is not centred on the cursor"
    assert_no_overlap(view)


def test_two_drops_close_together_do_not_overlap(editor, doc):
    view, palette = editor
    view.reset_zoom()
    empty = view.mapFromScene(QPointF(110.0, 400.0))
    drop(view, palette, "Dense", empty)
    first = doc.selected_ids[0]
    drop(view, palette, "Dense", empty + QPoint(30, 20))  # most of the second card over the first
    second = doc.selected_ids[0]
    assert second != first
    assert_no_overlap(view)
    port = view.node_item(first).output_port.sceneBoundingRect()
    assert not card(view, second).intersects(port), "the new card hides a port"
    # it went to the nearest free place, not far away
    assert (
        card(view, second).center() - view.mapToScene(empty + QPoint(30, 20))
    ).manhattanLength() < 2 * WIDTH
    drop(view, palette, "Dense", view.mapFromScene(card(view, "dense_1").center()))  # right on a card
    assert_no_overlap(view)


def test_delete_and_undo_keep_the_view_where_it_was(editor, doc):
    view, _palette = editor
    view.reset_zoom()
    bar = view.horizontalScrollBar()
    bar.setValue(bar.maximum())  # looking at the right end, where the last layer is
    before = where(view)
    last = list(doc.spec.nodes)[-1]
    doc.set_selection([last])
    view.setFocus()
    QTest.keyClick(view.viewport(), Qt.Key.Key_Delete)
    assert last not in doc.spec.nodes
    assert where(view) == before, "Delete moved the view"
    doc.undo_stack.undo()
    assert last in doc.spec.nodes
    assert where(view) == before, "Undo moved the view"
    doc.undo_stack.redo()
    doc.undo_stack.undo()
    assert where(view) == before


def test_zooming_out_keeps_the_point_under_the_cursor(editor):
    view, _palette = editor
    centre = QPoint(view.viewport().width() // 2, view.viewport().height() // 2)
    point = view.mapToScene(centre)
    for _ in range(8):
        view.zoom_out()
    assert view.scale_factor() < 0.2
    # (scroll bars move in whole pixels: up to about one pixel of drift per step)
    assert (view.mapToScene(centre) - point).manhattanLength() < 8.0 / view.scale_factor()


def test_free_position_is_the_nearest_free_spot():
    size = (WIDTH, HEIGHT)
    assert free_position((0.0, 0.0), [], size) == (0.0, 0.0)
    assert free_position((500.0, 0.0), [(0.0, 0.0)], size) == (500.0, 0.0)
    x, y = free_position((10.0, 10.0), [(0.0, 0.0)], size)
    assert abs(x) >= WIDTH + 16 or abs(y) >= HEIGHT + 16
    assert abs(x - 10) + abs(y - 10) <= HEIGHT + 16 + 24 + 10  # the nearer way out: down or up


def test_a_layer_added_after_the_selected_one_covers_no_card(editor, doc):
    """A palette entry double-clicked with a layer selected is added to that layer's right, where
    the chain's next card already stands (cards 220 px apart): it goes to free space instead."""
    view, palette = editor
    doc.set_selection(["dense_1"])
    added = palette.add_layer("Dropout")
    assert added is not None and ("dense_1", added) in doc.spec.edges
    assert_no_overlap(view)
