"""The Runs panel: runs recorded with what changed, ticked runs overlaid with a legend, rename,
delete, restore (one undo entry that Undo reverses exactly), and the list following the document
(Undo of a run, New, Open)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

import engine
from gui.document import NetworkDocument
from gui.training.runs_view import RunsView
from gui.training.session import IDLE

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def train_run(doc: NetworkDocument, epochs: int = 2) -> None:
    """A run as the session makes one: train the document's copy, then finish it."""
    network, before, version = doc.copy_for_training()
    rng = np.random.default_rng(len(doc.network.runs))
    x = rng.normal(size=(64, 2)).astype(np.float32)
    network.fit(x, (x[:, 0] * x[:, 1] > 0).astype(np.float32), epochs=epochs, validation_split=0.25)
    assert doc.finish_training(before, network, version, "finished")


@pytest.fixture
def doc(qapp) -> NetworkDocument:
    """XOR trained twice: at learning rate 0.01 with tanh hidden units, then 0.1 with relu."""
    document = NetworkDocument(engine.load(EXAMPLES / "xor.json"))
    hidden = [i for i, n in document.spec.nodes.items() if n.type == "Dense"][0]
    document.set_training({**document.spec.training, "optimizer": {"type": "sgd", "learning_rate": 0.01}})
    document.set_node_params(hidden, {"activation": "tanh"})
    train_run(document)
    document.set_training({**document.spec.training, "optimizer": {"type": "sgd", "learning_rate": 0.1}})
    document.set_node_params(hidden, {"activation": "relu"})
    train_run(document, epochs=3)
    document.hidden = hidden
    return document


@pytest.fixture
def view(doc, qtbot) -> RunsView:
    widget = RunsView(doc)
    qtbot.addWidget(widget)
    widget.resize(1100, 420)
    widget.show()
    return widget


def legend_names(plot) -> list[str]:
    return [label.text for _sample, label in plot.getPlotItem().legend.items]


def test_runs_are_recorded_with_what_changed_and_undo_takes_them_back(doc):
    first, second = doc.network.runs
    assert first.changes == "first run"
    assert second.changes == f"learning rate 0.01 → 0.1, {doc.hidden} activation tanh → relu"
    assert second.epoch_numbers["loss"] == [0, 1, 2] and "val_loss" in second.epochs
    doc.undo_stack.undo()  # the second Train: its weights and its run go together
    # (back to the fresh weights the activation change left)
    assert [run.name for run in doc.network.runs] == ["Run 1"] and doc.network.history.epoch_count == 0
    doc.undo_stack.redo()
    assert doc.network.runs[-1] is second and doc.network.history.epoch_count == 3


def test_the_list_keeps_the_newest_runs_a_file_can_hold(doc, monkeypatch):
    monkeypatch.setattr("gui.run_commands.MAX_RUNS", 2)
    second = doc.network.runs[1]
    train_run(doc)
    assert [run.name for run in doc.network.runs] == ["Run 2", "Run 3"] and doc.network.runs[0] is second
    doc.undo_stack.undo()
    assert [run.name for run in doc.network.runs] == ["Run 1", "Run 2"]


def test_ticked_runs_overlay_with_a_legend_in_their_colours(view):
    assert view.table.topLevelItemCount() == 2
    assert [view.table.topLevelItem(i).text(0) for i in range(2)] == ["Run 1", "Run 2"]
    assert legend_names(view.curve_plot) == ["Run 1", "Run 1 validation", "Run 2", "Run 2 validation"]
    pens = [item.opts["pen"].color().name() for item in view.curve_plot.listDataItems()]
    assert pens[0] == pens[1] != pens[2] == pens[3]
    view.set_ticked(0, False)
    assert legend_names(view.curve_plot) == ["Run 2", "Run 2 validation"]
    view.curve_choice.setCurrentText("accuracy")
    assert (
        len(view.curve_plot.listDataItems()) == 2
        and "Accuracy" in view.curve_plot.getPlotItem().titleLabel.text
    )


