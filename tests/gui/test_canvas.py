"""The canvas driven like a user: palette drops, mouse drags on ports and cards, keys, wheel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThread
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QPalette, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from gui.canvas.edge_item import MAGNITUDE_STEPS
from gui.canvas.node_item import ACTIVITY_STEPS
from gui.canvas.view import CanvasView
from gui.document import LAYER_MIME
from tests.conftest import live_windows, running_threads

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def view(qtbot, doc):
    view = CanvasView(doc)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def build_chain(doc, view, *types):
    """Nodes "n0", "n1", ... in a row, each fed by the previous one; the view shows them all."""
    ids = []
    for index, type_name in enumerate(types):
        params = {"shape": [4]} if type_name == "Input" else None
        node_id = doc.add_node(type_name, (index * 240.0, 0.0), params)
        doc.rename_node(node_id, f"n{index}")
        if index:
            doc.connect(f"n{index - 1}", f"n{index}")
        ids.append(f"n{index}")
    doc.undo_stack.clear()
    view.fit_to_view()
    return ids


def port_point(view, node_id, kind):
    return view.mapFromScene(view.node_item(node_id).port_position(kind))


def drag(viewport, start, end, steps=4, button=LEFT):
    QTest.mousePress(viewport, button, NO_MOD, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * k / steps)
    QTest.mouseRelease(viewport, button, NO_MOD, end)


def test_palette_drop_adds_node_under_cursor(view, doc, qtbot):
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"Dense")
    viewport, pos = view.viewport(), QPoint(400, 250)
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, copy, mime, LEFT, NO_MOD)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDragMoveEvent(pos, copy, mime, LEFT, NO_MOD))
    with qtbot.waitSignal(doc.node_added) as blocker:
        QApplication.sendEvent(viewport, QDropEvent(QPointF(pos), copy, mime, LEFT, NO_MOD))
    assert blocker.args == ["dense_1"]
    item = view.node_item("dense_1")
    assert item.sceneBoundingRect().contains(view.mapToScene(pos))
    assert doc.undo_stack.text(0) == "Add Dense 'dense_1'" and doc.selected_ids == ["dense_1"]
    assert item.isSelected()
    other = QMimeData()
    other.setText("Dense")
    refused = QDragEnterEvent(pos, copy, other, LEFT, NO_MOD)
    QApplication.sendEvent(viewport, refused)
    assert not refused.isAccepted()


def test_drag_from_output_to_input_port_connects(view, doc, qtbot):
    doc.add_node("Input", (0, 0), {"shape": [4]})
    doc.add_node("Dense", (300, 60))
    view.fit_to_view()
    start, end = port_point(view, "input_1", "out"), port_point(view, "dense_1", "in")
    viewport = view.viewport()
    QTest.mousePress(viewport, LEFT, NO_MOD, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    assert view.node_item("dense_1").connect_hint is True
    assert view.hint.isVisible() and view.hint.text == "Connect input_1 → dense_1"
    with qtbot.waitSignal(doc.edge_added) as blocker:
        QTest.mouseRelease(viewport, LEFT, NO_MOD, end)
    assert blocker.args == ["input_1", "dense_1"]
    assert doc.spec.edges == [("input_1", "dense_1")] and view.edge_item("input_1", "dense_1")
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == "Connect input_1 → dense_1"
    assert view.node_item("dense_1").connect_hint is None and not view.hint.isVisible()
    assert view.node_item("dense_1").pos() == QPointF(300, 60)  # nothing moved


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("n2", "n0", "is an input: nothing can feed it"),
        ("n3", "n1", "would make a cycle"),
    ],
)
def test_invalid_connection_is_refused_with_reason(view, doc, qtbot, source, target, reason):
    build_chain(doc, view, "Input", "Add", "Dense", "Dense")
    start = port_point(view, source, "out")
    end = view.mapFromScene(view.node_item(target).sceneBoundingRect().center())
    viewport = view.viewport()
    QTest.mousePress(viewport, LEFT, NO_MOD, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    assert view.node_item(target).connect_hint is False
    assert reason in view.hint.text and view.hint.isVisible()
    edges = list(doc.spec.edges)
    with qtbot.assertNotEmitted(doc.edge_added):
        QTest.mouseRelease(viewport, LEFT, NO_MOD, end)
    assert doc.spec.edges == edges and doc.undo_stack.count() == 0
    assert view.node_item(target).connect_hint is None


def test_move_is_one_undo_entry_per_drag(view, doc, qtbot):
    build_chain(doc, view, "Input", "Dense")
    item = view.node_item("n1")
    start = view.mapFromScene(item.sceneBoundingRect().center())
    with qtbot.waitSignal(doc.node_moved):
        drag(view.viewport(), start, start + QPoint(60, 90), steps=6)
    assert doc.undo_stack.count() == 1 and doc.undo_stack.text(0) == "Move Dense 'n1'"
    moved = doc.spec.nodes["n1"].pos
    assert moved[0] > 240 and moved[1] > 0 and (item.pos().x(), item.pos().y()) == moved
    edge = view.edge_item("n0", "n1")
    assert edge.boundingRect().contains(item.port_position("in") - QPointF(8, 0))
    doc.undo_stack.undo()
    assert doc.spec.nodes["n1"].pos == (240.0, 0.0) and item.pos() == QPointF(240, 0)
    assert edge.boundingRect().contains(item.port_position("in") - QPointF(8, 0))
    doc.undo_stack.redo()
    assert (item.pos().x(), item.pos().y()) == moved


def test_rubber_band_select_then_delete_and_undo(view, doc):
    build_chain(doc, view, "Input", "Dense", "Dense")
    before = doc.spec.to_dict()
    corner = view.mapFromScene(view.node_item("n1").sceneBoundingRect().topLeft()) - QPoint(20, 20)
    far = view.mapFromScene(view.node_item("n2").sceneBoundingRect().bottomRight()) + QPoint(20, 20)
    drag(view.viewport(), corner, far)
    assert doc.selected_ids == ["n1", "n2"]
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert list(doc.spec.nodes) == ["n0"] and view.node_item("n1") is None
    assert doc.undo_stack.text(0) == "Remove 2 layers" and doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.spec.to_dict() == before and view.edge_item("n1", "n2") is not None


def test_select_edge_and_press_delete_disconnects(view, doc):
    build_chain(doc, view, "Input", "Dense")
    edge = view.edge_item("n0", "n1")
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, view.mapFromScene(edge.shape().boundingRect().center()))
    assert edge.isSelected()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert doc.spec.edges == [] and view.edge_item("n0", "n1") is None
    assert doc.undo_stack.text(0) == "Disconnect n0 → n1"
    doc.undo_stack.undo()
    assert view.edge_item("n0", "n1") is not None


def test_params_edit_updates_card_and_undoes(view, doc, qtbot):
    build_chain(doc, view, "Input", "Dense")
    with qtbot.waitSignal(doc.shapes_changed):
        doc.set_node_params("n1", {"units": 128, "activation": "relu"})
    content = view.node_item("n1").content
    assert (content.detail, content.shape, content.params) == (
        "Dense 128 · relu",
        "→ (None, 128)",
        "640 params",
    )
    doc.undo_stack.undo()
    assert view.node_item("n1").content.shape == "→ (None, 32)"
    doc.undo_stack.redo()
    assert view.node_item("n1").content.params == "640 params"


def test_shape_error_badge_and_tooltip(view, doc):
    build_chain(doc, view, "Input", "Dense")
    doc.set_node_params("n0", {"shape": [28, 28]})
    item = view.node_item("n1")
    assert "add a Flatten" in item.toolTip() and "add a Flatten" in item.content.problem
    assert item.content.shape == "→ ?"
    doc.undo_stack.undo()
    assert item.content.problem == "" and "add a Flatten" not in item.toolTip()


def test_rename_and_auto_layout_follow_the_document(view, doc):
    build_chain(doc, view, "Input", "Dense", "Dense")
    doc.move_nodes({"n1": (35.0, 400.0), "n2": (-300.0, -120.0)})
    doc.auto_layout()
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == "Auto-layout"
    xs = [view.node_item(i).pos().x() for i in ("n0", "n1", "n2")]
    assert xs == sorted(xs) and len(set(xs)) == 3
    doc.undo_stack.undo()
    assert view.node_item("n2").pos() == QPointF(-300, -120)
    doc.rename_node("n1", "hidden")
    assert view.node_item("n1") is None and view.node_item("hidden").content.title == "hidden"
    assert view.edge_item("n0", "hidden") and view.edge_item("hidden", "n2")


def test_zoom_pan_and_fit(view, doc):
    build_chain(doc, view, "Input", "Dense", "Dense")
    view.reset_zoom()
    assert view.scale_factor() == pytest.approx(1.0)
    view.zoom_in()
    assert view.scale_factor() == pytest.approx(1.25)
    view.zoom_out()
    view.zoom_out()
    assert view.scale_factor() == pytest.approx(0.8)
    centre = QPointF(500, 300)
    wheel = QWheelEvent(
        centre,
        view.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        NO_MOD,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.scale_factor() == pytest.approx(0.8 * 1.15**2)
    view.zoom_in()
    bar = view.horizontalScrollBar()
    before = bar.value()
    drag(view.viewport(), QPoint(600, 500), QPoint(450, 500), button=Qt.MouseButton.MiddleButton)
    assert bar.value() == before + 150
    view.fit_to_view()
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(view.canvas_scene.content_rect())


def test_space_drag_pans_instead_of_selecting(view, doc):
    build_chain(doc, view, "Input", "Dense")
    view.zoom_in()
    view.zoom_in()
    bar = view.verticalScrollBar()
    before = bar.value()
    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(view.viewport(), QPoint(500, 400), QPoint(500, 340))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert bar.value() == before + 60 and doc.selected_ids == []


def test_theme_follows_palette(view):
    palette = QPalette(view.palette())
    palette.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    view.setPalette(palette)
    theme = view.canvas_scene.theme
    assert theme.dark and theme.canvas.lightness() < 60 and theme.text.lightness() > 200


def test_exports(view, doc, tmp_path):
    build_chain(doc, view, "Input", "Dense")
    doc.set_node_params("n0", {"shape": [28, 28]})
    view.export_png(tmp_path / "net.png")
    view.export_svg(tmp_path / "net.svg")
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"
    svg = (tmp_path / "net.svg").read_text(encoding="utf-8")
    assert "<text" in svg and "<image" not in svg and "n1" in svg


def test_weight_style_and_activity(view, doc):
    build_chain(doc, view, "Input", "Dense")
    edge, node = view.edge_item("n0", "n1"), view.node_item("n1")
    edge.set_weight_style(2.5, -1)
    node.set_activity(0.4)
    assert (edge.magnitude, edge.sign, node.activity) == (1.0, -1, 0.4)
    view.viewport().repaint()
    edge.set_weight_style(None, 1)
    node.set_activity(None)
    assert edge.magnitude is None and node.activity is None


def test_changes_too_small_to_see_do_not_repaint_the_canvas(view, doc, monkeypatch):
    """While training, the styles are set 5 times a second; the cards repaint only when the
    activity bar or the edge's width/opacity would change on screen."""
    build_chain(doc, view, "Input", "Dense")
    edge, node = view.edge_item("n0", "n1"), view.node_item("n1")
    repaints = []
    monkeypatch.setattr(edge, "update", lambda *a: repaints.append("edge"))
    monkeypatch.setattr(node, "update", lambda *a: repaints.append("node"))
    edge.set_weight_style(0.5, 1)
    node.set_activity(0.5)
    edge.set_weight_style(0.5 + 0.2 / MAGNITUDE_STEPS, 1)
    node.set_activity(0.5 + 0.2 / ACTIVITY_STEPS)
    assert repaints == ["edge", "node"]
    edge.set_weight_style(0.5 + 1.0 / MAGNITUDE_STEPS, 1)
    node.set_activity(0.5 + 1.0 / ACTIVITY_STEPS)
    edge.set_weight_style(0.5 + 1.0 / MAGNITUDE_STEPS, -1)  # the sign always shows
    assert repaints == ["edge", "node", "edge", "node", "edge"]


def test_leak_check_sees_windows_and_threads(qapp):
    window = QWidget()
    window.show()
    thread = QThread()
    thread.start()
    try:
        assert any(name.startswith("QWidget") for name in live_windows().values())
        assert thread in running_threads()
    finally:
        thread.quit()
        thread.wait()
        window.close()
        window.deleteLater()
    assert thread not in running_threads()
