"""The fused BLAS-chain path gives the general path's numbers, and only where it applies."""

from __future__ import annotations

import numpy as np
import pytest

from engine._kernels import blas
from engine._kernels import blas_chain as KB
from engine.errors import TrainingError
from engine.graph import NetworkSpec
from engine.losses import Loss, get_loss
from engine.network import Network
from engine.optimizers import get_optimizer
from engine.training.control import TrainingControl
from engine.training.runners.base import TrainingSetup
from engine.training.runners.blas_chain import MAX_BATCHES_PER_CALL, BlasChainRunner
from tests.engine.test_dense_chain import classifier, data, small_classifier
from tests.engine.test_fused_path import PenaltyAt, check_stop_and_single_steps, fit

pytestmark = pytest.mark.skipif(
    not blas.AVAILABLE,
    reason="NumPy's BLAS is not an ILP64 OpenBLAS found "
    "next to NumPy, so the fused BLAS-chain path is never chosen here",
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("transpose_a", "transpose_b"), [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize(("rows", "inner", "cols"), [(128, 784, 256), (7, 3, 2), (2, 300, 33)])
def test_matmul_from_numba_equals_np_matmul_bit_for_bit(dtype, transpose_a, transpose_b, rows, inner, cols):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(inner, rows) if transpose_a else (rows, inner)).astype(dtype)
    b = rng.normal(size=(cols, inner) if transpose_b else (inner, cols)).astype(dtype)
    out = np.empty((rows, cols), dtype)
    blas.matmul(a, b, out, transpose_a, transpose_b)
    expected = np.matmul(a.T if transpose_a else a, b.T if transpose_b else b)
    assert np.array_equal(out, expected)


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 2e-14), (np.float32, 5e-7)])
def test_bias_tanh_adds_the_bias_and_matches_numpys_tanh(dtype, rtol):
    rng = np.random.default_rng(2)
    z = (rng.normal(size=(9, 6)) * np.logspace(-9, 1.5, 6)).astype(dtype)
    bias = rng.normal(size=6).astype(dtype) * 1e-3
    expected_z = z + bias
    out = np.empty_like(z)
    KB.bias_tanh(z, bias, out)
    assert np.array_equal(z, expected_z)
    np.testing.assert_allclose(out, np.tanh(expected_z), rtol=rtol, atol=0)
    KB.bias_tanh(z, bias[:0], out)  # no bias: z stays
    assert np.array_equal(z, expected_z)


def test_float32_tanh_is_within_four_ten_millionths_everywhere_and_keeps_nan():
    x = np.linspace(-12, 12, 400_001, dtype=np.float32).reshape(1, -1)
    exact = np.tanh(x.astype(np.float64))
    out = np.empty_like(x)
    KB.bias_tanh(x.copy(), x[0, :0], out)
    assert np.max(np.abs(out - exact)) < 3.5e-7
    assert np.max(np.abs(out - exact)[exact != 0] / np.abs(exact[exact != 0])) < 3.5e-7
    special = np.array([[np.nan, np.inf, -np.inf, 0.0]], np.float32)
    KB.bias_tanh(special.copy(), special[0, :0], out[:, :4])
    assert np.isnan(out[0, 0]) and out[0, 1] == -out[0, 2] > 1 - 3.5e-7 and out[0, 3] == 0.0


def run(net, x, y, fused, monkeypatch, **kwargs):
    history, events, path = fit(net, x, y, fused, monkeypatch, epochs=3, validation_split=0.2, **kwargs)
    return history, events, path, net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "optimizer",
    [
        {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
        {"type": "adam", "learning_rate": 0.01},
    ],
)
@pytest.mark.parametrize(
    ("hidden", "use_bias", "dense_targets", "shuffle"),
    [
        ("relu", True, False, True),
        ("elu", False, True, True),
        ("sigmoid", True, False, False),
        ("tanh", True, False, True),
    ],
)
def test_the_fused_blas_chain_gives_the_general_paths_numbers(
    dtype, optimizer, hidden, use_bias, dense_targets, shuffle, monkeypatch
):
    """Same calls, same BLAS: bit for bit with SGD. Adam's update, compiled inside the kernel,
    may round its last bit differently, and tanh is the fused small-net path's in float64 and
    Eigen's rational function in float32 (NumPy's SIMD tanh has no twin inside Numba): within
    rounding there."""
    x, y = data(dense_targets=dense_targets)  # 162 to train: 11 batches of 16, the last of 2
    loss = "categorical_crossentropy" if dense_targets else "sparse_categorical_crossentropy"
    runs = []
    for fused in (None, False):
        net = classifier(dtype, hidden, use_bias, loss, shuffle=shuffle, optimizer=optimizer)
        runs.append(run(net, x, y, fused, monkeypatch))
    (h_fused, e_fused, p_fused, fused), (h_general, e_general, p_general, general) = runs
    assert (p_fused, p_general) == ("fused BLAS chain", "general")
    exact = optimizer["type"] == "sgd" and hidden != "tanh"
    rtol, atol = (1e-6, 1e-12) if dtype == "float64" else (2e-5, 1e-6)

    def same(a, b):
        if exact:
            assert np.array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)

    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        assert a.dtype == np.dtype(dtype)
        same(a, b)
    for a, b in zip(fused.model.trainable()[1], general.model.trainable()[1], strict=True):
        same(a, b)  # the last batch's gradients
    for key, value in fused.optimizer.state().items():
        same(value, general.optimizer.state()[key])
    assert h_fused.keys() == h_general.keys() and {"accuracy", "val_accuracy"} <= set(h_fused)
    for key in h_fused:
        same(np.array(h_fused[key]), np.array(h_general[key]))
    assert [e[:3] + e[4:] for e in e_fused] == [e[:3] + e[4:] for e in e_general] and len(e_fused) == 3 * 11
    same(np.array([e[3] for e in e_fused]), np.array([e[3] for e in e_general]))


