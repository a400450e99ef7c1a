"""Every training view follows the document: after New, Open, an example, Revert and Import ONNX
each tab shows the new network or its own empty state, never the previous file's; and when a run
ends every tab has drawn its final state (the multiclass boundary in one colour per class)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

import engine
from engine.export.onnx_export import export_onnx
from gui.summary_view import total_parameters
from gui.training.session import IDLE
from gui.training.surface_view import CLASS_COLOURS
from tests.gui.test_feature_maps import open_file, train, write_cnn

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _open_and_train(win, qtbot, example: str, epochs: int = 8) -> None:
    assert win.load_path(EXAMPLES / example)
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)
    win.document.set_training({**win.document.spec.training, "epochs": epochs})
    win.training_controls.train.trigger()
    qtbot.waitUntil(lambda: win.session.state != IDLE, timeout=10000)
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=60000)


def _menu_action(menu, text: str):
    """The entry called `text` of a menu (its wrapper kept by the window's Actions)."""
    found = [action for action in menu.actions() if action.text().replace("&", "") == text]
    assert found, f"no menu entry {text!r}"
    return found[0]


def data_tab_sets(win) -> set[tuple[str, int]]:
    """The data sets the Data tab says are loaded, as (name, samples) from its "name: N samples"."""
    text = " ".join(label.text() for label in win.training_panel.data_panel.findChildren(QLabel))
    return {
        (_plain(name), int(count)) for name, count in re.findall(r"([\w-]+)(?:</b>)?: (\d+) samples", text)
    }


def _plain(name: str) -> str:
    return re.sub(r"[\W_]", "", name).lower()  # "Fashion-MNIST" and "fashion_mnist" alike


def assert_views_show_the_document(win) -> None:
    """Every tab shows the document's network: its history and data, or the empty states."""
    panel, doc, session = win.training_panel, win.document, win.session
    history = doc.network.history
    curves = panel.curves
    assert curves.epoch_logs.get("loss", []) == history.epochs.get("loss", [])
    assert len(curves.batch_steps) == len(history.batch_losses) and curves.previous == {}
    assert curves.hint.isHidden() == (history.steps > 0)
    assert panel.health.fraction_plot.getPlotItem().viewRange()[1] == [0.0, 1.0]  # fractions, trained or not
    if history.steps == 0:  # no axes left spanning the previous network's run
        for plot in (
            curves.loss_plot,
            curves.metric_plot,
            panel.health.fraction_plot,
            panel.health.hist_plot,
        ):
            assert plot.getPlotItem().viewRange() == [[0.0, 1.0], [0.0, 1.0]]
    trained = history.steps > 0 and session.dataset is not None
    assert (panel.surface.surface is not None) == (trained and session.dataset.x.shape[1:] == (2,))
    assert (panel.health.latest is not None) == trained
    assert panel.results.hint.isHidden() == (panel.results.matrix is not None)
    assert_features_show_the_document(win)
    if not trained:
        assert (
            panel.results.matrix is None
            and panel.results.plot.plotItem.titleLabel.text == "Confusion matrix (validation)"
        )
        assert panel.health.layer_choice.count() == 0 and not panel.health.grad_curves
        assert (
            not panel.health.hint.isHidden()
            and not panel.surface.hint.isHidden()
            or panel.surface.note.isVisibleTo(panel.surface)
        )
    points = len(panel.surface.points.data)
    shown = (
        session.train_set is not None and session.train_set.x.ndim == 2 and session.train_set.x.shape[1] >= 2
    )
    assert points == (len(session.train_set) if shown else 0)
    if doc.spec.data:
        source = doc.spec.data["source"]  # (a file's data set is named after the file)
        assert session.dataset is not None and (session.dataset.name == source or "path" in doc.spec.data)
        assert data_tab_sets(win) == {(_plain(session.dataset.name), len(session.dataset))}
    else:
        assert session.dataset is None and data_tab_sets(win) == set()
    spec, report = doc.spec, doc.shape_report
    assert win.params_label.text() == f"Parameters: {total_parameters(spec, report):,}"
    assert "training" not in win.statusBar().currentMessage().lower()


def assert_features_show_the_document(win) -> None:
    """The Features tab shows the maps and filters of a trained convolutional network, else its
    empty state."""
    doc, features = win.document, win.training_panel.features
    trained = doc.network.history.steps > 0 and win.session.dataset is not None
    convolutional = any(node.type == "Conv2D" for node in doc.spec.nodes.values())
    assert (features.snapshot is not None) == (trained and convolutional)
    assert features.hint.isHidden() == (features.snapshot is not None)
    assert features.shown_layers() == (list(features.snapshot.feature_maps) if features.snapshot else [])


def _new(win, _tmp_path, _monkeypatch):
    win.actions_.new.trigger()


def _open(win, _tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(EXAMPLES / "xor.json"), ""))
    win.actions_.open.trigger()


def _example(win, _tmp_path, _monkeypatch):
    _menu_action(win.actions_.menus["examples"], "Vanishing gradients").trigger()


