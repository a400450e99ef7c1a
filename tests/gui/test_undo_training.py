"""Undo and training agree: the weights, optimizer state and history are part of the undo state,
and Save after any Undo/Redo writes what the views show. Driven from the window's actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

import engine
from engine.export.onnx_export import export_onnx
from gui.training.session import IDLE

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


@pytest.fixture
def window(window, qtbot):
    assert window.load_path(EXAMPLES / "spiral.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.document.set_training({**window.document.spec.training, "epochs": 8})
    return window


def _train(win, qtbot) -> None:
    win.training_controls.train.trigger()
    qtbot.waitUntil(lambda: win.session.state != IDLE, timeout=10000)
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=60000)


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _save(win, monkeypatch, path: Path) -> engine.Network:
    """File > Save As… answered with `path`; the file read back."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    win.actions_.save_as.trigger()
    return engine.load(path)


def _shown_epochs(win) -> list[float]:
    return win.training_panel.curves.epoch_logs.get("loss", [])


def test_undoing_an_edit_after_training_gives_back_the_trained_network(window, qtbot, monkeypatch, tmp_path):
    doc, actions, panel = window.document, window.actions_, window.training_panel
    untrained = doc.network.get_weights()
    _train(window, qtbot)
    trained, steps = doc.network.get_weights(), doc.network.history.steps
    losses = list(doc.network.history.epochs["loss"])
    assert steps > 0 and _shown_epochs(window) == losses
    doc.set_selection(["hidden2"])  # as a click on the layer does
    actions.delete.trigger()  # a structural edit: the trained weights no longer fit
    assert doc.network.history.steps == 0 and _shown_epochs(window) == []
    assert panel.surface.surface is None and panel.health.latest is None and panel.results.matrix is None

    actions.undo.trigger()
    assert doc.undo_stack.undoText().startswith("Train")
    assert _same(doc.network.get_weights(), trained) and doc.network.history.steps == steps
    assert doc.network.optimizer is not None
    assert _shown_epochs(window) == losses  # the curves, boundary and results are the run's again
    assert panel.surface.surface is not None and panel.results.matrix is not None
    saved = _save(window, monkeypatch, tmp_path / "after_undo.ncv")
    assert _same(saved.get_weights(), trained) and saved.history.steps == steps
    assert saved.history.epochs["loss"] == _shown_epochs(window)

    actions.undo.trigger()  # undo "Train": the weights and curves from before the run
    assert _same(doc.network.get_weights(), untrained) and doc.network.history.steps == 0
    assert _shown_epochs(window) == [] and panel.surface.surface is None and panel.results.matrix is None
    assert not panel.surface.hint.isHidden() and not panel.results.hint.isHidden()
    assert window.view.edge_item("in", "hidden1").magnitude is None  # the canvas's edges: plain again
    saved = _save(window, monkeypatch, tmp_path / "untrained.ncv")
    assert _same(saved.get_weights(), untrained) and saved.history.steps == 0

    actions.redo.trigger()  # the run returns
    assert _same(doc.network.get_weights(), trained) and _shown_epochs(window) == losses
    assert panel.surface.surface is not None and panel.surface.hint.isHidden()
    assert window.view.edge_item("in", "hidden1").magnitude is not None


def test_a_second_run_undone_gives_back_the_first_runs_weights_and_curves(
    window, qtbot, monkeypatch, tmp_path
):
    doc = window.document
    _train(window, qtbot)
    first, first_losses = doc.network.get_weights(), list(doc.network.history.epochs["loss"])
    first_iterations = doc.network.optimizer.iterations
    _train(window, qtbot)  # continues from the first run
    assert len(doc.network.history.epochs["loss"]) == 2 * len(first_losses)
    window.actions_.undo.trigger()
    assert _same(doc.network.get_weights(), first) and doc.network.optimizer.iterations == first_iterations
    assert _shown_epochs(window) == first_losses
    saved = _save(window, monkeypatch, tmp_path / "first.ncv")
    assert saved.history.epochs["loss"] == first_losses and _same(saved.get_weights(), first)


def test_reset_weights_is_undoable(window, qtbot):
    doc, controls, actions = window.document, window.training_controls, window.actions_
    _train(window, qtbot)
    trained, losses = doc.network.get_weights(), list(doc.network.history.epochs["loss"])
    controls.reset.trigger()
    assert doc.undo_stack.undoText() == "Reset weights"
    assert doc.network.history.steps == 0 and _shown_epochs(window) == []
    assert not _same(doc.network.get_weights(), trained)
    actions.undo.trigger()
    assert _same(doc.network.get_weights(), trained) and _shown_epochs(window) == losses
    actions.redo.trigger()
    assert doc.network.history.steps == 0 and _shown_epochs(window) == []


def test_an_edit_made_before_a_run_is_undone_with_the_runs_curves_kept_faded(window, qtbot):
    doc, actions, curves = window.document, window.actions_, window.training_panel.curves
    doc.set_node_params("hidden1", {"units": 12})  # as the Inspector does
    _train(window, qtbot)
    accuracy = list(doc.network.history.epochs["val_accuracy"])
    actions.undo.trigger()  # Train
    actions.undo.trigger()  # the edit
    assert doc.spec.nodes["hidden1"].params["units"] != 12 and doc.network.history.steps == 0
    assert _shown_epochs(window) == []
    steps, values = curves.previous["loss"]
    assert len(values) > 0 and np.isfinite(values).all()
    assert list(curves.previous["metric"][1]) == accuracy
    legend = curves.loss_plot.getPlotItem().legend
    assert "previous run" in [label.text for _sample, label in legend.items]
    assert curves.hint.isHidden()


def test_undoing_an_edit_gives_back_imported_weights_and_seed_weights_cost_no_copies(
    window, qtbot, monkeypatch, tmp_path
):
    doc, actions = window.document, window.actions_
    doc.set_selection(["hidden2"])
    actions.delete.trigger()  # the spiral's weights are its seed's: nothing needs keeping
    assert doc.undo_stack.command(doc.undo_stack.index() - 1).dropped.model is None
    path = export_onnx(engine.load(EXAMPLES / "xor.json"), tmp_path / "xor.onnx")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    importer = [a for a in actions.file_menu.actions() if a.text().replace("&", "") == "Import ONNX Model…"]
    importer[0].trigger()
    imported = doc.network.get_weights()
    hidden = next(n for n in doc.spec.nodes.values() if n.params.get("units", 0) > 1)
    doc.set_node_params(hidden.id, {"units": hidden.params["units"] + 1})  # as the Inspector does
    assert [w.shape for w in doc.network.get_weights()] != [w.shape for w in imported]
    actions.undo.trigger()
    assert _same(doc.network.get_weights(), imported)  # not new ones from the seed
