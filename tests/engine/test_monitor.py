"""TrainingMonitor: the numbers behind the health and boundary views mean what they say."""

from __future__ import annotations

import numpy as np
import pytest

from engine._kernels.health import activation_stats, activation_stats_ref
from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.monitor import HISTOGRAM_BINS, TrainingMonitor, confusion_matrix, shows_surface


def chain(units: list[int], activation: str, output: str = "sigmoid", inputs: int = 2, **training) -> Network:
    spec = NetworkSpec(
        training={
            "loss": "binary_crossentropy",
            "optimizer": {"type": "sgd", "learning_rate": 0.1},
            "batch_size": 32,
            "epochs": 1,
            "seed": 0,
            "dtype": "float64",
            **training,
        }
    )
    spec.add_node("Input", {"shape": [inputs]}, node_id="in")
    previous = "in"
    for i, n in enumerate(units):
        spec.add_node("Dense", {"units": n, "activation": activation}, node_id=f"h{i}")
        spec.connect(previous, f"h{i}")
        previous = f"h{i}"
    spec.add_node("Dense", {"units": 1, "activation": output}, node_id="out")
    spec.connect(previous, "out")
    return Network(spec)


def data(count: int = 256, inputs: int = 2):
    x = np.random.default_rng(0).normal(size=(count, inputs))
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.float64)


def test_a_deep_sigmoid_net_shows_its_vanishing_gradient():
    """The classic picture: in 8 sigmoid layers the first layers' gradients are orders of
    magnitude smaller than the last ones'; in ReLU layers they are not."""
    x, y = data()
    norms = {}
    for activation in ("sigmoid", "relu"):
        net = chain([16] * 8, activation)
        net.fit(x, y, epochs=1)
        layers = {h.node_id: h for h in TrainingMonitor(net.model, x).snapshot().layers}
        norms[activation] = layers["h0"].gradient_norm / layers["h7"].gradient_norm
    assert norms["sigmoid"] < 1e-2
    assert norms["relu"] > 1e-1


def test_dead_relu_and_saturated_fractions():
    x, _ = data()
    net = chain([8, 8], "relu")
    layer = net.model.layers["h0"]
    layer.weights["bias"][:4] = -100.0  # four of eight units can never fire on this data
    health = {h.node_id: h for h in TrainingMonitor(net.model, x).snapshot().layers}
    assert health["h0"].dead_fraction == 0.5
    assert health["h0"].saturated_fraction is None and health["out"].dead_fraction is None

    net = chain([8], "tanh")
    net.model.layers["h0"].weights["kernel"][...] = 1000.0
    health = {h.node_id: h for h in TrainingMonitor(net.model, x).snapshot().layers}
    assert health["h0"].saturated_fraction > 0.95


def test_histograms_count_every_probe_value():
    x, _ = data(100)
    snapshot = TrainingMonitor(chain([8, 4], "tanh").model, x).snapshot()
    for health in snapshot.layers:
        units = {"h0": 8, "h1": 4, "out": 1}[health.node_id]
        assert health.histogram.shape == (HISTOGRAM_BINS,) and health.histogram.sum() == 100 * units
        assert len(health.bin_edges) == HISTOGRAM_BINS + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["relu", "tanh", "constant", "nan", "inf", "none finite", "edges", "empty"])