def _revert(win, _tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win.actions_.revert.trigger()


def _import_onnx(win, tmp_path, monkeypatch):
    path = export_onnx(engine.load(EXAMPLES / "xor.json"), tmp_path / "xor.onnx")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    _menu_action(win.actions_.file_menu, "Import ONNX Model…").trigger()


@pytest.mark.parametrize(
    "change",
    [_new, _open, _example, _revert, _import_onnx],
    ids=["new", "open", "example", "revert", "import_onnx"],
)
def test_every_view_follows_a_new_document(window, qtbot, tmp_path, monkeypatch, change):
    _open_and_train(window, qtbot, "spiral.json")
    panel = window.training_panel
    assert panel.surface.surface is not None and panel.results.matrix is not None and panel.health.latest
    with qtbot.waitSignal(window.document.document_reset):
        change(window, tmp_path, monkeypatch)
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    assert_views_show_the_document(window)


def test_new_forgets_the_data_at_once(window, qtbot):
    assert window.load_path(EXAMPLES / "xor.json")
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    with qtbot.waitSignal(window.session.data_changed):
        window.actions_.new.trigger()
    assert window.session.dataset is None and window.session.train_set is None
    assert "no data source" in window.session.load_data()


def test_a_reopened_trained_file_shows_its_run(window, qtbot, tmp_path):
    _open_and_train(window, qtbot, "spiral.json")
    losses = list(window.document.network.history.epochs["loss"])
    window.document.save(tmp_path / "trained.ncv")
    window.actions_.new.trigger()
    assert window.load_path(tmp_path / "trained.ncv")
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    panel = window.training_panel
    assert panel.curves.epoch_logs["loss"] == losses
    assert panel.surface.surface is not None and panel.results.matrix is not None
    assert panel.surface.hint.isHidden() and panel.results.hint.isHidden()
    assert_views_show_the_document(window)


def test_the_multiclass_boundary_paints_each_class_in_its_colour(window, qtbot):
    """Trained with the Curves tab showing; the Boundary tab, opened afterwards, has the class
    levels and three colours (it had (0, 1): class 0 teal, classes 1 and 2 both lime)."""
    panel = window.training_panel
    panel.tabs.setCurrentWidget(panel.curves)
    _open_and_train(window, qtbot, "spiral_multiclass.json", epochs=40)
    surface = panel.surface
    assert not surface.dirty and not panel.health.dirty and not panel.results.dirty  # drawn at the end
    assert not panel.features.dirty
    panel.tabs.setCurrentWidget(surface)
    assert tuple(surface.image.levels) == (0, len(CLASS_COLOURS))
    assert set(np.unique(surface.surface.values)) == {0.0, 1.0, 2.0}
    surface.image.render()
    image = surface.image.qimage
    colours = {image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())}
    assert len(colours) == 3


def test_a_run_still_going_when_another_file_opens_leaves_nothing_behind(window, qtbot):
    assert window.load_path(EXAMPLES / "spiral.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.document.set_training({**window.document.spec.training, "epochs": 100000})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: len(window.training_panel.curves.batch_steps) > 0, timeout=20000)
    window.actions_.new.trigger()  # (the question about unsaved changes is answered "Discard")
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=20000)
    qtbot.wait(100)  # whatever the stopped run still had queued
    assert window.document.undo_stack.count() == 0 and window.document.network.history.steps == 0
    assert_views_show_the_document(window)


def test_dead_and_saturated_fractions_keep_their_zero_to_one_axis(window, qtbot):
    """Vanishing gradients' sigmoid layers are neither dead nor saturated: bars of height 0 must
    not stretch the axis to -0.5..0.5 after another network's run was cleared away."""
    _open_and_train(window, qtbot, "spiral.json", epochs=2)
    _open_and_train(window, qtbot, "vanishing_gradients.json", epochs=2)
    health = window.training_panel.health
    window.training_panel.tabs.setCurrentWidget(health)
    qtbot.waitUntil(lambda: health.latest is not None)
    qtbot.wait(100)  # (pyqtgraph fits an auto range when the event loop runs)
    assert health.fraction_plot.getPlotItem().viewRange()[1] == [0.0, 1.0]
    assert health.none_dead.isVisible()  # the bars of height 0 say what they mean
    window.actions_.new.trigger()
    assert not health.none_dead.isVisible()


@pytest.mark.parametrize(
    "change",
    [_new, _open, _example, _revert, _import_onnx],
    ids=["new", "open", "example", "revert", "import_onnx"],
)
def test_the_feature_maps_follow_a_new_document(window, qtbot, tmp_path, monkeypatch, change):
    open_file(window, qtbot, write_cnn(tmp_path))
    train(window, qtbot)
    assert window.training_panel.features.shown_layers() == ["c1", "c2"]
    with qtbot.waitSignal(window.document.document_reset):
        change(window, tmp_path, monkeypatch)
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    assert_views_show_the_document(window)


def test_undo_and_redo_of_a_cnn_run_clear_and_rebuild_the_feature_maps(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path))
    train(window, qtbot)
    features = window.training_panel.features
    features.choose(3)
    trained = {nid: maps.copy() for nid, maps in features.snapshot.feature_maps.items()}
    window.actions_.undo.trigger()  # "Train": the untrained network, no maps
    assert window.document.network.history.steps == 0
    assert_features_show_the_document(window)
    window.actions_.redo.trigger()  # the trained one again, the same image's maps
    assert_features_show_the_document(window)
    assert features.snapshot.sample == 3
    for nid, maps in trained.items():
        np.testing.assert_allclose(features.snapshot.feature_maps[nid], maps, rtol=1e-6)
