"""The layers that predate images, on channels-first image tensors (C, H, W): Flatten in C, H, W
order, Reshape, Dropout, BatchNormalization per channel (as PyTorch's BatchNorm2d), Add and
Concatenate along the channel axis; an image network trains through the general runner."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine._kernels import batch_norm as kb
from engine.losses import get_loss
from engine.optimizers import get_optimizer
from engine.registry import LAYERS, resolve_params
from engine.training.runners.base import TrainingSetup
from engine.training.runners.general import GeneralRunner
from engine.training.runners.order import choose_runner
from tests.engine.gradcheck import numeric_gradient, relative_error

IMAGE = (3, 4, 5)  # (C, H, W)
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


def make(type_name: str, params: dict, shapes: list[tuple[int, ...]], dtype=np.float64):
    cls = LAYERS.get(type_name)
    return cls("node", resolve_params(cls, params, type_name), shapes, dtype)


def test_flatten_keeps_channels_then_rows_then_columns():
    layer = make("Flatten", {}, [IMAGE])
    x = np.arange(2 * 60, dtype=np.float64).reshape(2, *IMAGE)
    out = layer.forward([x], training=True, rng=np.random.default_rng(0))
    assert out.shape == (2, 60)
    # value (c, h, w) lands at c * H * W + h * W + w, as torch.flatten(x, 1) puts it
    assert out[1, 2 * 20 + 3 * 5 + 4] == x[1, 2, 3, 4]
    assert np.array_equal(layer.backward(out)[0], x)


def test_reshape_and_dropout_keep_image_shapes():
    reshape = make("Reshape", {"target_shape": [3, 20]}, [IMAGE])
    x = np.random.default_rng(0).normal(size=(4, *IMAGE))
    assert reshape.forward([x], training=True, rng=np.random.default_rng(0)).shape == (4, 3, 20)
    dropout = make("Dropout", {"rate": 0.5}, [IMAGE])
    out = dropout.forward([x], training=True, rng=np.random.default_rng(0))
    assert out.shape == x.shape and 0 < np.mean(out == 0) < 1
    assert np.array_equal(dropout.backward(np.ones_like(x))[0] == 0, out == 0)
    assert dropout.forward([x], training=False, rng=np.random.default_rng(0)) is x


def test_add_and_concatenate_join_images_along_channels():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, *IMAGE)), rng.normal(size=(2, 1, 4, 5))
    cat = make("Concatenate", {"axis": 0}, [IMAGE, (1, 4, 5)])
    assert cat.output_shape_ == (4, 4, 5)
    out = cat.forward([a, b], training=True, rng=rng)
    assert np.array_equal(out, np.concatenate([a, b], axis=1))
    grad_a, grad_b = cat.backward(out * 2)
    assert np.array_equal(grad_a, 2 * a) and np.array_equal(grad_b, 2 * b)
    add = make("Add", {}, [IMAGE, IMAGE])
    assert np.array_equal(add.forward([a, a], training=True, rng=rng), 2 * a)


# ----------------------------------------------------------------- batch normalization
@pytest.mark.parametrize(("center", "scale"), [(True, True), (False, True), (True, False)])
def test_batch_norm_gradients_on_images_match_central_differences(center, scale):
    layer = make("BatchNormalization", {"center": center, "scale": scale}, [IMAGE])
    rng = np.random.default_rng(0)
    layer.initialize(rng)
    for key in layer.trainable:
        layer.weights[key] += rng.normal(0, 0.3, layer.weights[key].shape)
    x, probe = rng.normal(size=(3, *IMAGE)), rng.normal(size=(3, *IMAGE))

    def loss() -> float:
        return float(np.sum(layer.forward([x], training=True, rng=rng) * probe))

    loss()
    analytic = layer.backward(probe)[0]
    assert relative_error(analytic, numeric_gradient(loss, x)) < 1e-6
    for key in layer.trainable:
        loss()
        layer.backward(probe)
        assert relative_error(layer.grads[key].copy(), numeric_gradient(loss, layer.weights[key])) < 1e-6


def test_batch_norm_statistics_are_per_channel():
    layer = make("BatchNormalization", {"momentum": 0.0}, [IMAGE])
    layer.initialize(np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(6, *IMAGE)) * np.array([1.0, 5.0, 0.1])[:, None, None]
    out = layer.forward([x], training=True, rng=np.random.default_rng(0))
    # each channel over (N, H, W): zero mean, unit variance; the moving statistics are (C,)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(
        out.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + 1e-3)
    )
    np.testing.assert_allclose(layer.weights["moving_mean"], x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.weights["moving_variance"], x.var(axis=(0, 2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_on_images_matches_pytorch_batchnorm2d(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    layer = make("BatchNormalization", {"momentum": 0.9, "epsilon": 1e-3}, [IMAGE], dtype)
    layer.initialize(rng)
    layer.weights["gamma"][...] = rng.normal(1, 0.3, 3)
    layer.weights["beta"][...] = rng.normal(0, 0.3, 3)
    x = rng.normal(2.0, 3.0, size=(4, *IMAGE)).astype(dtype)
    probe = rng.normal(size=x.shape).astype(dtype)
    norm = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.1).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        norm.weight.copy_(torch.tensor(layer.weights["gamma"]))
        norm.bias.copy_(torch.tensor(layer.weights["beta"]))
    tx = torch.tensor(x, requires_grad=True)
    expected = norm(tx)
    (expected * torch.tensor(probe)).sum().backward()
    out = layer.forward([x], training=True, rng=rng)
    grad = layer.backward(probe)[0]
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.grads["gamma"], norm.weight.grad.numpy(), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(layer.grads["beta"], norm.bias.grad.numpy(), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(layer.weights["moving_mean"], norm.running_mean.numpy(), rtol=tol, atol=tol)
    # Keras moves towards the batch's own variance; PyTorch towards the unbiased one
    count = x.size // 3
    biased = 0.9 + (norm.running_var.numpy() - 0.9) * (count - 1) / count
    np.testing.assert_allclose(layer.weights["moving_variance"], biased, rtol=tol, atol=tol)
    norm.eval()
    inference = layer.forward([x], training=False, rng=rng)
    norm.running_var.copy_(torch.tensor(layer.weights["moving_variance"]))
    with torch.no_grad():
        np.testing.assert_allclose(inference, norm(torch.tensor(x)).numpy(), rtol=tol, atol=tol)


# ------------------------------------------------------------------------- networks
def image_network() -> engine.Network:
    """Input (2, 6, 6) -> BatchNorm -> Dropout -> [itself, MaxPool 'same' of it] joined by
    channels -> AveragePool -> Add with a ZeroPadding of a MaxPool -> GlobalAverage and Flatten
    -> Dense softmax."""
    spec = engine.NetworkSpec(
        training={"loss": "sparse_categorical_crossentropy", "batch_size": 8, "seed": 1}
    )
    add = spec.add_node
    add("Input", {"shape": [2, 6, 6]}, node_id="image")
    add("BatchNormalization", {}, node_id="bn")
    add("Dropout", {"rate": 0.1}, node_id="drop")
    add("MaxPooling2D", {"pool_size": [3], "strides": [1], "padding": "same"}, node_id="max_same")
    add("Concatenate", {"axis": 0}, node_id="channels")  # (4, 6, 6)
    add("AveragePooling2D", {}, node_id="avg")  # (4, 3, 3)
    add("Reshape", {"target_shape": [4, 9]}, node_id="signal")
    add("MaxPooling1D", {"pool_size": [3]}, node_id="max1d")  # (4, 3)
    add("Reshape", {"target_shape": [4, 1, 3]}, node_id="rows")
    add("ZeroPadding2D", {"padding": "1, 0"}, node_id="pad")  # (4, 3, 3)
    add("Add", {}, node_id="sum")
    add("GlobalAveragePooling2D", {}, node_id="gap")
    add("GlobalMaxPooling2D", {}, node_id="gmp")
    add("Flatten", {}, node_id="flat")
    add("Concatenate", {"axis": -1}, node_id="features")
    add("Dense", {"units": 2, "activation": "softmax"}, node_id="out")
    for a, b in (
        ("image", "bn"),
        ("bn", "drop"),
        ("drop", "max_same"),
        ("drop", "channels"),
        ("max_same", "channels"),
        ("channels", "avg"),
        ("avg", "signal"),
        ("signal", "max1d"),
        ("max1d", "rows"),
        ("rows", "pad"),
        ("avg", "sum"),
        ("pad", "sum"),
        ("sum", "gap"),
        ("sum", "gmp"),
        ("sum", "flat"),
        ("gap", "features"),
        ("gmp", "features"),
        ("flat", "features"),
        ("features", "out"),
    ):
        spec.connect(a, b)
    return engine.Network(spec)


def test_an_image_network_trains_through_the_general_runner():
    network = image_network()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    x = rng.normal(size=(64, 2, 6, 6)).astype(np.float32) + y[:, None, None, None].astype(np.float32)
    setup = TrainingSetup(
        network.model, get_loss("sparse_categorical_crossentropy"), get_optimizer("adam"), 8
    )
    assert isinstance(choose_runner(setup, [x], y), GeneralRunner)
    history = network.fit(x, y, epochs=8)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert network.predict(x).shape == (64, 2)


# ------------------------------------------------------------------------ residual block
def residual_block(activation: str = "linear") -> engine.Network:
    """Input (2, 6, 6) -> Conv2D 3x3 same -> BatchNorm -> relu -> Conv2D 3x3 same, Add with the
    block's input -> relu -> GlobalAveragePooling2D -> Dense 3 with `activation`."""
    spec = engine.NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "dtype": "float64"})
    add = spec.add_node
    add("Input", {"shape": [2, 6, 6]}, node_id="x")
    add("Conv2D", {"filters": 2, "kernel_size": [3], "padding": "same"}, node_id="c1")
    add("BatchNormalization", {}, node_id="bn")
    add("Activation", {"activation": "relu"}, node_id="r1")
    add("Conv2D", {"filters": 2, "kernel_size": [3], "padding": "same"}, node_id="c2")
    add("Add", {}, node_id="skip")
    add("Activation", {"activation": "relu"}, node_id="r2")
    add("GlobalAveragePooling2D", {}, node_id="gap")
    add("Dense", {"units": 3, "activation": activation}, node_id="out")
    for a, b in (
        ("x", "c1"),
        ("c1", "bn"),
        ("bn", "r1"),
        ("r1", "c2"),
        ("c2", "skip"),
        ("x", "skip"),
        ("skip", "r2"),
        ("r2", "gap"),
        ("gap", "out"),
    ):
        spec.connect(a, b)
    return engine.Network(spec)


