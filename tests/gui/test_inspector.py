"""The inspector driven like a user: typing into editors, undo/redo, invalid input, settings."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit

import engine
from gui.document import NetworkDocument
from gui.inspector import InspectorWidget, NodePage
from gui.param_editors import ChoiceField, IntField, TextField
from gui.training.settings_page import TrainingSettingsPage


@pytest.fixture
def doc(qapp):
    spec = engine.NetworkSpec()
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 32, "activation": "tanh"}, (220, 0), node_id="hidden")
    spec.add_node("Dropout", {}, (440, 0), node_id="drop")
    spec.connect("in", "hidden")
    spec.connect("hidden", "drop")
    spec.training = {"loss": "binary_crossentropy"}
    return NetworkDocument(engine.Network(spec))


@pytest.fixture
def inspector(qtbot, doc):
    widget = InspectorWidget(doc)
    qtbot.addWidget(widget)
    widget.resize(380, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def select(doc, inspector, node_id):
    doc.set_selection([node_id])
    assert isinstance(inspector.page, NodePage) and inspector.page.node_id == node_id
    return inspector.page


def type_into(qtbot, line_edit: QLineEdit, text: str, enter: bool = True):
    line_edit.setFocus()
    line_edit.selectAll()
    qtbot.keyClicks(line_edit, text)
    if enter:
        qtbot.keyClick(line_edit, Qt.Key.Key_Return)


def test_node_page_shows_type_shape_and_parameter_count(doc, inspector):
    page = select(doc, inspector, "hidden")
    assert page.id_edit.text() == "hidden"
    assert page.shape_label.text() == "(None, 32)"
    assert page.params_label.text() == "96"  # 2*32 + 32
    assert not page.problem_label.isVisible()
    field = page.form.fields["units"]
    assert isinstance(field, IntField) and field.hint.text() == field.spec.help
    assert field.spec.help in field.input.toolTip()


def test_typing_units_then_enter_commits_and_undo_redo_follow(doc, inspector, qtbot):
    page = select(doc, inspector, "hidden")
    spin = page.form.fields["units"].input
    with qtbot.waitSignal(doc.node_changed):
        type_into(qtbot, spin.lineEdit(), "64")
    assert doc.spec.nodes["hidden"].params["units"] == 64
    assert page.params_label.text() == "192"
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.spec.nodes["hidden"].params["units"] == 32
    assert spin.value() == 32 and page.shape_label.text() == "(None, 32)"
    doc.undo_stack.redo()
    assert spin.value() == 64
    assert doc.undo_stack.count() == 1  # refreshing the editor did not push an echo edit


def test_invalid_value_is_refused_with_a_message(doc, inspector, qtbot):
    page = select(doc, inspector, "hidden")
    field = page.form.fields["kernel_l2"]
    assert isinstance(field, TextField)
    type_into(qtbot, field.input, "-1", enter=False)
    assert field.error and "at least 0" in field.hint.text()
    assert "border" in field.input.styleSheet()
    qtbot.keyClick(field.input, Qt.Key.Key_Return)
    type_into(qtbot, field.input, "abc")
    assert "Expects a number" in field.hint.text()
    assert doc.undo_stack.count() == 0 and doc.spec.nodes["hidden"].params["kernel_l2"] == 0.0
    type_into(qtbot, field.input, "1e-4")  # scientific notation is typeable
    assert field.error is None and field.hint.text() == field.spec.help
    assert doc.spec.nodes["hidden"].params["kernel_l2"] == pytest.approx(1e-4)
    assert doc.undo_stack.count() == 1


def test_spin_box_out_of_range_shows_why_and_commits_nothing(doc, inspector, qtbot):
    page = select(doc, inspector, "hidden")
    field = page.form.fields["units"]
    type_into(qtbot, field.input.lineEdit(), "0", enter=False)
    assert field.error and "at least 1" in field.hint.text()
    qtbot.keyClick(field.input.lineEdit(), Qt.Key.Key_Return)
    assert doc.spec.nodes["hidden"].params["units"] == 32 and doc.undo_stack.count() == 0


def test_activation_plot_follows_the_combo(doc, inspector, qtbot):
    page = select(doc, inspector, "hidden")
    assert page.plot is not None and page.plot.isVisible()
    _x, y = page.plot.curve.getData()
    assert y[0] == pytest.approx(np.tanh(-5.0), abs=1e-6)
    assert "tanh" in page.plot.formula.text()
    combo = page.form.fields["activation"].input
    assert isinstance(page.form.fields["activation"], ChoiceField)
    with qtbot.waitSignal(doc.node_changed):
        combo.setFocus()
        combo.setCurrentIndex(combo.findText("relu"))  # what picking it from the list does
    assert doc.spec.nodes["hidden"].params["activation"] == "relu"
    x, y = page.plot.curve.getData()
    _x, dy = page.plot.derivative.getData()
    assert y[0] == 0.0 and y[-1] == pytest.approx(5.0)
    assert dy[0] == 0.0 and dy[-1] == pytest.approx(1.0)
    assert "max(0, x)" in page.plot.formula.text()
    doc.undo_stack.undo()
    assert combo.currentText() == "tanh"
    assert page.plot.curve.getData()[1][0] == pytest.approx(np.tanh(-5.0), abs=1e-6)


def test_layer_without_activation_has_no_plot_and_float_field(doc, inspector, qtbot):
    page = select(doc, inspector, "drop")
    assert page.plot is None
    type_into(qtbot, page.form.fields["rate"].input, "0.25")
    assert doc.spec.nodes["drop"].params["rate"] == 0.25


def test_rename_from_the_id_field(doc, inspector, qtbot):
    page = select(doc, inspector, "hidden")
    type_into(qtbot, page.id_edit, "features")
    assert "features" in doc.spec.nodes and doc.selected_ids == ["features"]
    assert inspector.page.node_id == "features"
    page = inspector.page
    type_into(qtbot, page.id_edit, "in")  # taken: refused with the reason
    assert page.id_error.isVisibleTo(page) and "already exists" in page.id_error.text()
    assert "features" in doc.spec.nodes


def test_nothing_selected_shows_training_settings_and_loss_edit_is_undoable(doc, inspector, qtbot):
    page = inspector.page
    assert isinstance(page, TrainingSettingsPage)
    loss = page.boxes["loss"]
    assert loss.combo.currentText() == "binary_crossentropy"
    assert "When to use" in loss.about.text()
    with qtbot.waitSignal(doc.settings_changed):
        loss.combo.setCurrentIndex(loss.combo.findText("mse"))
    assert doc.spec.training["loss"]["type"] == "mse"
    assert doc.network.training.loss.type == "mse"
    doc.undo_stack.undo()
    assert doc.spec.training["loss"]["type"] == "binary_crossentropy"
    assert inspector.page.boxes["loss"].combo.currentText() == "binary_crossentropy"
    doc.undo_stack.redo()
    assert inspector.page.boxes["loss"].combo.currentText() == "mse"


def test_optimizer_parameters_and_early_stopping(doc, inspector, qtbot):
    page = inspector.page
    optimizer = page.boxes["optimizer"]
    type_into(qtbot, optimizer.form.fields["learning_rate"].input, "3e-4")
    assert doc.spec.training["optimizer"]["learning_rate"] == pytest.approx(3e-4)
    optimizer.combo.setCurrentIndex(optimizer.combo.findText("sgd"))
    assert doc.spec.training["optimizer"] == {
        "type": "sgd",
        "learning_rate": pytest.approx(3e-4),
        "momentum": 0.0,
        "nesterov": False,
    }
    assert "momentum" in inspector.page.boxes["optimizer"].form.fields
    inspector.page.early_check.click()
    assert doc.spec.training["early_stopping"]["patience"] == 10
    type_into(qtbot, inspector.page.early_form.fields["patience"].input.lineEdit(), "3")
    assert doc.spec.training["early_stopping"]["patience"] == 3
    inspector.page.early_check.click()
    assert "early_stopping" not in doc.spec.training
    assert doc.undo_stack.count() == 5


def test_training_page_names_the_data_but_does_not_choose_it(doc, inspector):
    """The data is chosen in one place, the Data tab (tests/gui/test_data_tab.py): the page
    shows one line about it and a button to that tab, no second picker."""
    page = inspector.page
    assert "No data chosen" in page.data_summary.text()
    assert all("data" not in combo.toolTip().lower() for combo in page.findChildren(QComboBox))
    doc.set_data({"source": "spiral", "noise": 0.2, "val_split": 0.3})
    assert inspector.page.data_summary.text() == "<b>spiral</b>: noise 0.2 · validation 30%"
    assert inspector.page.data_button.text() == "Choose in the Data tab"
