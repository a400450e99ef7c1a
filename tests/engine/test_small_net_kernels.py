"""The small-net kernels against their NumPy twins and the general forward: prediction rows,
the fused tanh, a training chunk, bias + activation and column sums, History's batch appends."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from engine._kernels import activations as KA
from engine._kernels import small_net as KS
from engine._kernels import small_net_forward as KF
from engine.losses import get_loss
from engine.optimizers import get_optimizer
from engine.training.callbacks import MAX_BATCH_LOSSES, History
from engine.training.runners.base import TrainingSetup
from engine.training.runners.small_net import SmallNetRunner
from tests.engine.test_fused_path import data, small_net


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", [("softmax", 3), ("sigmoid", 1), ("elu", 2), ("tanh", 2)])
def test_predict_rows_matches_its_twin_and_the_general_forward(output, dtype):
    act, outputs = output
    loss = {"softmax": "sparse_categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(act, "mse")
    net = small_net({"type": "adam"}, loss, act, outputs, dtype=np.dtype(dtype).name, act="relu")
    x = np.random.default_rng(4).normal(size=(37, 2)).astype(dtype)
    path = SmallNetRunner.plan(TrainingSetup(net.model, get_loss(loss), get_optimizer("adam"), 8), [x], None)
    fused, twin = np.empty((37, outputs), dtype), np.empty((37, outputs), dtype)
    KF.predict_rows(net.model.weight_buffer, path.layers, path.alphas, x, path.z, path.a, fused)
    KF.predict_rows_ref(net.model.weight_buffer, path.layers, path.alphas, x, path.z, path.a, twin)
    general = net.model.forward([x], training=False)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(fused, twin, **tol)
    np.testing.assert_allclose(fused, general, **tol)


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 2e-14), (np.float32, 5e-7)])
def test_the_fused_tanh_matches_numpy_from_tiny_to_saturated_values(dtype, rtol):
    """Both of its forms (series below 1/16, exp above), the switch point, signs and zero."""
    magnitudes = np.concatenate(
        [np.logspace(-30, 1.5, 4001), [0.0625, np.nextafter(0.0625, 0), 0.0, 20.0, 400.0]]
    )
    v = np.concatenate([magnitudes, -magnitudes]).astype(dtype)

    @njit
    def fused(values, two):
        return np.array([KF.fused_tanh(x, two) for x in values])

    np.testing.assert_allclose(fused(v, dtype(2.0)), np.tanh(v.astype(np.float64)), rtol=rtol, atol=0)


def test_append_batches_equals_appending_one_by_one():
    rng = np.random.default_rng(1)
    one, bulk = History(), History()
    for size in (7, 3 * MAX_BATCH_LOSSES // 2, 1, 12_345, MAX_BATCH_LOSSES):
        values = rng.random(size).tolist()
        for v in values:
            one.append_batch(v)
        bulk.append_batches(values)
        assert (one.batch_losses, one.batch_stride, one.steps) == (
            bulk.batch_losses,
            bulk.batch_stride,
            bulk.steps,
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "loss", ["mse", "binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy"]
)
@pytest.mark.parametrize("optimizer", [{"type": "sgd", "momentum": 0.9}, {"type": "adam"}])
def test_train_batches_matches_its_numpy_twin(loss, optimizer, dtype):
    output, outputs = {"mse": ("elu", 2), "binary_crossentropy": ("sigmoid", 1)}.get(loss, ("softmax", 3))
    x, y = data(loss, outputs, count=57)
    x = x.astype(dtype)
    y = y if loss == "sparse_categorical_crossentropy" else y.astype(dtype)
    runs = []
    for kernel in (KS.train_batches, KS.train_batches_ref):
        net = small_net(optimizer, loss, output, outputs, dtype=np.dtype(dtype).name, act="relu")
        model, opt = (
            net.model,
            get_optimizer(optimizer["type"], **{k: v for k, v in optimizer.items() if k != "type"}),
        )
        path = SmallNetRunner.plan(TrainingSetup(model, get_loss(loss), opt, 8), [x], y)
        slabs = opt.slabs(model.trainable()[0])
        slots = (slabs["m"], slabs["v"]) if "m" in slabs else (slabs["momentum"], slabs["momentum"][:0])
        order = np.random.default_rng(2).permutation(len(x)).astype(np.int64)
        preds, losses = np.zeros((len(x), outputs), dtype), np.zeros(7)
        done = kernel(
            model.weight_buffer,
            model.grad_buffer,
            *slots,
            path.layers,
            path.alphas,
            x,
            *path.targets(y),
            order,
            1,
            7,
            8,
            path.loss_code,
            path.opt_code,
            False,
            opt.constants_table(0.01, 7),
            path.z,
            path.a,
            path.delta,
            preds,
            losses,
        )
        runs.append((done, model.weight_buffer.copy(), preds, losses))
    tol = {"rtol": 2e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-12}
    assert runs[0][0] == runs[1][0] == 7
    for a, b in zip(runs[0][1:], runs[1][1:], strict=True):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", sorted(set(KA.ACT_CODES.values())))
def test_add_bias_act_and_column_sums_match_their_twins(code, dtype):
    rng = np.random.default_rng(code)
    z = rng.normal(size=(9, 5)).astype(dtype) * 3
    alpha = dtype(0.3)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for bias in (rng.normal(size=5).astype(dtype), np.empty(0, dtype)):
        z1, z2 = z.copy(), z.copy()
        out, ref = np.empty_like(z), np.empty_like(z)
        KA.add_bias_act(z1, bias, out, code, alpha)
        KA.add_bias_act_ref(z2, bias, ref, code, alpha)
        np.testing.assert_allclose(z1, z2, **tol)
        np.testing.assert_allclose(out, ref, **tol)
    sums, sums_ref = np.empty(5, dtype), np.empty(5, dtype)
    KA.column_sums(z, sums)
    KA.column_sums_ref(z, sums_ref)
    np.testing.assert_allclose(sums, sums_ref, **tol)