def path_of(net, x, y, monkeypatch, **kwargs) -> str:
    return fit(net, x, y, None, monkeypatch, epochs=1, **kwargs)[2]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "fused BLAS chain"),
        ({"hidden": "tanh"}, "fused BLAS chain"),
        ({"optimizer": {"type": "rmsprop"}}, "general"),
        ({"optimizer": {"type": "adam", "amsgrad": True}}, "general"),
        ({"clip_norm": 1.0}, "general"),
        ({"extra": ("Dropout", {"rate": 0.1})}, "general"),
        ({"extra": ("Dense", {"units": 1, "activation": "relu"})}, "general"),  # np.matmul's gemv case
        ({"loss": "mse", "output": "linear"}, "general"),
    ],
)
def test_the_fused_blas_chain_is_chosen_only_where_it_computes_the_same(change, expected, monkeypatch):
    net = classifier(**change)
    x, y = data(dense_targets=change.get("loss") == "mse")
    assert path_of(net, x, y, monkeypatch) == expected


def test_small_networks_stay_on_the_fused_small_net_path(monkeypatch):
    assert path_of(small_classifier(), *data(), monkeypatch) == "fused small net"


def test_calls_are_sized_by_work_so_stop_lands_soon_on_any_network():
    sizes = {}
    for name, (inputs, hidden) in {"mnist": (784, (256, 128)), "wide": (784, (1024, 1024))}.items():
        spec = NetworkSpec(
            training={
                "loss": "sparse_categorical_crossentropy",
                "batch_size": 128,
                "seed": 0,
                "dtype": "float32",
                "optimizer": {"type": "adam"},
            }
        )
        spec.add_node("Input", {"shape": [inputs]}, node_id="in")
        previous = "in"
        for i, units in enumerate(hidden):
            spec.add_node("Dense", {"units": units, "activation": "relu"}, node_id=f"h{i}")
            spec.connect(previous, f"h{i}")
            previous = f"h{i}"
        spec.add_node("Dense", {"units": 10, "activation": "softmax"}, node_id="out")
        spec.connect(previous, "out")
        net = Network(spec)
        x = [np.zeros((256, inputs), np.float32)]
        path = BlasChainRunner.plan(
            TrainingSetup(net.model, _loss(), get_optimizer("adam"), 128), x, np.zeros(256, np.int64)
        )
        sizes[name] = path.batches_per_call
    assert sizes == {"mnist": 16, "wide": 2}


def _loss() -> Loss:
    return get_loss("sparse_categorical_crossentropy")


def test_stop_lands_between_calls_and_single_steps_run_one_batch():
    net = classifier(batch_size=1)
    x, y = data(count=3000)
    plan = BlasChainRunner.plan(
        TrainingSetup(net.model, _loss(), get_optimizer("adam"), 1), [x.astype(net.model.dtype)], y
    )
    assert plan.batches_per_call == MAX_BATCHES_PER_CALL
    check_stop_and_single_steps(net, x, y, plan.batches_per_call)


def test_a_diverging_loss_ends_as_on_the_general_path(monkeypatch):
    x, y = data()
    runs = []
    for fused in (None, False):
        net = classifier(hidden="linear", optimizer={"type": "sgd", "learning_rate": 1e4})
        with pytest.raises(TrainingError) as info, np.errstate(all="ignore"):
            fit(net, 1000 * x, y, fused, monkeypatch, epochs=3)
        runs.append((net, str(info.value)))
    (fused, message), (general, general_message) = runs
    assert message == general_message and "learning rate" in message
    assert fused.history.steps == general.history.steps
    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        assert np.isfinite(a).all() and np.array_equal(a, b)


def test_a_live_weight_penalty_moves_training_to_the_general_path(monkeypatch):
    x, y = data()
    runs = []
    for fused in (None, False):
        net = classifier()
        control = TrainingControl()
        control.step(10_000)  # one batch per kernel call, so the change lands on the next batch
        history, events, path = fit(
            net, x, y, fused, monkeypatch, epochs=2, control=control, callbacks=[PenaltyAt(control, 5, "h2")]
        )
        assert path == "general" and net.model.layers["h2"].params["kernel_l2"] == 0.05
        runs.append((net, events))
    (fused, e_fused), (general, e_general) = runs
    assert [e[:3] for e in e_fused] == [e[:3] for e in e_general] and len(e_fused) == 2 * 13
    np.testing.assert_allclose([e[3] for e in e_fused], [e[3] for e in e_general], rtol=1e-6)
    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