def test_a_residual_block_matches_central_differences_and_pytorch():
    network = residual_block()
    model = network.model
    rng = np.random.default_rng(0)
    for layer in model.layers.values():
        for key, array in layer.weights.items():
            if key in ("gamma", "beta", "bias"):
                array[...] = rng.normal(0, 0.3, array.shape) + (key == "gamma")
    x = rng.normal(size=(3, 2, 6, 6))
    probe = rng.normal(size=(3, 3))

    def loss() -> float:
        return float(np.sum(model.forward([x], training=True) * probe))

    out = model.forward([x], training=True).copy()
    model.backward(probe)
    grads = {
        f"{nid}/{key}": g.copy() for nid, layer in model.layers.items() for key, g in layer.grads.items()
    }
    for name in ("c1/kernel", "c1/bias", "bn/gamma", "c2/kernel", "out/kernel"):
        nid, key = name.split("/")
        assert relative_error(grads[name], numeric_gradient(loss, model.layers[nid].weights[key])) < 1e-6, (
            name
        )

    torch = pytest.importorskip("torch")
    import torch.nn.functional as F  # noqa: N812

    w = {name: torch.tensor(a.copy(), requires_grad=True) for name, a in model.named_weights().items()}
    h = F.conv2d(torch.tensor(x), w["c1/kernel"], w["c1/bias"], padding=1)
    h = F.batch_norm(h, None, None, w["bn/gamma"], w["bn/beta"], training=True, eps=1e-3)
    h = F.conv2d(torch.relu(h), w["c2/kernel"], w["c2/bias"], padding=1)
    h = torch.relu(h + torch.tensor(x)).mean(dim=(2, 3))
    expected = h @ w["out/kernel"] + w["out/bias"]
    (expected * torch.tensor(probe)).sum().backward()
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    for name, tensor in w.items():
        if tensor.grad is not None:
            np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


