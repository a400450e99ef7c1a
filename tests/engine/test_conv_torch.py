"""Conv2D against PyTorch's conv2d (an explicit F.pad for TensorFlow's asymmetric 'same'): the
forward, the gradients and one full training step with SGD and Adam, within 1e-10 in float64 and
1e-5 in float32."""

from __future__ import annotations

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCES = {"float64": 1e-10, "float32": 1e-5}
GEOMETRIES = [  # kernel, strides, padding, dilation
    ([3, 3], [1, 1], "valid", [1, 1]),
    ([3, 2], [2, 1], "same", [1, 1]),  # odd total pads: one more zero at the bottom/right
    ([2, 3], [2, 2], "same", [2, 1]),
    ([3, 3], [1, 2], "valid", [2, 2]),
]


def network(dtype: str, kernel, strides, padding, dilation, optimizer: dict) -> engine.Network:
    spec = engine.NetworkSpec(
        training={
            "loss": "sparse_categorical_crossentropy",
            "optimizer": optimizer,
            "batch_size": 6,
            "epochs": 1,
            "shuffle": False,
            "dtype": dtype,
            "seed": 3,
        }
    )
    conv = {"kernel_size": kernel, "strides": strides, "padding": padding, "dilation_rate": dilation}
    spec.add_node("Input", {"shape": [2, 9, 8]}, node_id="in")
    spec.add_node("Conv2D", {"filters": 4, **conv, "activation": "relu", "kernel_l2": 0.01}, node_id="conv")
    spec.add_node("Flatten", {}, node_id="flat")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for a, b in (("in", "conv"), ("conv", "flat"), ("flat", "out")):
        spec.connect(a, b)
    net = engine.Network(spec)
    bias = net.model.layers["conv"].weights["bias"]
    bias[...] = np.random.default_rng(4).normal(0, 0.1, bias.shape)
    return net


def torch_forward(layer, x, kernel, bias):
    """PyTorch's conv2d of x with the layer's geometry: TensorFlow's pads through F.pad first."""
    h, w = layer.axes
    x = F.pad(x, (w.pad_before, w.pad_after, h.pad_before, h.pad_after))
    return F.conv2d(x, kernel, bias, stride=(h.stride, w.stride), dilation=(h.dilation, w.dilation))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize(
    "optimizer", [{"type": "sgd", "learning_rate": 0.1}, {"type": "adam", "learning_rate": 0.01}]
)
def test_forward_and_one_training_step_match_torch(dtype, geometry, optimizer):
    net = network(dtype, *geometry, optimizer)
    layer = net.model.layers["conv"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 9, 8)).astype(dtype)
    y = rng.integers(0, 3, 6)
    tol = TOLERANCES[dtype]
    start = {
        key: torch.tensor(arr.copy(), requires_grad=True) for key, arr in net.model.named_weights().items()
    }

    conv_out = layer.forward([x], training=False, rng=rng)
    with torch.no_grad():
        expected = torch_forward(layer, torch.from_numpy(x), start["conv/kernel"], start["conv/bias"]).relu()
    np.testing.assert_allclose(conv_out, expected.numpy(), atol=tol, rtol=tol)

    def loss_fn():
        z = torch_forward(layer, torch.from_numpy(x), start["conv/kernel"], start["conv/bias"]).relu()
        logits = z.flatten(1) @ start["out/kernel"] + start["out/bias"]
        return F.cross_entropy(logits, torch.from_numpy(y)) + 0.01 * start["conv/kernel"].square().sum()

    params = list(start.values())
    opt = (
        torch.optim.SGD(params, lr=0.1)
        if optimizer["type"] == "sgd"
        else torch.optim.Adam(params, lr=0.01, eps=1e-7)
    )
    opt.zero_grad()
    loss_fn().backward()
    opt.step()
    net.fit(x, y)
    for key, arr in net.model.named_weights().items():
        assert arr.dtype == np.dtype(dtype)
        np.testing.assert_allclose(arr, start[key].detach().numpy(), atol=tol, rtol=tol, err_msg=key)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_input_gradient_matches_torch(geometry):
    net = network("float64", *geometry, {"type": "sgd"})
    layer = net.model.layers["conv"]
    layer.needs_input_grad = True  # (the model skips it for a layer reading an Input)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2, 9, 8))
    out = layer.forward([x], training=True, rng=rng)
    probe = rng.normal(size=out.shape)
    (grad_x,) = layer.backward(probe)
    xt = torch.tensor(x, requires_grad=True)
    kernel = torch.tensor(layer.weights["kernel"], requires_grad=True)
    bias = torch.tensor(layer.weights["bias"], requires_grad=True)
    (torch_forward(layer, xt, kernel, bias).relu() * torch.from_numpy(probe)).sum().backward()
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(
        layer.grads["kernel"] - 0.02 * layer.weights["kernel"], kernel.grad.numpy(), atol=1e-12
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_convolution_as_output_trains_through_the_fused_loss(dtype):
    """Sigmoid + binary cross-entropy on a Conv2D's own output: the trainer reads the
    pre-activation (a channels-first view of the product layout) and hands back its gradient."""
    spec = engine.NetworkSpec(
        training={
            "loss": "binary_crossentropy",
            "optimizer": {"type": "sgd", "learning_rate": 0.5},
            "batch_size": 5,
            "epochs": 1,
            "shuffle": False,
            "dtype": dtype,
        }
    )
    spec.add_node("Input", {"shape": [2, 6, 5]}, node_id="in")
    conv = {
        "filters": 3,
        "kernel_size": [3, 2],
        "strides": [2, 1],
        "padding": "same",
        "activation": "sigmoid",
    }
    spec.add_node("Conv2D", conv, node_id="conv")
    spec.connect("in", "conv")
    net = engine.Network(spec)
    layer = net.model.layers["conv"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 6, 5)).astype(dtype)
    y = (rng.random((5, *layer.output_shape_)) > 0.5).astype(dtype)
    kernel = torch.tensor(layer.weights["kernel"].copy(), requires_grad=True)
    bias = torch.tensor(layer.weights["bias"].copy(), requires_grad=True)
    logits = torch_forward(layer, torch.from_numpy(x), kernel, bias)
    F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y)).backward()
    net.fit(x, y)
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        layer.weights["kernel"], (kernel - 0.5 * kernel.grad).detach().numpy(), atol=tol
    )
    np.testing.assert_allclose(layer.weights["bias"], (bias - 0.5 * bias.grad).detach().numpy(), atol=tol)