def test_double_click_renames_and_undo_gives_the_name_back(view, doc, qtbot):
    item = view.table.topLevelItem(0)
    rect = view.table.visualItemRect(item)
    where = rect.center()
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=where)  # (its first press)
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    editor = view.table.viewport().findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "tanh, lr 0.01")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # (the editor's text is taken in a queued call)
    qtbot.waitUntil(lambda: doc.network.runs[0].name == "tanh, lr 0.01", timeout=2000)
    assert legend_names(view.curve_plot)[0] == "tanh, lr 0.01"  # still ticked
    doc.undo_stack.undo()
    assert view.table.topLevelItem(0).text(0) == "Run 1"
    view.set_ticked(1, False)
    view.table.topLevelItem(1).setText(0, "relu")  # (as the editor does)
    qtbot.waitUntil(lambda: doc.network.runs[1].name == "relu", timeout=2000)
    assert legend_names(view.curve_plot) == ["Run 1", "Run 1 validation"]  # an unticked run stays so


def test_delete_is_undoable(view, doc, qtbot):
    view.table.topLevelItem(0).setSelected(True)
    qtbot.mouseClick(view.delete_button, Qt.MouseButton.LeftButton)
    assert [run.name for run in doc.network.runs] == ["Run 2"] and view.table.topLevelItemCount() == 1
    doc.undo_stack.undo()
    assert [run.name for run in doc.network.runs] == ["Run 1", "Run 2"]


def test_restore_is_one_undoable_edit_that_undo_reverses_exactly(view, doc, qtbot):
    before_spec, before_weights = doc.spec.to_dict(), doc.network.get_weights()
    before_history = doc.network.history
    first = doc.network.runs[0]
    view.table.topLevelItem(0).setSelected(True)
    count = doc.undo_stack.count()
    qtbot.mouseClick(view.restore_button, Qt.MouseButton.LeftButton)
    assert doc.undo_stack.count() == count + 1
    assert doc.spec.nodes[doc.hidden].params["activation"] == "tanh"
    assert doc.spec.training["optimizer"]["learning_rate"] == 0.01
    for name, array in doc.network.model.named_weights().items():
        assert array.tobytes() == first.weights[name].tobytes()
    assert doc.network.history.epochs["loss"] == first.epochs["loss"]
    doc.undo_stack.undo()
    assert doc.spec.to_dict() == before_spec and doc.network.history is before_history
    assert all(
        a.tobytes() == b.tobytes() for a, b in zip(doc.network.get_weights(), before_weights, strict=True)
    )


def test_restore_of_a_run_of_other_layers_is_refused(view, doc, monkeypatch):
    shown = []
    monkeypatch.setattr("gui.errors.show_error", lambda _parent, title, text: shown.append(text))
    doc.add_node("Dense", (0, 300))
    count = doc.undo_stack.count()
    view.table.topLevelItem(0).setSelected(True)
    view.restore_selected()
    assert doc.undo_stack.count() == count and "trained other layers" in shown[0]


def test_the_list_follows_new_and_open(view, doc, tmp_path):
    doc.save(tmp_path / "runs.ncv")
    doc.new_document()
    assert view.table.topLevelItemCount() == 0 and view.hint.isVisibleTo(view)
    doc.open_file(tmp_path / "runs.ncv")
    assert [view.table.topLevelItem(i).text(0) for i in range(2)] == ["Run 1", "Run 2"]
    assert legend_names(view.curve_plot)[::2] == ["Run 1", "Run 2"]


def test_a_run_in_the_window_is_recorded_with_gradient_norms(window, qtbot):
    assert window.load_path(EXAMPLES / "vanishing_gradients.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.document.set_training({**window.document.spec.training, "epochs": 2})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state != IDLE, timeout=10000)
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    (run,) = window.document.network.runs
    assert run.epoch_numbers["loss"] == [0, 1] and run.grad_epochs
    assert list(run.grad_norms)[0] == "sigmoid1" and list(run.grad_norms)[-1] == "out"
    assert window.runs_view.table.topLevelItemCount() == 1
    assert window.runs_view.grad_plot.listDataItems() == []  # a hidden tab draws when it is shown
    window.docks["runs"].raise_()
    qtbot.waitUntil(lambda: len(window.runs_view.grad_plot.listDataItems()) == 2)  # first and last layer


def test_the_runs_panel_stays_beside_training_in_both_workspaces(window):
    runs, training = window.docks["runs"], window.docks["training"]
    for key in ("train", "design", "train"):
        window.workspaces.switch(key)
        assert runs in window.tabifiedDockWidgets(training) and not runs.isHidden(), key
