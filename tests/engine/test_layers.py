"""Every registered layer: shapes without running, forward/backward against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import engine  # noqa: F401  (registers every type)
from engine.errors import GraphError
from engine.registry import LAYERS, resolve_params
from tests.engine.gradcheck import numeric_gradient, relative_error

# type -> (params, input shapes) for the gradient check; every registered layer needs one.
CASES = {
    "Input": ({"shape": [3]}, []),
    "Dense": ({"units": 4, "activation": "tanh", "kernel_l1": 0.01, "kernel_l2": 0.02}, [(5,)]),
    "Activation": ({"activation": "elu"}, [(2, 3)]),
    "Dropout": ({"rate": 0.3}, [(6,)]),
    "Flatten": ({}, [(2, 3, 2)]),
    "Reshape": ({"target_shape": [3, 2]}, [(6,)]),
    "BatchNormalization": ({}, [(4,)]),
    "Add": ({}, [(3,), (3,), (3,)]),
    "Concatenate": ({"axis": -1}, [(2, 3), (2, 1)]),
    "ZeroPadding2D": ({"padding": "1, 0, 0, 2"}, [(2, 3, 3)]),
    "MaxPooling2D": ({"pool_size": [3], "strides": [2], "padding": "same"}, [(2, 5, 6)]),
    "AveragePooling2D": ({"pool_size": [2, 3], "padding": "same"}, [(2, 5, 5)]),
    "GlobalAveragePooling2D": ({}, [(3, 2, 3)]),
    "GlobalMaxPooling2D": ({}, [(3, 2, 3)]),
    "MaxPooling1D": ({"pool_size": [2]}, [(2, 7)]),
    "Conv2D": (
        {
            "filters": 3,
            "kernel_size": [3, 2],
            "strides": [2, 1],
            "padding": "same",
            "activation": "tanh",
            "kernel_l2": 0.01,
        },
        [(2, 5, 4)],
    ),
    "Conv1D": ({"filters": 2, "kernel_size": [3], "dilation_rate": [2], "activation": "relu"}, [(3, 8)]),
}


def test_every_layer_has_a_gradient_case():
    assert sorted(CASES) == sorted(LAYERS.names())


def _build(type_name: str, dtype=np.float64):
    params, shapes = CASES[type_name]
    cls = LAYERS.get(type_name)
    params = resolve_params(cls, params, type_name)
    layer = cls("node", params, shapes, dtype)
    layer.initialize(np.random.default_rng(0))
    for arr in layer.weights.values():  # non-trivial values everywhere (biases, gamma, ...)
        arr += np.random.default_rng(1).normal(0, 0.3, arr.shape)
    return layer, shapes


@pytest.mark.parametrize("type_name", [n for n in CASES if n != "Input"])
def test_backward_matches_central_differences(type_name):
    layer, shapes = _build(type_name)
    rng = np.random.default_rng(2)
    inputs = [rng.normal(size=(4, *s)) for s in shapes]
    probe = rng.normal(size=(4, *layer.output_shape_))

    def loss() -> float:
        # A fixed generator per call so Dropout draws the same mask each time.
        out = layer.forward(inputs, training=True, rng=np.random.default_rng(3))
        return float(np.sum(out * probe)) + layer.regularization_loss()

    loss()
    input_grads = layer.backward(probe)
    for x, analytic in zip(inputs, input_grads, strict=True):
        assert relative_error(analytic, numeric_gradient(loss, x)) < 1e-6
    for key in layer.trainable:
        loss()
        layer.backward(probe)
        analytic = layer.grads[key].copy()
        assert relative_error(analytic, numeric_gradient(loss, layer.weights[key])) < 1e-6, key


@pytest.mark.parametrize("type_name", list(CASES))
def test_output_shape_agrees_with_forward(type_name):
    layer, shapes = _build(type_name)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, *s)) for s in shapes] or [rng.normal(size=(2, 3))]
    out = layer.forward(inputs, training=False, rng=rng)
    assert out.shape == (2, *layer.output_shape_)


@pytest.mark.parametrize("type_name", list(CASES))
def test_float32_stays_float32(type_name):
    layer, shapes = _build(type_name, np.float32)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, *s)).astype(np.float32) for s in shapes] or [
        rng.normal(size=(2, 3)).astype(np.float32)
    ]
    out = layer.forward(inputs, training=True, rng=rng)
    assert out.dtype == np.float32
    for arr in layer.weights.values():
        assert arr.dtype == np.float32


def test_dense_on_2d_input_says_add_flatten():
    cls = LAYERS.get("Dense")
    params = resolve_params(cls, {"units": 3}, "Dense 'fc2'")
    with pytest.raises(GraphError, match=r"Dense 'fc2' expects a 1-D input, got \(28, 28\): add a Flatten"):
        cls.output_shape(params, [(28, 28)], "Dense 'fc2'")


def test_add_refuses_different_shapes():
    cls = LAYERS.get("Add")
    with pytest.raises(GraphError, match=r"same shape, got \(3,\), \(4,\)"):
        cls.output_shape({}, [(3,), (4,)], "Add 'sum'")


def test_reshape_refuses_wrong_count():
    cls = LAYERS.get("Reshape")
    with pytest.raises(GraphError, match="number of values must stay the same"):
        cls.output_shape({"target_shape": (5,)}, [(6,)], "Reshape 'r'")


def test_batchnorm_inference_uses_moving_averages():
    layer, _ = _build("BatchNormalization")
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(256, 4))
    for _ in range(1000):  # momentum 0.99: 0.99**1000 of the initial value is left
        layer.forward([x], training=True, rng=np.random.default_rng(0))
    np.testing.assert_allclose(layer.weights["moving_mean"], x.mean(0), rtol=1e-2)
    train_out = layer.forward([x], training=True, rng=np.random.default_rng(0))
    infer_out = layer.forward([x], training=False, rng=np.random.default_rng(0))
    np.testing.assert_allclose(train_out, infer_out, atol=1e-2)


def test_dropout_is_identity_at_inference_and_scales_in_training():
    layer, _ = _build("Dropout")
    x = np.ones((2000, 6))
    assert np.array_equal(layer.forward([x], training=False, rng=np.random.default_rng(0)), x)
    out = layer.forward([x], training=True, rng=np.random.default_rng(0))
    assert abs((out == 0).mean() - 0.3) < 0.02
    assert np.allclose(out[out != 0], 1 / 0.7)
