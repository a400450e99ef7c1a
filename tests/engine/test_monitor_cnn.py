"""TrainingMonitor on convolutional networks: each channel is a unit for the dead fraction, and a
snapshot carries the chosen sample's feature maps and the first layer's filters."""

from __future__ import annotations

import numpy as np
import pytest

from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.monitor import MAX_CHANNELS_SHOWN, TrainingMonitor
from tests.engine.test_monitor import chain, data


def small_cnn(filters: int = 4, activation: str = "relu") -> Network:
    """Input (1, 8, 8) -> Conv2D 3x3 -> MaxPooling2D 2 -> Conv2D 3x3 -> Flatten -> Dense 3 softmax."""
    spec = NetworkSpec(
        training={
            "loss": "categorical_crossentropy",
            "optimizer": {"type": "sgd", "learning_rate": 0.1},
            "batch_size": 16,
            "epochs": 1,
            "seed": 0,
            "dtype": "float64",
        }
    )
    spec.add_node("Input", {"shape": [1, 8, 8]}, node_id="in")
    spec.add_node("Conv2D", {"filters": filters, "kernel_size": [3], "activation": activation}, node_id="c1")
    spec.add_node("MaxPooling2D", {"pool_size": [2]}, node_id="p1")
    spec.add_node("Conv2D", {"filters": 5, "kernel_size": [2], "activation": "relu"}, node_id="c2")
    spec.add_node("Flatten", {}, node_id="f")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for a, b in (("in", "c1"), ("c1", "p1"), ("p1", "c2"), ("c2", "f"), ("f", "out")):
        spec.connect(a, b)
    return Network(spec)


def images(count: int = 32) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(count, 1, 8, 8))


def test_a_channel_is_dead_only_when_silent_at_every_position_of_every_sample():
    net = small_cnn()
    layer = net.model.layers["c1"]
    layer.weights["bias"][:] = 0.0
    layer.weights["bias"][0] = -1000.0  # channel 0 never fires
    layer.weights["kernel"][1] = 0.0
    layer.weights["bias"][1] = -1e-3  # channel 1 neither
    x = images()
    health = {h.node_id: h for h in TrainingMonitor(net.model, x, surface=False).snapshot().layers}
    out = net.model.outputs["c1"]  # (N, 4, 6, 6)
    # as per-position units, most of the live channels' positions are silent for some sample
    # but not all: the per-channel count is the one the view wants
    assert health["c1"].dead_fraction == pytest.approx(2 / 4)
    silent_channels = [(out[:, c] <= 0).all() for c in range(4)]
    assert silent_channels == [True, True, False, False]


def test_saturated_fraction_of_a_conv_layer_counts_values():
    net = small_cnn(activation="sigmoid")
    net.model.layers["c1"].weights["kernel"] *= 100.0
    x = images()
    health = {h.node_id: h for h in TrainingMonitor(net.model, x, surface=False).snapshot().layers}
    out = net.model.outputs["c1"][: len(x)]
    low, high = net.model.layers["c1"].activation.saturating
    expected = np.mean((out < low) | (out > high))
    assert health["c1"].saturated_fraction == pytest.approx(expected)
    assert health["c1"].dead_fraction is None  # sigmoid units do not die


def test_snapshot_carries_the_feature_maps_of_the_chosen_sample_and_the_filters():
    net = small_cnn()
    x = images()
    sample = images(40)[37:38]
    monitor = TrainingMonitor(net.model, x, surface=False, sample=sample, sample_index=37)
    snapshot = monitor.snapshot()
    assert list(snapshot.feature_maps) == ["c1", "c2"]  # convolutions only, in network order
    assert snapshot.sample == 37
    net.model.forward([np.ascontiguousarray(sample)], training=False)  # the sample alone
    for nid, shape in (("c1", (4, 6, 6)), ("c2", (5, 2, 2))):
        assert snapshot.feature_maps[nid].shape == shape
        np.testing.assert_allclose(snapshot.feature_maps[nid], net.model.outputs[nid][0], atol=1e-12)
    assert snapshot.filters_id == "c1"
    np.testing.assert_array_equal(snapshot.filters, net.model.layers["c1"].weights["kernel"])
    assert snapshot.filters is not net.model.layers["c1"].weights["kernel"]  # a copy


def test_the_sample_does_not_change_the_health_numbers():
    net = small_cnn()
    x = images()
    plain = TrainingMonitor(net.model, x, surface=False).snapshot()
    with_sample = TrainingMonitor(net.model, x, surface=False, sample=images(1), sample_index=0).snapshot()
    for a, b in zip(plain.layers, with_sample.layers, strict=True):
        np.testing.assert_array_equal(a.histogram, b.histogram)
        assert a.mean_activation == b.mean_activation
        assert a.dead_fraction == b.dead_fraction
    assert plain.feature_maps == {} and plain.sample is None
    assert plain.filters is not None  # the filters need no sample


def test_changing_and_clearing_the_sample():
    net = small_cnn()
    monitor = TrainingMonitor(net.model, images(), surface=False)
    other = images(5)
    monitor.set_sample(other[3:4], 3)
    first = monitor.snapshot().feature_maps["c1"]
    monitor.set_sample(other[4:5], 4)
    second = monitor.snapshot()
    assert second.sample == 4 and not np.array_equal(first, second.feature_maps["c1"])
    monitor.set_sample(None)
    assert monitor.snapshot().feature_maps == {}
    with pytest.raises(ValueError, match="one sample"):
        monitor.set_sample(other[:2], 0)


def test_wide_layers_send_only_the_first_channels():
    net = small_cnn(filters=MAX_CHANNELS_SHOWN + 6)
    snapshot = TrainingMonitor(
        net.model, images(4), surface=False, sample=images(1), sample_index=0
    ).snapshot()
    assert snapshot.feature_maps["c1"].shape[0] == MAX_CHANNELS_SHOWN
    assert snapshot.filters.shape == (MAX_CHANNELS_SHOWN, 1, 3, 3)


def test_a_dense_network_has_no_feature_maps_or_filters():
    net = chain([4], "relu")
    x, _ = data()
    snapshot = TrainingMonitor(net.model, x, sample=x[:1], sample_index=0).snapshot()
    assert snapshot.feature_maps == {} and snapshot.filters is None and snapshot.sample is None


def test_a_conv1d_network_sends_its_signals_maps_and_filters():
    spec = NetworkSpec(training={"loss": "mse", "dtype": "float64"})
    spec.add_node("Input", {"shape": [2, 12]}, node_id="in")
    spec.add_node("Conv1D", {"filters": 3, "kernel_size": [4], "activation": "relu"}, node_id="c1")
    spec.add_node("Flatten", {}, node_id="f")
    spec.add_node("Dense", {"units": 1}, node_id="out")
    for a, b in (("in", "c1"), ("c1", "f"), ("f", "out")):
        spec.connect(a, b)
    net = Network(spec)
    x = np.random.default_rng(2).normal(size=(20, 2, 12))
    snapshot = TrainingMonitor(net.model, x, surface=False, sample=x[5:6], sample_index=5).snapshot()
    net.model.forward([x[5:6]], training=False)
    np.testing.assert_array_equal(snapshot.feature_maps["c1"], net.model.outputs["c1"][0])
    assert snapshot.feature_maps["c1"].shape == (3, 9)
    np.testing.assert_array_equal(snapshot.filters, net.model.layers["c1"].weights["kernel"])
    assert snapshot.filters_id == "c1" and snapshot.filters.shape == (3, 2, 4)