def test_activation_stats_kernel_matches_its_numpy_twin(dtype, case):
    rng = np.random.default_rng(1)
    flat = rng.normal(size=(64, 12)).astype(dtype)
    find_range, lo, hi, sat = True, 0.0, 1.0, (-np.inf, np.inf)
    if case == "relu":
        flat = np.maximum(flat, 0)
        flat[:, :5] = 0.0  # five dead units; others silent for some samples only
    elif case == "tanh":
        flat = np.tanh(3 * flat)
        find_range, lo, hi, sat = False, -1.0, 1.0, (-0.98, 0.98)
    elif case == "constant":
        flat[...] = 0.25
    elif case == "nan":
        flat[3, 4] = np.nan
    elif case == "inf":
        flat[0, 0], flat[1, 1] = np.inf, -np.inf
    elif case == "none finite":
        flat[...] = np.nan
    elif case == "edges":  # values on every bin edge of [-1, 1], and outside it
        find_range, lo, hi = False, -1.0, 1.0
        flat = np.linspace(-1.2, 1.2, 24 * 5 + 1).astype(dtype).reshape(1, -1)
    elif case == "empty":
        flat = flat[:0]
    results = []
    for function in (activation_stats, activation_stats_ref):
        counts, edges = np.empty(HISTOGRAM_BINS, np.int64), np.empty(HISTOGRAM_BINS + 1)
        results.append((function(flat, lo, hi, find_range, *sat, counts, edges), counts, edges))
    (numbers, counts, edges), (ref_numbers, ref_counts, ref_edges) = results
    np.testing.assert_allclose(numbers, ref_numbers, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(edges, ref_edges)
    if case == "relu":
        assert numbers[1] == 5 / 12
    if case == "tanh":
        assert 0 < numbers[2] < 1


def test_the_surface_is_the_network_output_over_the_plane():
    x, y = data()
    net = chain([8, 8], "tanh")
    net.fit(x, y, epochs=3)
    surface = TrainingMonitor(net.model, x, grid_size=16, unit_grid_size=8).snapshot().surface
    assert surface.kind == "probability" and surface.values.shape == (16, 16)
    points = np.array([[surface.xs[3], surface.ys[11]]])
    assert np.isclose(surface.values[11, 3], net.model.forward([points], training=False)[0, 0])
    assert set(surface.unit_maps) == {"h0", "h1"} and surface.unit_maps["h0"].shape == (8, 8, 8)


def test_one_batched_pass_gives_what_separate_passes_give():
    """A snapshot runs probe, unit grid and surface grid as one batch."""
    x, y = data()
    net = chain([8, 8], "tanh")
    net.fit(x, y, epochs=3)
    monitor = TrainingMonitor(net.model, x, grid_size=16, unit_grid_size=8)
    full, probe_only = monitor.snapshot(), monitor.snapshot(with_surface=False)
    for a, b in zip(full.layers, probe_only.layers, strict=True):
        assert np.array_equal(a.histogram, b.histogram) and np.isclose(a.mean_activation, b.mean_activation)
    net.model.forward([monitor.unit_grid[2]], training=False)
    expected = net.model.outputs["h1"][:, :8].T.reshape(-1, 8, 8)
    np.testing.assert_allclose(full.surface.unit_maps["h1"], expected, rtol=1e-12, atol=1e-15)
    grid = net.model.forward([monitor.surface_grid[2]], training=False)[:, 0]
    np.testing.assert_allclose(full.surface.values, grid.reshape(16, 16), rtol=1e-12, atol=1e-15)


def test_no_surface_for_data_without_a_plane():
    images = np.zeros((10, 1, 28, 28))
    assert shows_surface(np.zeros((10, 2))) and not shows_surface(images)
    assert not shows_surface(np.zeros((10, 1)))
    x, _ = data(50, inputs=784)
    monitor = TrainingMonitor(chain([8], "relu", inputs=784).model, x, surface=False)
    assert monitor.snapshot().surface is None and monitor.surface_grid is None


def test_confusion_matrix_rows_are_true_classes():
    truth = np.array([0, 1, 2, 2])
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.0, 0.1, 0.9]])
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(confusion_matrix(truth, scores, 3), expected)
    np.testing.assert_array_equal(confusion_matrix(np.eye(3)[truth], scores, 3), expected)
    np.testing.assert_array_equal(confusion_matrix([0, 1], np.array([[0.2], [0.8]]), 2), np.eye(2, dtype=int))
