"""The Step-through panel: a sample picked on the Boundary plot or in an image grid is walked
through the network node by node (forward, loss, backward, update); a unit's weighted sum is
written out and adds up; Apply is one undoable gradient step; the panel follows the document."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_feature_maps import open_file, write_cnn

import gui.training.session as session_module
from engine.examples import example_path
from engine.trace import NodeTrace
from gui.step_through import walk
from gui.step_through.panel import PICK_TEXT, target_for
from gui.training.data_panel import THUMBNAIL_COLUMNS
from gui.training.image_grid import tile_origin


@pytest.fixture(autouse=True)
def no_warm_up(monkeypatch):
    """Opening a network compiles its training kernels in the background; nothing here trains."""
    monkeypatch.setattr(session_module, "_warm_up", lambda _network: None)


def click_scene_point(widget: pg.GraphicsView, scene_point: QPointF) -> None:
    """A real left click on a pyqtgraph view at a point of its scene."""
    at = widget.mapFromScene(scene_point)
    QTest.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)


def pick(window, index: int, split: str) -> None:
    """Pick a sample as a click in a training view does (the dock opens with it)."""
    window.step_through.picker.sample_picked.emit(index, split)
    assert window.docks["step_through"].isVisible() and window.step_through.sample == (index, split)


def open_xor(window, qtbot) -> None:
    open_file(window, qtbot, example_path("xor"))


def walk_titles(panel) -> list[str]:
    """Press Forward ▸ until it is disabled; the titles shown from the first step on."""
    panel.go_to(0)
    titles = [panel.title.text()]
    while panel.forward.isEnabled():
        QTest.mouseClick(panel.forward, Qt.MouseButton.LeftButton)
        titles.append(panel.title.text())
    return titles


def test_clicking_a_point_of_the_boundary_plot_walks_that_sample(window, qtbot):
    open_xor(window, qtbot)
    training = window.training_panel
    window.docks["training"].show()
    window.docks["training"].raise_()
    training.tabs.setCurrentWidget(training.surface)
    plot = training.surface.plot
    qtbot.waitUntil(lambda: plot.isVisible() and len(training.surface.points.points()) > 0)
    x = window.session.train_set.x
    gaps = np.linalg.norm(x[:, None] - x[None], axis=2) + np.eye(len(x)) * 1e9
    lonely = int(gaps.min(axis=1).argmax())  # the point farthest from any other: no overlap
    point = training.surface.points.points()[lonely]
    click_scene_point(plot, training.surface.points.mapToScene(point.pos()))
    panel = window.step_through
    qtbot.waitUntil(lambda: panel.sample is not None)
    assert panel.sample == (lonely, "train") and window.docks["step_through"].isVisible()
    assert panel.sample_label.text().startswith(f"Sample {lonely} of the training set")
    np.testing.assert_allclose(panel.walk.x, x[lonely])
    assert panel.title.text() == "1 / 7 · in forward"
    # the network the canvas shows is marked: the Input node is framed
    assert window.step_through.marks.node_id == "in"


def test_forward_walks_every_node_of_xor_then_the_loss_backward_and_the_update(window, qtbot):
    open_xor(window, qtbot)
    panel = window.step_through
    pick(window, 3, "train")
    assert walk_titles(panel) == [
        "1 / 7 · in forward",
        "2 / 7 · hidden forward",
        "3 / 7 · out forward",
        "4 / 7 · loss",
        "5 / 7 · out backward",
        "6 / 7 · hidden backward",
        "7 / 7 · update",
    ]
    before, after = panel.walk.trace.loss, panel.walk.loss_after
    assert panel.apply.isVisible() and f"loss: {before:.4g} before → {after:.4g} after" in panel.detail.text()
    QTest.mouseClick(panel.back, Qt.MouseButton.LeftButton)
    assert panel.title.text() == "6 / 7 · hidden backward"
    assert panel.formula.text().startswith("δ⁽¹⁾ = (W⁽²⁾ᵀδ⁽²⁾) ⊙ f′(z⁽¹⁾)")
    # the canvas marks the node shown, and its incoming edge carries the gradient flowing back
    assert panel.marks.node_id == "hidden" and panel.marks.labels[("in", "hidden")].startswith("∂L/∂a")
    panel.go_to(3)  # the loss: the binary cross-entropy with this sample's numbers
    y = int(window.session.train_set.y[3])
    p = float(panel.walk.trace.prediction[0])
    assert f"L = −[{walk.num(y)}·log {p:.4g}" in panel.detail.text()
    expected = -np.log(p) if y == 1 else -np.log(1 - p)
    assert abs(panel.walk.trace.loss - expected) < 1e-4


def test_a_units_written_sum_adds_up_to_its_z(window, qtbot):
    open_xor(window, qtbot)
    panel = window.step_through
    pick(window, 11, "train")
    panel.go_to(2)  # out: 8 inputs, so the middle of the sum is elided
    node = panel.walk.trace.node("out")
    total = walk.neuron_sum(node, 0, "sigmoid")
    assert total.elided[0] == 3 and abs(total.total() - float(node.z[0])) < 1e-5
    panel.go_to(1)  # hidden: 2 inputs, every term written
    hidden = panel.walk.trace.node("hidden")
    term, image = panel.product.drawn[0]  # W⁽¹⁾ (8×2): the mouse over row 3, column 1 says its value
    at = QPointF(panel.product.mapFromScene(image.mapToScene(QPointF(1.5, 3.5))))
    viewport = panel.product.viewport()
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        at,
        viewport.mapToGlobal(at),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)
    qtbot.waitUntil(lambda: panel.hover.text() != "")
    assert panel.hover.text() == f"W⁽¹⁾[3, 1] = {hidden.weights['kernel'][1, 3]:.4g}"
    for unit in range(8):
        panel.product.row_clicked.emit(unit)  # a click on row `unit` of W, z or a
        text = panel.detail.text().splitlines()[0]
        written = walk.neuron_sum(hidden, unit, "tanh")
        w, a, b = hidden.weights["kernel"][:, unit], hidden.inputs[0], hidden.weights["bias"][unit]
        assert abs(float(w @ a + b) - float(hidden.z[unit])) < 1e-5
        assert abs(written.total() - float(hidden.z[unit])) < 1e-5 and written.elided == (0, 0.0)
        assert text.startswith(f"z{walk.subscript(unit)} = {walk.num(w[0])}·{walk.num(a[0], True)} + ")
        assert (
            f"= {walk.num(hidden.z[unit])}," in text and f"tanh(z) = {walk.num(hidden.output[unit])}" in text
        )


def test_apply_steps_the_weights_by_minus_eta_grad_and_undo_restores_them_exactly(window, qtbot):
    open_xor(window, qtbot)
    doc, panel = window.document, window.step_through
    pick(window, 5, "train")
    before = [w.copy() for w in doc.network.get_weights()]
    trace = doc.network.trace(
        window.session.train_set.x[5], target_for(doc.network, window.session.train_set.y[5])
    )
    eta = doc.network.training.learning_rate
    panel.go_to(len(panel.steps) - 1)
    loss_before = panel.walk.trace.loss
    QTest.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    after = doc.network.get_weights()
    for old, new, grad in zip(before, after, trace.weight_grads, strict=True):
        np.testing.assert_allclose(new, old - eta * grad, rtol=1e-6, atol=1e-7)
        assert not np.array_equal(new, old) or not grad.any()
    assert doc.undo_stack.count() == 1 and doc.undo_stack.text(0).startswith("Gradient step")
    # the panel follows: the same sample through the stepped network, its loss now lower
    assert panel.walk.trace.loss < loss_before and panel.title.text() == "7 / 7 · update"
    doc.undo_stack.undo()
    for old, restored in zip(before, doc.network.get_weights(), strict=True):
        np.testing.assert_array_equal(restored, old)
    assert abs(panel.walk.trace.loss - loss_before) < 1e-12


def test_the_panel_follows_the_document_through_an_edit_its_undo_and_new(window, qtbot):
    open_xor(window, qtbot)
    doc, panel = window.document, window.step_through
    pick(window, 2, "train")
    panel.go_to(1)
    assert panel.marks.items and panel.marks.node_id == "hidden"
    doc.set_node_params("hidden", {"units": 3})  # traced again through the edited network
    assert (
        panel.walk.trace.node("hidden").output.shape == (3,)
        and panel.title.text() == "2 / 7 · hidden forward"
    )
    doc.undo_stack.undo()
    assert panel.walk.trace.node("hidden").output.shape == (8,)
    window.docks["step_through"].close()  # the panel closed: the canvas is plain again
    assert panel.marks.items == []
    pick(window, 2, "train")  # (a pick starts at the first step)
    assert panel.marks.items and panel.marks.node_id == "in"
    window.new_file()
    assert panel.sample is None and panel.steps == [] and panel.sample_label.text() == PICK_TEXT
    assert not panel.forward.isEnabled() and panel.marks.items == [] and panel.marks.node_id is None


def test_units_that_pass_almost_no_gradient_are_named_dead_or_saturated():
    relu = NodeTrace(
        "h", "Dense", [np.ones(3)], np.array([0.0, 2.0, 0.0]), np.ones(3), np.array([-1.0, 2.0, 0.0])
    )
    relu.activation = "relu"
    assert walk.quiet_units(relu) == ([0, 2], "dead for this sample (z ≤ 0)")
    z = np.array([0.5, 9.0, -12.0])
    sigmoid = NodeTrace("s", "Dense", [np.ones(3)], 1 / (1 + np.exp(-z)), np.ones(3), z, activation="sigmoid")
    assert walk.quiet_units(sigmoid) == ([1, 2], "saturated (f′(z) ≈ 0)")  # σ′ = 1.2e-4, 6.1e-6
    softmax = NodeTrace(
        "o", "Dense", [np.ones(3)], np.ones(3) / 3, np.ones(3), np.zeros(3), activation="softmax"
    )
    assert walk.quiet_units(softmax) == ([], "")


def test_an_image_picked_in_the_data_tab_walks_every_node_of_a_cnn(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path, epochs=1))
    training = window.training_panel
    window.docks["training"].show()
    window.docks["training"].raise_()
    training.tabs.setCurrentWidget(training.data_panel)
    preview = training.data_panel.preview
    qtbot.waitUntil(lambda: preview.isVisible() and bool(preview.scene().items()))
    image = next(i for i in preview.scene().items() if isinstance(i, pg.ImageItem) and i.image is not None)
    x, y = tile_origin(5, (8, 8), THUMBNAIL_COLUMNS)
    click_scene_point(preview, image.mapToScene(QPointF(x + 4, y + 4)))
    panel = window.step_through
    qtbot.waitUntil(lambda: panel.sample is not None)
    assert panel.sample == (5, "all")
    # the panel opens beside the Training dock, not behind it: the picked-in view stays in sight
    assert preview.isVisible() and window.step_through.isVisible()
    np.testing.assert_array_equal(panel.walk.x, window.session.dataset.x[5])
    steps = [f"{n} forward" for n in ("in", "c1", "p1", "c2", "f", "out")]
    steps += ["loss", "out backward", "c2 backward", "c1 backward", "update"]
    assert walk_titles(panel) == [f"{i} / 11 · {s}" for i, s in enumerate(steps, 1)]
    panel.go_to(0)  # the picture as it is, then the values going in
    assert [p.name for p in panel.view.parts if not isinstance(p, str)] == ["the image", "a⁽⁰⁾ = x"]
    panel.go_to(4)  # Flatten: the (3, 2, 2) maps become a column of 12
    assert "Flatten" in panel.formula.text() and panel.view.parts[-1].values.shape == (12, 1)
    panel.go_to(5)  # the output: two class probabilities as bars, the largest the prediction
    probabilities = panel.walk.trace.prediction
    assert panel.bars.isVisible() and panel.bars.prediction == int(np.argmax(probabilities))
    training.results.sample_clicked.emit(3)  # a misclassified validation image clicked
    assert panel.sample == (3, "validation")
    training.features.choose(7)  # the image browsed on the Features tab: the open panel follows
    assert panel.sample == (7, "validation")
    window.docks["step_through"].close()
    training.features.choose(8)  # ... a closed one stays closed
    assert not window.docks["step_through"].isVisible() and panel.sample == (7, "validation")


MNIST = Path(__file__).parents[3] / "shared/data/mnist"


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"the MNIST files are not in {MNIST} (the shared data folder)")
def test_an_mnist_digit_becomes_784_inputs_then_10_probabilities(window, qtbot):
    assert window.load_path(example_path("mnist_mlp"))
    window.document.set_data({"source": "mnist", "path": str(MNIST)})
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=20000)
    panel = window.step_through
    pick(window, 2, "all")
    titles = walk_titles(panel)
    assert titles == [
        "1 / 7 · image forward",
        "2 / 7 · hidden forward",
        "3 / 7 · digits forward",
        "4 / 7 · loss",
        "5 / 7 · digits backward",
        "6 / 7 · hidden backward",
        "7 / 7 · update",
    ]
    panel.go_to(0)
    picture, column = (p for p in panel.view.parts if not isinstance(p, str))
    assert picture.values.shape == (28, 28) and column.values.shape == (784, 1)
    panel.go_to(2)
    probabilities = panel.walk.trace.prediction
    assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-5
    assert panel.bars.isVisible() and panel.bars.prediction == int(probabilities.argmax())
    assert len(panel.bars.bar_item.opts["height"]) == 10
    panel.go_to(5)  # the hidden ReLU units silent for this digit pass no gradient back
    quiet = int(np.sum(panel.walk.trace.node("hidden").z <= 0))
    assert f"{quiet} of 128 units pass almost no gradient" in panel.detail.text()


def test_a_row_of_the_csv_table_walks_that_sample_standardized_as_training_would(window, qtbot):
    open_file(window, qtbot, example_path("tiny_3_5_1"))  # 3 features of a CSV file, standardized
    pick(window, 0, "train")
    panel = window.step_through
    QTest.mouseClick(panel.table_button, Qt.MouseButton.LeftButton)
    table, train = panel.table, window.session.train_set
    assert table.isVisible() and table.rowCount() == min(len(train), 500)
    assert [table.item(4, c).text() for c in (1, 2, 3)] == [f"{v:.4g}" for v in train.x[4]]
    rect = table.visualItemRect(table.item(4, 1))
    QTest.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    assert panel.sample == (4, "train")
    scaler = window.session.dataset.scaler
    assert scaler is not None and window.document.network.scaler is None  # (not trained yet)
    np.testing.assert_allclose(
        panel.walk.trace.node("in").output, scaler.transform(train.x[4:5])[0], rtol=1e-5, atol=1e-6
    )


def test_after_a_run_and_while_hidden_the_panel_shows_the_network_as_it_is(window, qtbot):
    open_xor(window, qtbot)
    doc, panel = window.document, window.step_through
    doc.set_training({**doc.spec.training, "epochs": 2})
    pick(window, 6, "train")
    before = panel.walk.trace.loss
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: doc.network.history.steps > 0 and window.session.state == "idle", timeout=60000)
    assert window.docks["step_through"].isVisible() and panel.sample == (6, "train")
    kernel = doc.network.model.layers["hidden"].weights["kernel"]
    np.testing.assert_array_equal(panel.walk.trace.node("hidden").weights["kernel"], kernel)
    assert panel.walk.trace.loss != before
    window.docks["step_through"].close()
    doc.set_node_params("hidden", {"units": 5})  # an edit while the panel is closed ...
    assert panel.stale
    window.docks["step_through"].show()  # ... is traced when it opens again
    assert not panel.stale and panel.walk.trace.node("hidden").output.shape == (5,)


def test_the_first_of_eight_sigmoid_layers_is_seen_to_get_a_vanishing_gradient(window, qtbot):
    open_file(window, qtbot, example_path("vanishing_gradients"))
    pick(window, 3, "train")
    panel = window.step_through
    panel.go_to(len(panel.steps) - 2)  # the last backward step: the first hidden layer
    first = panel.walk.trace.nodes[1]
    assert panel.title.text().endswith(f"{first.id} backward")
    ratio = np.linalg.norm(first.grad_z) / np.linalg.norm(panel.walk.trace.nodes[-1].grad_z)
    assert ratio < 1e-2 and f"({ratio:.0e} of the output layer's" in panel.detail.text()
    assert "vanishing gradients" in panel.detail.text()
