"""A convolution trained together with the max pooling that alone reads it (engine/layers/
conv_pool.py): the kernels against their NumPy twins, which pairs a model forms, and training
with the pairs against the same training with the layers apart."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine._kernels import activations as act
from engine._kernels import blas
from engine._kernels import conv_pool as k
from engine.errors import GraphError
from engine.examples import example_path
from engine.layers.window_geometry import windows
from tests.engine.test_conv_kernels import kernel_geometry

pytestmark = pytest.mark.skipif(
    not blas.AVAILABLE, reason="NumPy's BLAS is not reachable from Numba here: no pairs"
)

# conv (input (C, H, W), kernel, strides, dilation, padding); pool (size, strides, padding)
CASES = [
    (((1, 9, 9), (3, 3), (1, 1), (1, 1), "valid"), ((2, 2), (2, 2), "valid")),  # 7x7 -> 3x3: a row left
    (((2, 8, 7), (3, 2), (1, 1), (1, 2), "same"), ((2, 2), (2, 2), "same")),  # the last window half out
    (((2, 7, 7), (3, 3), (2, 1), (1, 1), "same"), ((3, 3), (2, 2), "same")),  # overlapping, padded
    (((1, 6, 8), (2, 2), (1, 1), (1, 1), "valid"), ((2, 3), (1, 1), "valid")),  # stride 1 columns
]
CODES = [act.RELU, act.TANH, act.SIGMOID, act.LINEAR]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("chunk", "with_bias", "want_x"), [(2, True, True), (5, False, False)])
def test_kernels_match_their_twins(case, code, dtype, chunk, with_bias, want_x):
    conv, (size, strides, padding) = case
    args = kernel_geometry(*conv)
    shape, (kh, kw, *_, oh, ow) = conv[0], args
    ph, pw = windows((oh, ow), size, strides, (1, 1), padding, "test")
    window = (ph.kernel, pw.kernel, ph.stride, pw.stride, ph.pad_before, pw.pad_before)
    pairs = window == (2, 2, 2, 2, 0, 0)
    samples, filters, taps = 5, 3, shape[0] * kh * kw
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, *shape)).astype(dtype)
    kernel = rng.normal(size=(filters, taps)).astype(dtype)
    bias = rng.normal(size=filters).astype(dtype) if with_bias else np.empty(0, dtype)
    grad_pooled = rng.normal(size=(samples, filters, ph.out, pw.out)).astype(dtype)
    alpha = dtype(0)
    rtol = 1e-5 if dtype == np.float32 else 1e-12

    def run(forward, backward):
        pooled = np.full((samples, filters, ph.out, pw.out), np.nan, dtype)
        argmax = np.full(pooled.shape, -1, np.int32)
        cols = np.full(taps * chunk * oh * ow, np.nan, dtype)
        z = np.full(filters * chunk * oh * ow, np.nan, dtype)
        best = np.full(filters * chunk * ph.out * pw.out, np.nan, dtype)
        where = np.full(best.shape, -1, np.int32)
        forward(
            x, kernel, bias, pooled, argmax, cols, z, best, where, chunk, code, alpha, *args, *window, pairs
        )
        kernel_sum, chunk_kernel = np.full((taps, filters), np.nan, dtype), np.empty((taps, filters), dtype)
        bias_sum = np.ones(bias.shape, dtype)  # added to
        grad_x = np.full((samples if want_x else 0, *shape), np.nan, dtype)
        backward(x, pooled, argmax, grad_pooled, kernel, grad_x, kernel_sum, chunk_kernel, bias_sum, cols, z, chunk, code, alpha, *args)  # fmt: skip
        return pooled, argmax, kernel_sum, bias_sum, grad_x

    got = run(k.pooled_forward_range, k.pooled_backward_range)
    expected = run(k.pooled_forward_range_ref, k.pooled_backward_range_ref)
    np.testing.assert_array_equal(got[1], expected[1])  # the same maxima
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def _network(conv_activation="relu", pool=None, dtype="float64", second_reader=False, conv1d=False):
    """Input -> Conv (L2) -> MaxPool -> Conv 'same' (L1) -> MaxPool 3/2 'same' (overlapping) ->
    Flatten -> Dense softmax; `second_reader` adds a Flatten of the first convolution joined to the features."""
    spec = engine.NetworkSpec(
        training={"loss": "sparse_categorical_crossentropy", "batch_size": 7, "seed": 3, "dtype": dtype}
    )
    add = spec.add_node
    pool_type = "MaxPooling1D" if conv1d else "MaxPooling2D"
    conv_type = "Conv1D" if conv1d else "Conv2D"
    add("Input", {"shape": [2, 20] if conv1d else [2, 11, 10]}, node_id="image")
    conv_1 = {"filters": 4, "kernel_size": [3], "activation": conv_activation, "kernel_l2": 0.01}
    add(conv_type, conv_1, node_id="conv_1")
    add(pool or pool_type, {"pool_size": [2]}, node_id="pool_1")
    add(
        conv_type,
        {"filters": 5, "kernel_size": [3], "padding": "same", "activation": "tanh", "kernel_l1": 0.001},
        node_id="conv_2",
    )
    add(pool_type, {"pool_size": [3], "strides": [2], "padding": "same"}, node_id="pool_2")
    add("Flatten", {}, node_id="flat")
    add("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    links = [("image", "conv_1"), ("conv_1", "pool_1"), ("pool_1", "conv_2"), ("conv_2", "pool_2")]
    links += [("pool_2", "flat")]
    if second_reader:
        add("Flatten", {}, node_id="flat_1")
        add("Concatenate", {"axis": -1}, node_id="features")
        links += [("conv_1", "flat_1"), ("flat_1", "features"), ("flat", "features"), ("features", "out")]
    else:
        links += [("flat", "out")]
    for a, b in links:
        spec.connect(a, b)
    return engine.Network(spec)


def _train(network, paired: bool):
    if not paired:
        network.model.conv_pools = {}
    rng = np.random.default_rng(0)
    shape = network.model.input_shape()
    y = rng.integers(0, 3, 35)
    x = rng.normal(size=(35, *shape)) + y.reshape(-1, *([1] * len(shape)))
    history = network.fit(x, y, epochs=2)
    return network.get_weights(), history["loss"]


@pytest.mark.parametrize("conv1d", [False, True])
@pytest.mark.parametrize(("activation", "dtype"), [("relu", "float32"), ("relu", "float64"), ("sigmoid", "float64"), ("linear", "float32")])  # fmt: skip
def test_training_with_the_pairs_matches_training_the_layers_apart(activation, dtype, conv1d):
    """2 epochs of 5 batches: the same losses and weights within rounding (pool_2's windows
    overlap, and a position two windows share gets g1*d + g2*d paired, (g1 + g2)*d apart)."""
    paired = _network(activation, dtype=dtype, conv1d=conv1d)
    assert sorted(paired.model.conv_pools) == ["pool_1", "pool_2"]
    weights, losses = _train(paired, paired=True)
    apart_weights, apart_losses = _train(_network(activation, dtype=dtype, conv1d=conv1d), paired=False)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(losses, apart_losses, rtol=rtol)
    for a, b in zip(weights, apart_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def test_a_conv_read_elsewhere_or_with_an_unfit_partner_trains_apart():
    """Pairs need the pooling to be the convolution's only reader, a max pooling, and an
    activation whose derivative comes from the output."""
    assert sorted(_network().model.conv_pools) == ["pool_1", "pool_2"]
    assert sorted(_network(second_reader=True).model.conv_pools) == ["pool_2"]
    assert sorted(_network(conv_activation="elu").model.conv_pools) == ["pool_2"]
    assert sorted(_network(pool="AveragePooling2D").model.conv_pools) == ["pool_2"]
    network = _network(second_reader=True)
    weights, _ = _train(network, paired=True)
    assert all(np.isfinite(w).all() for w in weights)


def test_outside_training_the_layers_run_apart_and_show_their_own_outputs():
    """Prediction, the monitor and a trace see the convolution's own output; after a paired
    training step, a layer's own backward refuses to run on what it did not compute."""
    network = _network()
    _train(network, paired=True)
    model = network.model
    with pytest.raises(GraphError, match="backward needs"):
        model.layers["conv_1"].backward(np.zeros((7, *model.shapes["conv_1"])))
    with pytest.raises(GraphError, match="backward needs a forward of its own"):
        model.layers["pool_1"].backward(np.zeros((7, *model.shapes["pool_1"])))
    x = np.random.default_rng(1).normal(size=(4, *model.input_shape()))
    probabilities = network.predict(x)
    assert model.outputs["conv_1"].shape == (4, *model.shapes["conv_1"])
    conv_alone = model.layers["conv_1"].forward([x], training=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(model.outputs["conv_1"], conv_alone)
    trace = network.trace(x[:1], np.array([1]))
    nodes = {node.id: node for node in trace.nodes}
    np.testing.assert_allclose(nodes["conv_1"].output, conv_alone[0], rtol=1e-12)
    assert nodes["conv_1"].weight_grads["kernel"].shape == model.layers["conv_1"].weights["kernel"].shape
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_mnist_cnn_trains_bit_for_bit_as_with_the_layers_apart():
    """The example's 2 x 2 poolings never overlap: three Adam steps give the very same weights."""

    def train(paired: bool) -> list[np.ndarray]:
        network = engine.load(example_path("mnist_cnn"))
        if not paired:
            network.model.conv_pools = {}
        rng = np.random.default_rng(0)
        x = rng.random((3 * 64, 1, 28, 28), dtype=np.float32)
        network.fit(x, rng.integers(0, 10, len(x)), epochs=1, batch_size=64)
        return network.get_weights()

    for a, b in zip(train(paired=True), train(paired=False), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("conv", "pool"),
    [
        ({"kernel_size": [3]}, {"pool_size": [2]}),
        ({"kernel_size": [3, 2], "strides": [2, 1], "padding": "same"}, {"pool_size": [3], "strides": [2], "padding": "same"}),
    ],
)  # fmt: skip
def test_one_adam_step_through_a_pair_matches_pytorch(conv, pool, dtype):
    """Input (2, 9, 8) -> Conv2D relu -> MaxPooling2D -> Flatten -> Dense softmax, trained one
    step through the pair, against PyTorch's conv2d and max_pool2d (TensorFlow's pads by F.pad)."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    spec = engine.NetworkSpec(
        training={"loss": "sparse_categorical_crossentropy", "optimizer": {"type": "adam", "learning_rate": 0.01},
                  "batch_size": 6, "epochs": 1, "shuffle": False, "dtype": dtype, "seed": 3}
    )  # fmt: skip
    spec.add_node("Input", {"shape": [2, 9, 8]}, node_id="in")
    spec.add_node("Conv2D", {"filters": 4, "activation": "relu", **conv}, node_id="conv")
    spec.add_node("MaxPooling2D", pool, node_id="pool")
    spec.add_node("Flatten", {}, node_id="flat")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for a, b in (("in", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "out")):
        spec.connect(a, b)
    network = engine.Network(spec)
    model = network.model
    assert list(model.conv_pools) == ["pool"]
    model.layers["conv"].weights["bias"][...] = np.random.default_rng(4).normal(0, 0.1, 4)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2, 9, 8)).astype(dtype), rng.integers(0, 3, 6)
    start = {key: torch.tensor(a.copy(), requires_grad=True) for key, a in model.named_weights().items()}

    def pads(axes):
        return [p for axis in reversed(axes) for p in (axis.pad_before, axis.pad_after)]

    conv_layer, pool_layer = model.layers["conv"], model.layers["pool"]
    h, w = conv_layer.axes
    z = functional.conv2d(
        functional.pad(torch.from_numpy(x), pads(conv_layer.axes)), start["conv/kernel"], start["conv/bias"],
        stride=(h.stride, w.stride),
    ).relu()  # fmt: skip
    ph, pw = pool_layer.axes
    pooled = functional.max_pool2d(
        functional.pad(z, pads(pool_layer.axes), value=float("-inf")),
        (ph.kernel, pw.kernel),
        (ph.stride, pw.stride),
    )
    logits = pooled.flatten(1) @ start["out/kernel"] + start["out/bias"]
    optimizer = torch.optim.Adam(list(start.values()), lr=0.01, eps=1e-7)
    functional.cross_entropy(logits, torch.from_numpy(y)).backward()
    optimizer.step()
    network.fit(x, y)
    tol = 1e-10 if dtype == "float64" else 1e-5
    for key, array in model.named_weights().items():
        np.testing.assert_allclose(array, start[key].detach().numpy(), atol=tol, rtol=tol, err_msg=key)