def test_a_residual_block_trains():
    network = residual_block("softmax")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 96)
    x = rng.normal(size=(96, 2, 6, 6)) + np.array([-1.0, 0.0, 1.0])[y][:, None, None, None]
    history = network.fit(x, y, epochs=20, batch_size=16, learning_rate=0.01)
    assert history["loss"][-1] < 0.5 * history["loss"][0]


# ------------------------------------------------------------------ batch-norm kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_agree_with_their_numpy_twins(dtype, affine):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 4, 10)) * 2 + 5).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    gamma = rng.normal(1, 0.3, 4).astype(dtype) if affine else np.empty(0, dtype)
    beta = rng.normal(0, 0.3, 4).astype(dtype) if affine else np.empty(0, dtype)
    results = []
    for suffix in ("", "_ref"):
        kernel = {
            n: getattr(kb, n + suffix) for n in ("moments", "normalize", "backward_sums", "backward_input")
        }
        mean, var, sum_g, sum_gx = (np.full(4, np.nan) for _ in range(4))
        kernel["moments"](x, mean, var)
        mean_t, inv_std = mean.astype(dtype), (1 / np.sqrt(var + 1e-3)).astype(dtype)
        out, grad_x = np.full_like(x, np.nan), np.full_like(x, np.nan)
        kernel["normalize"](x, mean_t, inv_std, gamma, beta, out)
        kernel["backward_sums"](x, g, mean_t, inv_std, sum_g, sum_gx)
        kernel["backward_input"](x, g, mean_t, inv_std, gamma, sum_g, sum_gx, grad_x)
        results.append((mean, var, out, sum_g, sum_gx, grad_x))
    tol = TOLERANCE[dtype]
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(results[0][0], x.astype(np.float64).mean(axis=(0, 2)), rtol=1e-12)
