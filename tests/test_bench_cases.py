"""The benchmark cases (bench/cases.py) and what each implementation builds for them: the CNN
case's network, FLOPs and memory budget worked out by hand here, its PyTorch twin against
NetCanvas's predict, and the matrix products the matmul-only reference times. No benchmark runs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cases import CASES, Gemm, flops_per_step, gemms, memory_budget, stages
from bench.implementations import GemmOnly, build

CNN = CASES["mnist-cnn-f32"]


def test_the_cnn_case_is_the_issue_network():
    assert (CNN.image, CNN.convs, CNN.sizes) == ((1, 28, 28), ((32, 3, 2), (64, 3, 2)), (1600, 128, 10))
    assert (CNN.hidden, CNN.loss, CNN.optimizer, CNN.batch, CNN.dtype) == (
        "relu",
        "softmax_ce",
        "adam",
        64,
        "float32",
    )
    assert {"netcanvas", "torch", "matmul", "netcanvas-predict", "torch-predict"} <= set(CNN.implementations)
    assert "numpy" not in CNN.implementations
    x, y = CNN.data(quick=True)
    assert x.shape[1:] == (1, 28, 28) and x.dtype == np.float32 and y.max() < 10


def test_the_cnn_flops_are_its_multiply_adds_worked_out_by_hand():
    # 28x28 -> conv 3x3 -> 26x26x32 -> pool -> 13x13x32 -> conv 3x3 -> 11x11x64 -> pool -> 5x5x64
    conv1 = 26 * 26 * 32 * (1 * 3 * 3)  # 194,688 multiply-adds a sample
    conv2 = 11 * 11 * 64 * (32 * 3 * 3)  # 2,230,272
    dense1, dense2 = 1600 * 128, 128 * 10
    forward = conv1 + conv2 + dense1 + dense2
    assert forward == 2_631_040  # the issue's "~2.6 M multiply-adds a sample"
    # forward, weight gradients and input gradients; the first layer needs no input gradient
    assert flops_per_step(CNN) == 2 * 64 * (3 * forward - conv1)
    assert [s.out for s in stages(CNN)] == [26, 11] and [s.pooled for s in stages(CNN)] == [13, 5]
    assert gemms(CNN) == [
        Gemm(32, 9, 64 * 26 * 26, True),
        Gemm(64, 288, 64 * 11 * 11, True),
        Gemm(64, 1600, 128, False),
        Gemm(64, 128, 10, False),
    ]


def test_the_mlp_flops_and_budgets_keep_their_meaning():
    mnist = CASES["mnist-f32"]  # 784-256-128-10, batch 128
    assert flops_per_step(mnist) == 2 * 128 * (3 * (784 * 256 + 256 * 128 + 128 * 10) - 784 * 256)
    params = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert memory_budget(mnist) == {
        "params": params,
        "state": 2 * params,
        "activations": 128 * (784 + 256 + 128 + 10),
        "columns": 0,
    }
    assert memory_budget(CASES["playground-b1-f64"])["state"] == 0  # SGD keeps no state


def test_the_cnn_memory_budget_worked_out_by_hand():
    params = (32 * 9 + 32) + (64 * 288 + 64) + (1600 * 128 + 128) + (128 * 10 + 10)
    activations = 784 + 32 * 26 * 26 + 32 * 13 * 13 + 64 * 11 * 11 + 64 * 5 * 5 + 128 + 10
    # chunks of 512 KiB of columns + products: conv 1 (9 + 32) * 676 * 4 bytes a sample -> 4
    # samples; conv 2 (288 + 64) * 121 * 4 -> 3 samples. Each core keeps the largest of each.
    columns = max(4 * 9 * 676, 3 * 288 * 121) + max(4 * 32 * 676, 3 * 64 * 121)
    for cores in (1, 2):
        assert memory_budget(CNN, cores) == {
            "params": params,
            "state": 2 * params,
            "activations": 64 * activations,
            "columns": cores * columns,
        }


def test_the_matmul_reference_makes_the_step_products():
    x, y = CNN.data(quick=True)
    runner = GemmOnly(CNN, x, y)
    made = []
    for a, b, out, grad, grad_a, grad_b in runner.layers:
        assert a.shape[1] == b.shape[0] and out.shape == grad.shape == (a.shape[0], b.shape[1])
        made.append((a.shape[0], a.shape[1], b.shape[1], grad_a is not None, grad_b is not None))
    # the first convolution's columns need no gradient (its input is the data)
    assert made == [
        (32, 9, 43264, True, False),
        (64, 288, 7744, True, True),
        (64, 1600, 128, True, True),
        (64, 128, 10, True, True),
    ]
    runner.epoch()
    first = runner.layers[0]
    np.testing.assert_allclose(first[2], first[0] @ first[1], rtol=1e-5, atol=1e-4)


def test_the_torch_cnn_matches_netcanvas_predict_with_the_same_weights():
    torch = pytest.importorskip("torch")
    from bench.implementations import torch_model

    x, y = CNN.data(quick=True)
    ours = build("netcanvas", CNN, x, y).network
    model = torch_model(CNN)
    learned = [m for m in model if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    weights = ours.get_weights()
    assert len(weights) == 2 * len(learned)
    with torch.no_grad():
        for layer, kernel, bias in zip(learned, weights[::2], weights[1::2], strict=True):
            kernel = kernel if isinstance(layer, torch.nn.Conv2d) else kernel.T  # Dense: (in, out)
            assert tuple(layer.weight.shape) == kernel.shape and tuple(layer.bias.shape) == bias.shape
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(bias))
        theirs = torch.softmax(model(torch.from_numpy(x[:50])), dim=1).numpy()
    np.testing.assert_allclose(ours.predict(x[:50], batch_size=256), theirs, atol=1e-5)


def test_the_torch_cnn_starts_as_netcanvas_does():
    torch = pytest.importorskip("torch")
    from bench.implementations import torch_model

    model = torch_model(CNN)
    conv = model[3]  # the second convolution: fans 32*9 and 64*9
    limit = np.sqrt(6.0 / (32 * 9 + 64 * 9))
    largest = float(conv.weight.detach().abs().max())
    assert isinstance(conv, torch.nn.Conv2d) and 0.9 * limit < largest <= limit
    assert not conv.bias.any()
