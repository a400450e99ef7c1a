"""Pooling and ZeroPadding2D: kernels against their NumPy twins, gradients against central
differences (float64), forward and backward against PyTorch (1e-10 float64, 1e-5 float32)."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine._kernels import pooling as k
from engine.errors import GraphError
from engine.layers.reshaping import zero_pads
from engine.registry import LAYERS, resolve_params
from tests.engine.gradcheck import numeric_gradient, relative_error

DTYPES = (np.float32, np.float64)
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}

# (pool_size, strides, padding, input (C, H, W)): square and not, overlapping (3 / 2), odd
# "same" totals (the extra row / column at the bottom / right), a window as large as the input.
WINDOWS = [
    ((2,), None, "valid", (2, 6, 6)),
    ((2,), None, "valid", (2, 7, 5)),
    ((2,), None, "same", (2, 7, 5)),
    ((3,), (2,), "valid", (2, 7, 7)),
    ((3,), (2,), "same", (2, 8, 6)),
    ((3, 2), (1, 2), "same", (3, 5, 6)),
    ((2, 3), (1,), "valid", (1, 4, 5)),
    ((3,), (1,), "same", (1, 4, 4)),
    ((4, 5), None, "valid", (2, 4, 5)),
]


def make(type_name: str, params: dict, shape: tuple[int, ...], dtype=np.float64):
    cls = LAYERS.get(type_name)
    return cls("pool", resolve_params(cls, params, type_name), [shape], dtype)


def window_params(case) -> dict:
    pool, strides, padding, _ = case
    return {
        "pool_size": list(pool),
        "strides": None if strides is None else list(strides),
        "padding": padding,
    }


# ---------------------------------------------------------------------- kernels and twins
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", WINDOWS)
def test_kernels_agree_with_their_numpy_twins(case, dtype):
    layer = make("MaxPooling2D", window_params(case), case[3])
    rng = np.random.default_rng(0)
    # integers: many ties, so both must keep the first maximum of each window
    x = rng.integers(-3, 4, size=(3, *case[3])).astype(dtype)
    out_shape = (3, *layer.image_out)
    g = rng.normal(size=out_shape).astype(dtype)
    results = []
    for suffix in ("", "_ref"):
        kernel = {
            name: getattr(k, name + suffix)
            for name in ("max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward")
        }
        out, argmax, mean = (
            np.empty(out_shape, dtype),
            np.empty(out_shape, np.int32),
            np.empty(out_shape, dtype),
        )
        grad_max, grad_avg = np.full(x.shape, np.nan, dtype), np.full(x.shape, np.nan, dtype)
        kernel["max_pool"](x, *layer.window, out, argmax)
        kernel["max_pool_backward"](g, argmax, grad_max)
        kernel["avg_pool"](x, *layer.window, mean)
        kernel["avg_pool_backward"](g, *layer.window, grad_avg)
        results.append((out, argmax, grad_max, mean, grad_avg))
    (o1, a1, gm1, m1, ga1), (o2, a2, gm2, m2, ga2) = results
    assert np.array_equal(o1, o2) and np.array_equal(a1, a2)
    tol = TOLERANCE[dtype]
    for got, want in ((gm1, gm2), (m1, m2), (ga1, ga2)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "padding"),
    [
        *(((2, 3, 6, 6), "valid"), ((2, 3, 7, 5), "valid"), ((1, 1, 2, 3), "valid")),
        *(((2, 3, 6, 6), "same"), ((2, 3, 7, 5), "same"), ((1, 2, 1, 1), "same"), ((2, 2, 5, 8), "same")),
    ],
)
def test_two_by_two_kernels_agree_with_the_general_ones_and_their_twins(shape, padding, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # ties: the first maximum wins
    # "valid": a last odd row / column unused; "same": a last window holding it alone
    rounding = (lambda n: n // 2) if padding == "valid" else (lambda n: (n + 1) // 2)
    out_shape = (*shape[:2], rounding(shape[2]), rounding(shape[3]))
    g = rng.normal(size=out_shape).astype(dtype)
    results = []
    for pool, pool_backward, avg, avg_backward in (
        (k.max_pool_2x2, k.max_pool_backward, k.avg_pool_2x2, k.avg_pool_2x2_backward),
        (k.max_pool_2x2_ref, k.max_pool_backward_ref, k.avg_pool_2x2_ref, k.avg_pool_2x2_backward_ref),
        (
            lambda x, o, a: k.max_pool(x, 2, 2, 2, 2, 0, 0, o, a),
            k.max_pool_backward,
            lambda x, o: k.avg_pool(x, 2, 2, 2, 2, 0, 0, o),
            lambda g, gx: k.avg_pool_backward(g, 2, 2, 2, 2, 0, 0, gx),
        ),
    ):
        out, argmax, mean = (
            np.empty(out_shape, dtype),
            np.empty(out_shape, np.int32),
            np.empty(out_shape, dtype),
        )
        grad_max, grad_avg = np.full(x.shape, np.nan, dtype), np.full(x.shape, np.nan, dtype)
        pool(x, out, argmax)
        pool_backward(g, argmax, grad_max)
        avg(x, mean)
        avg_backward(g, grad_avg)
        results.append((out, argmax, grad_max, mean, grad_avg))
    tol = TOLERANCE[dtype]
    for other in results[1:]:
        for got, want in zip(results[0], other, strict=True):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_layers_use_the_two_by_two_kernels_for_two_by_two_windows_at_stride_two():
    assert make("MaxPooling2D", {}, (3, 26, 26), np.float32)._pool is k.max_pool_2x2
    assert make("AveragePooling2D", {}, (3, 11, 11), np.float32)._pool is k.avg_pool_2x2
    assert make("MaxPooling2D", {"padding": "same"}, (3, 11, 11), np.float32)._pool is k.max_pool_2x2
    assert make("AveragePooling2D", {"strides": [1]}, (3, 4, 4), np.float32)._pool is k.avg_pool
    assert make("MaxPooling2D", {"pool_size": [2, 3]}, (3, 4, 6), np.float32)._pool is k.max_pool


def test_max_pooling_keeps_the_first_maximum_and_lets_nan_win():
    x = np.array([[[[1.0, 5.0, 5.0, 0.0], [5.0, 2.0, np.nan, 9.0]]]])
    out, argmax = np.empty((1, 1, 1, 2)), np.empty((1, 1, 1, 2), np.int32)
    k.max_pool(x, 2, 2, 2, 2, 0, 0, out, argmax)
    assert out[0, 0, 0, 0] == 5.0 and argmax[0, 0, 0, 0] == 1  # the first 5 of (1, 5, 5, 2)
    assert np.isnan(out[0, 0, 0, 1]) and argmax[0, 0, 0, 1] == 6
    # at column stride 1 (its own loop): windows (1, 5 | 5, 2), (5, 5 | 2, nan), (5, 0 | nan, 9)
    out, argmax = np.empty((1, 1, 1, 3)), np.empty((1, 1, 1, 3), np.int32)
    k.max_pool(x, 2, 2, 1, 1, 0, 0, out, argmax)
    assert out[0, 0, 0, 0] == 5.0 and np.isnan(out[0, 0, 0, 1:]).all()
    assert argmax[0, 0, 0].tolist() == [1, 6, 6]
    # a window of -inf only: its first real position, as PyTorch
    x = np.full((1, 1, 2, 3), -np.inf)
    for strides, where in (((1, 1), [0, 0]), ((2, 2), [0, 1])):  # one column of pad at the left
        out, argmax = np.empty((1, 1, 1, 2)), np.empty((1, 1, 1, 2), np.int32)
        k.max_pool(x, 2, 2, *strides, 0, 1, out, argmax)
        assert np.isneginf(out).all() and argmax[0, 0, 0].tolist() == where


# --------------------------------------------------------------------------- gradients
def check_gradients(layer, shape, rng):
    x = rng.normal(size=(2, *shape))  # continuous values: no ties within a window
    probe = rng.normal(size=(2, *layer.output_shape_))

    def loss() -> float:
        return float(np.sum(layer.forward([x], training=True, rng=rng) * probe))

    loss()
    (analytic,) = layer.backward(probe)
    assert relative_error(analytic, numeric_gradient(loss, x)) < 1e-6


@pytest.mark.parametrize("type_name", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("case", WINDOWS)
def test_pooling_gradients_match_central_differences(type_name, case):
    check_gradients(make(type_name, window_params(case), case[3]), case[3], np.random.default_rng(0))


@pytest.mark.parametrize(
    ("type_name", "params", "shape"),
    [
        ("GlobalAveragePooling2D", {}, (3, 4, 5)),
        ("GlobalMaxPooling2D", {}, (3, 4, 5)),
        ("MaxPooling1D", {"pool_size": [3], "strides": [2], "padding": "same"}, (2, 8)),
        ("MaxPooling1D", {"pool_size": [2]}, (3, 7)),
        ("ZeroPadding2D", {"padding": "0, 1, 2, 3"}, (2, 3, 4)),
        ("ZeroPadding2D", {"padding": "1"}, (1, 2, 2)),
    ],
)
def test_other_gradients_match_central_differences(type_name, params, shape):
    check_gradients(make(type_name, params, shape), shape, np.random.default_rng(0))


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    ("type_name", "params", "shape", "out"),
    [
        ("MaxPooling2D", {}, (32, 26, 26), (32, 13, 13)),
        ("MaxPooling2D", {"padding": "same"}, (1, 7, 7), (1, 4, 4)),
        ("AveragePooling2D", {"pool_size": [3], "strides": [2]}, (4, 7, 9), (4, 3, 4)),
        ("GlobalAveragePooling2D", {}, (8, 5, 5), (8,)),
        ("GlobalMaxPooling2D", {}, (8, 1, 1), (8,)),
        ("MaxPooling1D", {"pool_size": [4]}, (3, 10), (3, 2)),
        ("ZeroPadding2D", {"padding": "1, 2"}, (3, 4, 4), (3, 6, 8)),
    ],
)
def test_output_shapes(type_name, params, shape, out):
    cls = LAYERS.get(type_name)
    assert cls.output_shape(resolve_params(cls, params, "p"), [shape], "p") == out


def test_a_pool_larger_than_its_input_says_so():
    cls = LAYERS.get("MaxPooling2D")
    params = resolve_params(cls, {"pool_size": [3]}, "MaxPooling2D 'p1'")
    with pytest.raises(GraphError, match=r"'p1': the window \(3, 3\) is larger than the input \(2, 2\)"):
        cls.output_shape(params, [(4, 2, 2)], "MaxPooling2D 'p1'")


@pytest.mark.parametrize("type_name", ["MaxPooling2D", "GlobalAveragePooling2D", "ZeroPadding2D"])
def test_a_flat_input_asks_for_an_image(type_name):
    cls = LAYERS.get(type_name)
    with pytest.raises(
        GraphError, match=r"'p': \w+ expects an image \(channels, height, width\), got \(784,\)"
    ):
        cls.output_shape(resolve_params(cls, {}, "'p'"), [(784,)], "'p'")


def test_zero_padding_reads_one_two_or_four_numbers():
    assert zero_pads("2", "z") == (2, 2, 2, 2)
    assert zero_pads("1, 2", "z") == (1, 1, 2, 2)
    assert zero_pads("(0, 1), (2, 3)", "z") == (0, 1, 2, 3)
    for bad in ("1, 2, 3", "-1", "a", ""):
        with pytest.raises(GraphError, match="padding expects 1, 2 or 4 whole numbers"):
            zero_pads(bad, "z")


def test_buffers_are_reused_between_batches_of_one_size():
    layer = make("MaxPooling2D", {}, (2, 4, 4), np.float32)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 4, 4)).astype(np.float32)
    first = layer.forward([x], training=True, rng=rng)
    grad = layer.backward(np.ones_like(first))[0]
    assert np.shares_memory(layer.forward([x * 2], training=True, rng=rng), first)
    assert np.shares_memory(layer.backward(np.ones_like(first))[0], grad)
    assert not np.shares_memory(layer.forward([x[:3]], training=True, rng=rng), first)


# -------------------------------------------------------------------------- PyTorch
def torch_reference(type_name: str, params: dict, x, torch, F):  # noqa: N803
    """The layer written with torch.nn.functional: explicit pads (-inf for max; for the average
    window sums divided by the count of real values) where 'same' is unequal."""
    if type_name == "GlobalAveragePooling2D":
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
    if type_name == "GlobalMaxPooling2D":
        return F.adaptive_max_pool2d(x, 1).flatten(1)
    if type_name == "ZeroPadding2D":
        top, bottom, left, right = zero_pads(params["padding"], "z")
        return F.pad(x, (left, right, top, bottom))
    layer = make(type_name, params, tuple(x.shape[1:]))
    axes = layer._spatial()
    size, stride = [a.kernel for a in axes], [a.stride for a in axes]
    pads = [p for a in reversed(axes) for p in (a.pad_before, a.pad_after)]
    if type_name == "MaxPooling1D":
        return F.max_pool1d(F.pad(x, pads, value=float("-inf")), size, stride)
    if type_name == "MaxPooling2D":
        return F.max_pool2d(F.pad(x, pads, value=float("-inf")), size, stride)
    total = F.avg_pool2d(F.pad(x, pads), size, stride, divisor_override=1)
    count = F.avg_pool2d(F.pad(torch.ones_like(x), pads), size, stride, divisor_override=1)
    return total / count


TORCH_CASES = [
    *(("MaxPooling2D", window_params(c), c[3]) for c in WINDOWS),
    *(("AveragePooling2D", window_params(c), c[3]) for c in WINDOWS),
    ("GlobalAveragePooling2D", {}, (3, 5, 4)),
    ("GlobalMaxPooling2D", {}, (3, 5, 4)),
    ("MaxPooling1D", {"pool_size": [3], "strides": [2], "padding": "same"}, (2, 10)),
    ("ZeroPadding2D", {"padding": "0, 1, 2, 1"}, (2, 3, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("type_name", "params", "shape"), TORCH_CASES)
def test_forward_and_backward_match_pytorch(type_name, params, shape, dtype):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F  # noqa: N812

    rng = np.random.default_rng(0)
    # integer-valued inputs: ties inside windows, so the gradient must go where PyTorch's goes
    x = rng.integers(-4, 5, size=(3, *shape)).astype(dtype) + (rng.normal(size=(3, *shape)) * 0.01).round(1)
    x = x.astype(dtype)
    probe = rng.normal(size=(3, *make(type_name, params, shape).output_shape_)).astype(dtype)
    layer = make(type_name, params, shape, dtype)
    out = layer.forward([x], training=True, rng=rng).copy()
    (grad,) = layer.backward(probe)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch_reference(type_name, params, tx, torch, F)
    (expected * torch.tensor(probe)).sum().backward()
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol)
    assert out.dtype == dtype and grad.dtype == dtype


@pytest.mark.parametrize(
    ("type_name", "params", "label"),
    [
        ("MaxPooling2D", {}, "MaxPooling2D 2×2"),
        ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, "MaxPooling2D 3×3 /2 · same"),
        ("AveragePooling2D", {"pool_size": [2, 3], "strides": [1, 2]}, "AveragePooling2D 2×3 /1×2"),
        ("MaxPooling1D", {"pool_size": 4, "strides": 4}, "MaxPooling1D 4"),
        ("ZeroPadding2D", {"padding": "0, 1, 0, 1"}, "ZeroPadding2D 0, 1, 0, 1"),
    ],
)
def test_canvas_labels(type_name, params, label):
    cls = LAYERS.get(type_name)
    assert cls.describe(resolve_params(cls, params, type_name)) == label


@pytest.mark.parametrize("suffix", [".json", ".ncv"])
def test_padding_and_pooling_parameters_round_trip_in_network_files(suffix, tmp_path):
    spec = engine.NetworkSpec()
    spec.add_node("Input", {"shape": [2, 5, 5]}, node_id="image")
    spec.add_node("ZeroPadding2D", {"padding": "0, 1, 2, 3"}, node_id="pad")
    spec.add_node("AveragePooling2D", {"pool_size": [3, 2], "strides": 2, "padding": "same"}, node_id="pool")
    spec.connect("image", "pad")
    spec.connect("pad", "pool")
    network = engine.Network(spec)
    engine.save(network, tmp_path / f"net{suffix}")
    loaded = engine.load(tmp_path / f"net{suffix}")
    for nid in ("pad", "pool"):
        assert loaded.spec.nodes[nid].params == network.spec.nodes[nid].params
    assert loaded.model.shapes["pool"] == network.model.shapes["pool"] == (2, 3, 5)
