"""Synthetic data sets: shapes, dtypes, determinism, balance, ranges and Playground semantics."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import load_data
from engine.errors import ConfigError
from engine.registry import DATASETS

NAMES = DATASETS.names()
REGRESSION = {"plane", "gauss_surface", "sine"}


def test_every_documented_set_is_registered():
    assert set(NAMES) == {
        "circle",
        "xor",
        "gauss",
        "spiral",
        "spiral_multiclass",
        "plane",
        "gauss_surface",
        "sine",
    }


@pytest.mark.parametrize("name", NAMES)
def test_entry_has_the_registry_contract(name):
    entry = DATASETS.get(name)
    assert entry.name == name and entry.group and entry.description
    specs = {spec.name: spec for spec in entry.param_specs}
    assert {"n", "noise", "seed"} <= set(specs)
    assert specs["n"].default == 500 and specs["n"].minimum == 10 and specs["n"].maximum == 1_000_000
    assert specs["noise"].minimum == 0.0 and specs["noise"].maximum >= 0.5
    assert specs["seed"].default == 0


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    data = DATASETS.get(name).generate(n=101)
    width = 1 if name == "sine" else 2
    assert data.x.shape == (101, width) and data.x.dtype == np.float32
    assert data.x.flags.c_contiguous
    assert data.name == name and len(data) == 101
    assert data.feature_names is not None and len(data.feature_names) == width
    if name in REGRESSION:
        assert data.task == "regression" and data.n_classes is None
        assert data.y.shape == (101, 1) and data.y.dtype == np.float32
    else:
        assert data.task == "classification"
        assert data.y.shape == (101,) and data.y.dtype == np.int64
        assert set(np.unique(data.y)) <= set(range(data.n_classes))
    assert np.all(np.isfinite(data.x)) and np.all(np.isfinite(data.y))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_data_other_seed_other_data(name):
    entry = DATASETS.get(name)
    a, b = entry.generate(seed=7, noise=0.2), entry.generate(seed=7, noise=0.2)
    c = entry.generate(seed=8, noise=0.2)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", NAMES)
def test_coordinates_are_scaled_to_about_minus_one_to_one(name):
    data = DATASETS.get(name).generate(n=2000)
    if name == "sine":
        assert -np.pi <= data.x.min() < -3.0 and 3.0 < data.x.max() <= np.pi
    else:
        assert np.abs(data.x).max() <= 1.2
        assert np.abs(data.x).max() >= 0.7  # uses the square, not a corner of it


@pytest.mark.parametrize("name", sorted(set(NAMES) - REGRESSION))
def test_classes_are_balanced(name):
    data = DATASETS.get(name).generate(n=1000)
    counts = np.bincount(data.y, minlength=data.n_classes)
    share = counts / len(data)
    assert np.all(np.abs(share - 1 / data.n_classes) < 0.1), counts


@pytest.mark.parametrize("classes", [2, 3, 5, 10])
def test_spiral_multiclass_has_the_requested_classes(classes):
    data = DATASETS.get("spiral_multiclass").generate(n=1003, classes=classes)
    assert data.n_classes == classes
    counts = np.bincount(data.y)
    assert len(counts) == classes
    assert counts.max() - counts.min() <= 1 and counts.sum() == 1003


def test_rows_are_shuffled():
    y = DATASETS.get("spiral").generate(n=200).y
    assert 0 < y[:100].mean() < 1


def test_noise_free_labels_follow_the_playground_rules():
    circle = DATASETS.get("circle").generate(n=1000, noise=0.0)
    radius = np.hypot(circle.x[:, 0], circle.x[:, 1]) * 6
    np.testing.assert_array_equal(circle.y, (radius < 2.5).astype(np.int64))
    assert radius[circle.y == 0].min() >= 3.5 - 1e-4  # the ring starts at 0.7 x 5

    xor = DATASETS.get("xor").generate(n=1000, noise=0.0)
    np.testing.assert_array_equal(xor.y, (xor.x[:, 0] * xor.x[:, 1] >= 0).astype(np.int64))
    assert np.abs(xor.x).min() >= 0.3 / 6 - 1e-6  # Playground's padding off the axes

    gauss = DATASETS.get("gauss").generate(n=1000, noise=0.0)
    assert np.all(gauss.x[gauss.y == 1].mean(axis=0) > 0.25)
    assert np.all(gauss.x[gauss.y == 0].mean(axis=0) < -0.25)


def test_label_noise_flips_some_labels_near_the_boundary():
    xor = DATASETS.get("xor").generate(n=2000, noise=0.5)
    clean = (xor.x[:, 0] * xor.x[:, 1] >= 0).astype(np.int64)
    flipped = np.mean(xor.y != clean)
    assert 0.05 < flipped < 0.4


def test_gauss_noise_widens_the_blobs():
    # variance 0.5 (noise 0) to 4 (noise 0.5) in Playground units: std sqrt(0.5)/6 to 2/6 scaled
    for noise, std in ((0.0, np.sqrt(0.5) / 6), (0.5, 2 / 6)):
        data = DATASETS.get("gauss").generate(n=4000, noise=noise)
        for label in (0, 1):
            spread = data.x[data.y == label].std(axis=0)
            assert np.all(np.abs(spread - std) < 0.02), (noise, label, spread)


def test_spiral_arms_are_interleaved_and_noise_moves_points():
    clean = DATASETS.get("spiral").generate(n=400, noise=0.0)
    radius = np.hypot(clean.x[:, 0], clean.x[:, 1])
    assert radius.max() <= 5 / 6 + 1e-6
    noisy = DATASETS.get("spiral").generate(n=400, noise=0.5)
    moved = np.abs(noisy.x - clean.x)  # same seed: the same arms, only the offsets differ
    assert 0 < moved.max() <= 0.5 / 6 + 1e-6


def test_regression_targets():
    plane = DATASETS.get("plane").generate(n=500, noise=0.0)
    np.testing.assert_allclose(plane.y[:, 0], 0.6 * (plane.x[:, 0] + plane.x[:, 1]), atol=1e-5)
    noisy = DATASETS.get("plane").generate(n=500, noise=0.2)
    residual = noisy.y[:, 0] - 0.6 * (noisy.x[:, 0] + noisy.x[:, 1])
    assert 0.01 < residual.std() < 0.2

    surface = DATASETS.get("gauss_surface").generate(n=3000, noise=0.0)
    assert -1.0 <= surface.y.min() < -0.8 and 0.8 < surface.y.max() <= 1.0
    # the bump at Playground (0, 2.5) is negative, at (4, 2.5) positive
    near = lambda cx, cy: np.hypot(surface.x[:, 0] - cx / 6, surface.x[:, 1] - cy / 6) < 0.1  # noqa: E731
    assert np.all(surface.y[near(0, 2.5)] < 0) and np.all(surface.y[near(4, 2.5)] > 0)

    sine = DATASETS.get("sine").generate(n=500, noise=0.0)
    np.testing.assert_allclose(sine.y, np.sin(sine.x), atol=1e-6)
    noisy_sine = DATASETS.get("sine").generate(n=5000, noise=0.1)
    assert abs((noisy_sine.y - np.sin(noisy_sine.x)).std() - 0.1) < 0.01


@pytest.mark.parametrize(
    "params, words",
    [
        ({"n": 5}, "at least 10"),
        ({"noise": 0.9}, "at most"),
        ({"colour": "red"}, "unknown parameter"),
        ({"n": 2.5}, "whole number"),
    ],
)
def test_bad_parameters_are_config_errors(params, words):
    with pytest.raises(ConfigError, match=words):
        DATASETS.get("xor").generate(**params)


def test_load_data_builds_a_synthetic_set_in_the_requested_dtype():
    config = {
        "source": "spiral_multiclass",
        "n": 300,
        "noise": 0.1,
        "classes": 4,
        "seed": 3,
        "val_split": 0.25,
    }
    data = load_data(config, dtype="float64")
    assert data.x.dtype == np.float64 and data.n_classes == 4 and len(data) == 300
    same = DATASETS.get("spiral_multiclass").generate(n=300, noise=0.1, classes=4, seed=3)
    np.testing.assert_array_equal(data.x, same.x.astype(np.float64))
    sine = load_data({"source": "sine"}, dtype="float64")
    assert sine.y.dtype == np.float64
