"""The Features tab: a convolutional network's filters and, for a picked image, the feature maps of
every Conv2D layer, live while it trains and after; the Results tab shows a CNN's confusion matrix
and misclassified images; the Health tab counts channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from gui.training.confusion_view import SAMPLE_TILES
from gui.training.feature_maps_view import FeatureMapsView, input_tile
from gui.training.session import IDLE

SIDE = 8


def bar_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(count, 1, 8, 8) noisy images of a horizontal (class 0) or a vertical bar (class 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, count)
    x = rng.normal(0, 0.1, (count, 1, SIDE, SIDE)).astype(np.float32)
    for i, (label, at) in enumerate(zip(y, rng.integers(1, SIDE - 1, count), strict=True)):
        if label:
            x[i, 0, :, at] += 1
        else:
            x[i, 0, at, :] += 1
    return x, y


def write_cnn(folder: Path, epochs: int = 3, conv: bool = True) -> Path:
    """A small CNN (c1: Conv2D 4 3x3, pool, c2: Conv2D 3 2x2, Dense 2 softmax) on images.npz
    beside it; with `conv=False` a Flatten -> Dense network on the same images."""
    x, y = bar_images(160)
    np.savez(folder / "images.npz", x=x, y=y)
    spec = engine.NetworkSpec(
        training={
            "loss": "sparse_categorical_crossentropy",
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "batch_size": 16,
            "epochs": epochs,
            "seed": 0,
            "dtype": "float32",
        }
    )
    spec.data = {"source": "npz", "path": "images.npz", "val_split": 0.25}
    spec.add_node("Input", {"shape": [1, SIDE, SIDE]}, node_id="in")
    chain = (
        [
            ("Conv2D", {"filters": 4, "kernel_size": [3], "activation": "relu"}, "c1"),
            ("MaxPooling2D", {"pool_size": [2]}, "p1"),
            ("Conv2D", {"filters": 3, "kernel_size": [2], "activation": "relu"}, "c2"),
        ]
        if conv
        else []
    )
    chain += [("Flatten", {}, "f"), ("Dense", {"units": 2, "activation": "softmax"}, "out")]
    previous = "in"
    for type_name, params, node_id in chain:
        spec.add_node(type_name, params, node_id=node_id)
        spec.connect(previous, node_id)
        previous = node_id
    path = folder / ("cnn.ncv" if conv else "mlp.ncv")
    engine.save(engine.Network(spec), path)
    return path


def open_file(win, qtbot, path: Path) -> None:
    assert win.load_path(path)
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)
    qtbot.waitUntil(lambda: win.session.dataset is not None, timeout=10000)


def train(win, qtbot) -> None:
    win.training_controls.train.trigger()
    qtbot.waitUntil(lambda: win.session.state != IDLE, timeout=10000)
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=60000)


def expected_maps(win, index: int) -> dict[str, np.ndarray]:
    """Each Conv2D's output for validation image `index`, computed here from the document's network."""
    network, val = win.document.network, win.session.val_set
    network.predict(val.x[index : index + 1])
    return {nid: network.model.outputs[nid][0].copy() for nid in ("c1", "c2")}


def test_a_trained_cnn_shows_its_filters_and_the_feature_maps_of_the_picked_image(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path))
    features = window.training_panel.features
    assert not features.hint.isHidden() and features.shown_layers() == []  # untrained: empty
    assert features.picker.maximum() == len(window.session.val_set) - 1
    train(window, qtbot)
    window.training_panel.redraw(everything=True, all_tabs=True)
    assert features.hint.isHidden() and features.shown_layers() == ["c1", "c2"]
    snapshot = features.snapshot
    assert snapshot.sample == 0 and snapshot.filters_id == "c1"
    np.testing.assert_array_equal(
        snapshot.filters, window.document.network.model.layers["c1"].weights["kernel"]
    )
    for nid, maps in expected_maps(window, 0).items():
        np.testing.assert_allclose(snapshot.feature_maps[nid], maps, rtol=1e-5, atol=1e-6)
    # one grid image per layer: 4 tiles of 6x6 in a row, 3 tiles of 2x2 (2-pixel gaps)
    assert features.rows["c1"][1].image.shape[:2] == (6, 4 * 6 + 3 * 2)
    assert features.rows["c2"][1].image.shape[:2] == (2, 3 * 2 + 2 * 2)
    assert "4 feature maps of 6×6" in features.rows["c1"][0].text
    assert features.filter_image.image.shape[:2] == (3, 4 * 3 + 3 * 2)  # 4 filters of 3x3
    # picking another image shows its maps (the network is not training: at once)
    features.picker.setValue(5)
    assert features.snapshot.sample == 5 and window.session.sample_index == 5
    for nid, maps in expected_maps(window, 5).items():
        np.testing.assert_allclose(features.snapshot.feature_maps[nid], maps, rtol=1e-5, atol=1e-6)
    assert "Image 5 (class" in features.input_title.text
    header, rows = features.table()  # what "Export data as CSV" writes
    assert header[:2] == ["layer", "channel"] and [row[:2] for row in rows][:5] == [
        ["c1", 0],
        ["c1", 1],
        ["c1", 2],
        ["c1", 3],
        ["c2", 0],
    ]
    assert len(rows) == 7 and rows[0][3] == pytest.approx(
        float(features.snapshot.feature_maps["c1"][0].mean())
    )


def test_a_pick_during_a_run_reaches_the_next_snapshot(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path, epochs=2000))
    session, features = window.session, window.training_panel.features
    seen: list[int | None] = []
    session.snapshot_taken.connect(lambda snapshot: seen.append(snapshot.sample))
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: 0 in seen, timeout=20000)
    features.choose(7)
    qtbot.waitUntil(lambda: seen[-1] == 7, timeout=20000)
    session.stop()
    qtbot.waitUntil(lambda: session.state == IDLE, timeout=20000)
    window.training_panel.redraw(everything=True, all_tabs=True)
    assert features.snapshot.sample == 7 and features.shown_layers() == ["c1", "c2"]
    for nid, maps in expected_maps(window, 7).items():  # the run's last weights, image 7
        np.testing.assert_allclose(features.snapshot.feature_maps[nid], maps, rtol=1e-4, atol=1e-5)


def test_results_and_health_of_a_cnn(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path))
    panel = window.training_panel
    panel.tabs.setCurrentWidget(panel.curves)  # the run ends while another tab shows
    train(window, qtbot)
    results = panel.results
    assert results.matrix is not None and results.matrix.sum() == len(window.session.val_set)
    assert results.image_side.isVisibleTo(results)  # (1, 8, 8) validation images are images
    panel.tabs.setCurrentWidget(results)
    wrong = len(window.session.val_set) - int(np.trace(results.matrix))
    assert results.sample_label.text() == (
        f"Misclassified samples (first {min(wrong, SAMPLE_TILES)})"
        if wrong
        else "Misclassified samples: none"
    )
    assert (results.sample_image.image is not None) == (wrong > 0)
    assert results.weights.isHidden() and "Features tab" in results.weight_label.text()
    health = {layer.node_id: layer for layer in panel.health.latest.layers}
    assert health["c1"].dead_fraction in (0.0, 0.25, 0.5, 0.75, 1.0)  # of 4 channels, not 144 units


def test_a_network_without_convolutions_keeps_the_empty_state(window, qtbot, tmp_path):
    open_file(window, qtbot, write_cnn(tmp_path, conv=False))
    train(window, qtbot)
    features = window.training_panel.features
    window.training_panel.redraw(everything=True, all_tabs=True)
    assert features.snapshot is None and not features.hint.isHidden() and features.shown_layers() == []


def test_the_view_draws_tiles_on_one_scale_per_layer(qtbot):
    view = FeatureMapsView()
    qtbot.addWidget(view)
    maps = np.zeros((2, 3, 3))
    maps[1] = 4.0
    maps[0, 0, 0] = 2.0
    filters = np.zeros((2, 1, 2, 2))
    filters[0, 0, 0, 0], filters[1, 0, 1, 1] = 1.0, -0.5
    from engine.training.monitor import MonitorSnapshot

    view.add_snapshot(MonitorSnapshot([], None, 1, {"c": maps}, 0, filters, "c"))
    view.redraw()
    image = view.rows["c"][1].image  # (3, 3 + 2 + 3, 4) RGBA
    low, middle, high = image[1, 1, :3], image[0, 0, :3], image[0, 5, :3]
    assert tuple(low) != tuple(high) and tuple(middle) not in (tuple(low), tuple(high))
    np.testing.assert_array_equal(image[:, 5:, :3], np.broadcast_to(high, (3, 3, 3)))  # 4 = the top
    tiles = view.filter_image.image
    assert (tiles[0, 0, 0] > tiles[0, 0, 2]) and (tiles[1, 5, 2] > tiles[1, 5, 0])  # red +, blue -
    zero = tiles[1, 0, :3]
    assert min(zero) > 200  # white at 0


@pytest.mark.parametrize(
    "shape, expected",
    [((1, 5, 4), (5, 4, 3)), ((3, 5, 4), (5, 4, 3)), ((64,), (8, 8, 3)), ((2, 5, 4), None)],
)
def test_input_tiles(shape, expected):
    tile = input_tile(np.random.default_rng(0).random(shape))
    assert (tile.shape if tile is not None else None) == expected


def test_the_probe_of_an_image_network_takes_fewer_samples():
    """A snapshot reads every layer's outputs on the probe: for a first convolution of 32 x 26 x 26
    values per image it takes PROBE_VALUES // 21632 = 46 images, a Dense network PROBE_SAMPLES."""
    from gui.training.worker import PROBE_SAMPLES, PROBE_VALUES, probe_inputs

    def network(conv: bool) -> engine.Network:
        spec = engine.NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "dtype": "float32"})
        spec.add_node("Input", {"shape": [1, 28, 28]}, node_id="in")
        previous = "in"
        layers = [("Conv2D", {"filters": 32, "kernel_size": [3], "activation": "relu"})] if conv else []
        for i, (type_name, params) in enumerate([*layers, ("Flatten", {}), ("Dense", {"units": 10})]):
            spec.add_node(type_name, params, node_id=f"n{i}")
            spec.connect(previous, f"n{i}")
            previous = f"n{i}"
        return engine.Network(spec)

    x = np.zeros((1000, 1, 28, 28), np.float32)
    assert len(probe_inputs(network(True), x)) == PROBE_VALUES // (32 * 26 * 26) == 46
    assert len(probe_inputs(network(False), x)) == PROBE_SAMPLES


