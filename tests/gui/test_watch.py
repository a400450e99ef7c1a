"""Watching it learn, driven as a user would: the pace box, "Train until stopped" and the unit
response maps on the canvas (with their tooltips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import engine
from gui.training.session import IDLE, RUNNING
from gui.training.unit_maps import UnitTile

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _open(win, qtbot, example: str) -> None:
    assert win.load_path(EXAMPLES / example)
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)


def _choose_pace(win, text: str) -> None:
    combo = win.watch.pace.combo
    index = combo.findText(text)
    assert index >= 0, f"{text!r} not among {[combo.itemText(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _tiles(win) -> dict[str, list[UnitTile]]:
    return {node_id: tiles for node_id, (_card, tiles) in win.watch.unit_maps.tiles.items()}


def test_the_pace_is_the_documents_and_reaches_a_running_run(window, qtbot, watchable_pace):
    _open(window, qtbot, "spiral.json")
    pace = window.watch.pace
    assert pace.combo.currentText() == "300 steps/s"  # the example's own
    _choose_pace(window, "10 steps/s")
    assert window.document.network.training.pace == 10.0
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == RUNNING and window.session.steps_seen >= 2, timeout=20000)
    assert window.session.control.pace == 10.0
    _choose_pace(window, "As fast as it goes")  # while it runs
    assert window.session.control.pace is None
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    assert window.document.network.history.steps == 6000
    window.document.undo_stack.undo()  # the training
    window.document.undo_stack.undo()  # as fast as it goes
    window.document.undo_stack.undo()  # 10 steps/s
    assert window.document.network.training.pace == 300.0
    assert pace.combo.currentText() == "300 steps/s"


def test_until_stopped_trains_past_the_epochs_until_stop_and_is_saved(window, qtbot, tmp_path):
    _open(window, qtbot, "xor.json")
    training = dict(window.document.spec.training, epochs=2)
    window.document.set_training(training)
    window.watch.pace.until_stopped.trigger()  # Train > Train until stopped
    assert window.document.network.training.until_stopped is True
    window.training_controls.train.trigger()
    per_epoch = 25
    qtbot.waitUntil(lambda: window.session.steps_seen > 6 * per_epoch, timeout=30000)
    assert window.session.state == RUNNING  # past the 2 epochs of the file
    qtbot.waitUntil(lambda: "until Stop" in window.training_controls.progress.format(), timeout=5000)
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=10000)
    assert window.document.network.history.epoch_count > 2
    path = tmp_path / "forever.json"
    engine.save(window.document.network, path)
    assert engine.load(path).training.until_stopped is True
    window.document.undo_stack.undo()  # the training
    window.document.undo_stack.undo()  # until stopped
    assert not window.watch.pace.until_stopped.isChecked()


def test_response_maps_show_each_dense_unit_and_follow_training(window, qtbot):
    _open(window, qtbot, "xor.json")
    qtbot.waitUntil(lambda: set(_tiles(window)) == {"hidden", "out"}, timeout=10000)
    tiles = _tiles(window)
    assert len(tiles["hidden"]) == 8 and len(tiles["out"]) == 1
    card = window.view.node_item("hidden")
    assert all(tile.parentItem() is card and tile.image is not None for tile in tiles["hidden"])
    before = [picture(tile) for tile in tiles["hidden"]]
    window.training_controls.step.trigger()  # one batch, then paused
    qtbot.waitUntil(
        lambda: window.session.worker is not None and window.session.steps_seen >= 1, timeout=10000
    )
    window.training_controls.pause.trigger()  # resume: the run goes on to its end
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    qtbot.wait(300)  # the last snapshot's redraw
    after = _tiles(window)["hidden"]
    assert sum(picture(tile) != old for tile, old in zip(after, before, strict=True)) >= 4


def test_a_units_tooltip_shows_its_incoming_weights(window, qtbot):
    _open(window, qtbot, "xor.json")
    qtbot.waitUntil(lambda: "hidden" in _tiles(window), timeout=10000)
    layer = window.document.network.model.layers["hidden"]
    kernel, bias = layer.weights["kernel"], layer.weights["bias"]
    tip = _tiles(window)["hidden"][2].toolTip()

    def shown(value: float) -> str:
        return f"{value:.2f}".replace("-", "\u2212")

    assert tip.startswith("hidden, unit 3")
    assert f"w = [{shown(kernel[0, 2])}, {shown(kernel[1, 2])}], b = {shown(bias[2])}" in tip
    assert np.any(kernel[:, 2] != 0)


def test_no_maps_for_mnist_and_the_view_menu_turns_them_off(window, qtbot):
    _open(window, qtbot, "xor.json")
    qtbot.waitUntil(lambda: bool(_tiles(window)), timeout=10000)
    action = window.watch.unit_maps.action
    assert action in window.actions_.menus["view"].actions() and action.isChecked()
    action.trigger()  # off
    assert _tiles(window) == {}
    assert all(not isinstance(item, UnitTile) for item in window.view.scene().items())
    action.trigger()  # on again
    assert set(_tiles(window)) == {"hidden", "out"}
    assert window.load_path(EXAMPLES / "mnist_mlp.json")  # 784 inputs: no plane to draw on
    qtbot.wait(200)
    assert _tiles(window) == {}
    assert all(not isinstance(item, UnitTile) for item in window.view.scene().items())


def picture(tile: UnitTile):
    """The tile's current picture, a QImage (a copy: the tile gets a new image each redraw)."""
    return tile.image.copy()
