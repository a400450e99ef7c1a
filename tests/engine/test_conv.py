"""Conv2D and Conv1D: shapes and messages, initial scale, and gradients against float64 central
differences over strides, paddings (an odd total pad too), dilations, non-square kernels and bias."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import engine  # noqa: F401  (registers every type)
from engine.errors import GraphError
from engine.registry import LAYERS, resolve_params
from tests.engine.gradcheck import numeric_gradient, relative_error

# Round-off of the summed loss over a 1e-6 step leaves ~1e-9 on a derivative: 1e-5 relative
# still fails any wrong index or missing term.
TOLERANCE = 1e-5


def build(type_name, params, input_shape, dtype=np.float64, node_id="c1"):
    cls = LAYERS.get(type_name)
    params = resolve_params(cls, params, type_name)
    layer = cls(node_id, params, [input_shape], dtype)
    layer.initialize(np.random.default_rng(0))
    if "bias" in layer.weights:
        layer.weights["bias"][...] = np.random.default_rng(1).normal(0, 0.3, layer.weights["bias"].shape)
    return layer


def check_gradients(layer, input_shape, batch=2):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(batch, *input_shape))
    probe = rng.normal(size=(batch, *layer.output_shape_))

    def loss() -> float:
        return float(np.sum(layer.forward([x], training=True, rng=rng) * probe)) + layer.regularization_loss()

    loss()
    (grad_x,) = layer.backward(probe)
    assert relative_error(grad_x, numeric_gradient(loss, x)) < TOLERANCE
    for key in layer.trainable:
        loss()
        layer.backward(probe)
        analytic = layer.grads[key].copy()
        assert relative_error(analytic, numeric_gradient(loss, layer.weights[key])) < TOLERANCE, key


GRID = list(
    itertools.product(
        [(1, 1), (2, 2), (2, 1)],  # strides
        ["valid", "same"],
        [(1, 1), (2, 1)],  # dilation
        [(3, 3), (2, 3)],  # kernel (2 x 3: odd total pads under 'same')
        [True, False],  # use_bias
    )
)


@pytest.mark.parametrize(("strides", "padding", "dilation", "kernel", "use_bias"), GRID)
def test_conv2d_gradients_match_central_differences(strides, padding, dilation, kernel, use_bias):
    params = {
        "filters": 3,
        "kernel_size": list(kernel),
        "strides": list(strides),
        "padding": padding,
        "dilation_rate": list(dilation),
        "use_bias": use_bias,
        "activation": "tanh" if use_bias else "linear",
        "kernel_l2": 0.01,
    }
    layer = build("Conv2D", params, (2, 7, 6))
    check_gradients(layer, (2, 7, 6))


@pytest.mark.parametrize("activation", ["relu", "softmax", "elu"])
def test_conv2d_gradients_through_activations(activation):
    # softmax (over the last axis) ignores a per-filter bias: its gradient is 0, left out
    params = {"filters": 2, "kernel_size": [2], "activation": activation, "use_bias": activation != "softmax"}
    layer = build("Conv2D", {**params, "kernel_l1": 0.01}, (2, 4, 5))
    check_gradients(layer, (2, 4, 5))


@pytest.mark.parametrize(
    ("strides", "padding", "dilation"), [(1, "same", 1), (2, "valid", 2), (2, "same", 1)]
)
def test_conv1d_gradients_match_central_differences(strides, padding, dilation):
    params = {
        "filters": 3,
        "kernel_size": [3],
        "strides": [strides],
        "padding": padding,
        "dilation_rate": [dilation],
    }
    layer = build("Conv1D", {**params, "activation": "sigmoid"}, (2, 9))
    assert layer.weights["kernel"].shape == (3, 2, 3)
    check_gradients(layer, (2, 9))


def test_fused_loss_path_gets_the_preactivation_in_image_layout():
    layer = build("Conv2D", {"filters": 2, "kernel_size": [2], "activation": "relu"}, (1, 4, 4))
    layer.feeds_loss = True  # as the model sets it on its output layer
    x = np.random.default_rng(0).normal(size=(3, 1, 4, 4))
    out = layer.forward([x], training=True, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.maximum(layer.pre_activation, 0), out)
    grad_z = np.random.default_rng(1).normal(size=out.shape)
    layer.backward_from_preactivation(grad_z)
    np.testing.assert_allclose(layer.grads["bias"], grad_z.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_a_layer_whose_derivative_needs_only_its_output_keeps_no_preactivation(activation):
    """In training, unless the loss reads it, such a layer writes no pre-activation, and its
    gradients are exactly those of the same layer keeping it."""
    x = np.random.default_rng(0).normal(size=(3, 2, 6, 5)).astype(np.float32)
    grad = np.random.default_rng(1).normal(size=(3, 3, 5, 4)).astype(np.float32)
    layers = []
    for feeds_loss in (False, True):
        layer = build(
            "Conv2D", {"filters": 3, "kernel_size": [2], "activation": activation}, (2, 6, 5), np.float32
        )
        layer.feeds_loss = feeds_loss
        out = layer.forward([x], training=True, rng=np.random.default_rng(0)).copy()
        layers.append((layer, out, layer.backward(grad)[0].copy()))
    (alone, out_alone, gx_alone), (kept, out_kept, gx_kept) = layers
    assert alone.pre_activation is None and kept.pre_activation is not None
    np.testing.assert_array_equal(out_alone, out_kept)
    np.testing.assert_array_equal(gx_alone, gx_kept)
    for key in ("kernel", "bias"):
        np.testing.assert_array_equal(alone.grads[key], kept.grads[key])
    small = build("Conv2D", {"filters": 3, "kernel_size": [2], "activation": activation}, (2, 6, 5))
    small.forward([x[:1]], training=False, rng=np.random.default_rng(0))
    assert small.pre_activation is not None  # an inference pass keeps it for a trace


def test_conv2d_on_a_flat_input_says_what_to_change():
    cls = LAYERS.get("Conv2D")
    params = resolve_params(cls, {"filters": 8}, "Conv2D 'c1'")
    with pytest.raises(
        GraphError,
        match=r"Conv2D 'c1' expects an image \(channels, height, width\), got \(784,\): "
        r"set the Input shape to \[1, 28, 28\] or add a Reshape",
    ):
        cls.output_shape(params, [(784,)], "Conv2D 'c1'")


def test_a_window_larger_than_the_input_is_named():
    cls = LAYERS.get("Conv2D")
    params = resolve_params(cls, {"filters": 8, "kernel_size": [5]}, "Conv2D 'c1'")
    with pytest.raises(GraphError, match=r"window \(5, 5\) is larger than the input \(4, 4\)"):
        cls.output_shape(params, [(1, 4, 4)], "Conv2D 'c1'")


def test_shapes_weights_and_labels():
    conv = LAYERS.get("Conv2D")
    params = resolve_params(conv, {"filters": 32, "activation": "relu"}, "c")
    assert conv.output_shape(params, [(1, 28, 28)], "c") == (32, 26, 26)
    assert conv.weight_shapes(params, [(1, 28, 28)]) == {"kernel": (32, 1, 3, 3), "bias": (32,)}
    assert conv.describe(params) == "Conv2D 32 3×3 · relu"
    same = resolve_params(conv, {"filters": 4, "kernel_size": [3, 5], "strides": [2], "padding": "same"}, "c")
    assert conv.output_shape(same, [(3, 7, 8)], "c") == (4, 4, 4)
    assert conv.describe(same) == "Conv2D 4 3×5"
    conv1 = LAYERS.get("Conv1D")
    p1 = resolve_params(conv1, {"filters": 5, "kernel_size": [4], "strides": [2]}, "c")
    assert conv1.output_shape(p1, [(2, 20)], "c") == (5, 9)
    assert conv1.weight_shapes(p1, [(2, 20)]) == {"kernel": (5, 2, 4), "bias": (5,)}


def test_glorot_uniform_uses_the_convolution_fans():
    layer = build("Conv2D", {"filters": 64, "kernel_size": [5]}, (16, 9, 9))
    limit = np.sqrt(6.0 / (16 * 25 + 64 * 25))
    kernel = layer.weights["kernel"]
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit


def test_float32_stays_float32_and_matches_float64():
    params = {"filters": 4, "kernel_size": [3, 2], "strides": [2, 1], "padding": "same", "activation": "relu"}
    layer64 = build("Conv2D", params, (3, 9, 8))
    layer32 = build("Conv2D", params, (3, 9, 8), np.float32)
    x = np.random.default_rng(0).normal(size=(5, 3, 9, 8))
    out32 = layer32.forward([x.astype(np.float32)], training=True, rng=None)
    out64 = layer64.forward([x], training=True, rng=None)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-5)
    (grad32,) = layer32.backward(np.ones_like(out32))
    assert grad32.dtype == np.float32 and layer32.grads["kernel"].dtype == np.float32


def test_a_batch_of_the_wrong_shape_is_refused_before_the_kernels():
    layer = build("Conv2D", {"filters": 2}, (1, 5, 5))
    with pytest.raises(GraphError, match=r"expects a batch of shape \(N, 1, 5, 5\), got \(2, 1, 5, 4\)"):
        layer.forward([np.zeros((2, 1, 5, 4))], training=False, rng=None)


def test_a_bias_of_the_wrong_length_is_refused_before_the_kernels():
    layer = build("Conv2D", {"filters": 3}, (1, 5, 5))
    layer.weights["bias"] = np.zeros(2)
    with pytest.raises(GraphError, match=r"expects a bias of shape \(3,\) and dtype float64, got \(2,\)"):
        layer.forward([np.zeros((2, 1, 5, 5))], training=False, rng=None)


@pytest.mark.parametrize("activation", ["relu", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_inference_batch_keeps_nothing_and_gives_the_same_outputs(monkeypatch, activation, dtype):
    import engine.layers.conv as conv_module

    params = {
        "filters": 3,
        "kernel_size": [2, 3],
        "strides": [2, 1],
        "padding": "same",
        "activation": activation,
    }
    layer = build("Conv2D", params, (2, 7, 6), dtype)
    x = np.random.default_rng(0).normal(size=(11, 2, 7, 6)).astype(dtype)
    whole = layer.forward([x], training=True, rng=None).copy()
    large = build("Conv2D", params, (2, 7, 6), dtype)
    large.weights = layer.weights
    monkeypatch.setattr(conv_module, "INFERENCE_VALUES", 10 * 3 * 4 * 6)  # 11 samples are "large"
    out = large.forward([x], training=False, rng=None)
    np.testing.assert_array_equal(out, whole)
    assert large.pre_activation is None and large.images is None and not large._workspaces.arrays
    with pytest.raises(GraphError, match="backward needs the forward of a training batch"):
        large.backward(np.ones_like(out))


@pytest.mark.parametrize("activation", ["relu", "elu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunks_of_any_size_give_the_same_values(monkeypatch, activation, dtype):
    """Chunks of 1, 2 or all 7 samples: the same outputs and input gradient, and kernel and bias
    gradients equal up to the order of the sums; a chunk's columns and products stay within
    CHUNK_BYTES (one sample at least)."""
    import engine._kernels.parts as parts
    import engine.layers.conv as conv_module

    params = {"filters": 4, "kernel_size": [3, 2], "padding": "same", "activation": activation}
    x = np.random.default_rng(0).normal(size=(7, 2, 6, 5)).astype(dtype)
    grad = np.random.default_rng(1).normal(size=(7, 4, 6, 5)).astype(dtype)
    per_sample = (2 * 3 * 2 + 4) * 30 * np.dtype(dtype).itemsize
    results = []
    for samples in (1, 2, 7):
        monkeypatch.setattr(conv_module, "CHUNK_BYTES", samples * per_sample)
        monkeypatch.setattr(parts, "_scratch", threading.local())  # this round's arrays only
        layer = build("Conv2D", params, (2, 6, 5), dtype)
        assert layer.chunk_samples() == samples
        out = layer.forward([x], training=True, rng=None).copy()
        gx = layer.backward(grad)[0].copy()
        results.append((out, gx, layer.grads["kernel"].copy(), layer.grads["bias"].copy()))
        biggest = max(a.nbytes for a in parts._scratch.arrays.values())  # small work: one part
        assert biggest == samples * (2 * 3 * 2) * 30 * np.dtype(dtype).itemsize  # the columns
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for out, gx, grad_kernel, grad_bias in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_allclose(gx, results[0][1], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(grad_kernel, results[0][2], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(grad_bias, results[0][3], rtol=rtol, atol=rtol)