def test_clicking_a_misclassified_image_shows_its_feature_maps(window, qtbot, tmp_path):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from gui.training.image_grid import TILE_GAP

    open_file(window, qtbot, write_cnn(tmp_path))
    train(window, qtbot)
    panel = window.training_panel
    results, features = panel.results, panel.features
    panel.tabs.setCurrentWidget(results)
    wrong = np.array([9, 4, 11])  # (as if these were wrong: the bars may all be learnt)
    results.update_epoch(results.matrix, wrong, None, np.array([1, 0, 0]))
    results.redraw()
    qtbot.wait(50)  # (the view box fits the mosaic)
    inside_second_tile = results.sample_image.mapToScene(QPointF(SIDE + TILE_GAP + SIDE / 2, SIDE / 2))
    point = results.samples.mapFromScene(inside_second_tile)
    QTest.mouseClick(results.samples.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert panel.tabs.currentWidget() is features
    assert features.picker.value() == 4 and features.snapshot.sample == 4
    for nid, maps in expected_maps(window, 4).items():
        np.testing.assert_allclose(features.snapshot.feature_maps[nid], maps, rtol=1e-5, atol=1e-6)
    panel.tabs.setCurrentWidget(results)
    gap = results.samples.mapFromScene(results.sample_image.mapToScene(QPointF(SIDE + 1, SIDE / 2)))
    QTest.mouseClick(results.samples.viewport(), Qt.MouseButton.LeftButton, pos=gap)
    assert panel.tabs.currentWidget() is results  # a click between tiles picks nothing


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (0, 0, 0),
        (7.9, 7.9, 0),
        (8.5, 3, None),
        (10, 3, 1),
        (3, 10, 3),
        (13, 13, None),
        (-1, 3, None),
        (40, 0, None),
    ],
)
def test_tile_at_inverts_the_mosaic_layout(x, y, expected):
    from gui.training.image_grid import tile_at

    assert tile_at(x, y, (8, 8), 3, 4) == expected  # 4 tiles of 8x8, 3 a row, 2-pixel gaps


def test_a_conv1d_layer_shows_one_row_per_channel_and_its_filters(qtbot):
    """A Conv1D's maps (channels, length) are one picture, a row per channel; its filters
    (filters, channels, k) are tiles one row high."""
    from engine.training.monitor import MonitorSnapshot

    view = FeatureMapsView()
    qtbot.addWidget(view)
    maps = np.zeros((3, 10))
    maps[2] = 5.0  # the last channel bright all along
    filters = np.zeros((2, 1, 4))
    filters[0, 0, 1] = 1.0
    view.add_snapshot(MonitorSnapshot([], None, 1, {"conv1d": maps}, 7, filters, "conv1d"))
    view.redraw()
    title, image_item = view.rows["conv1d"]
    image = image_item.image
    assert image.shape[:2] == (3, 10)  # channels down, positions across
    assert tuple(image[2, 0, :3]) == tuple(image[2, 9, :3]) != tuple(image[0, 0, :3])
    assert "3 channels (rows) along 10 positions" in title.text
    tiles = view.filter_image.image
    assert tiles.shape[0] == 1 and tiles[0, 1, 0] > tiles[0, 1, 2]  # one row high, red at tap 1
