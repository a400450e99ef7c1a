"""The Numba kernels index their arrays without bounds checks, so each Python caller checks what
the loops rely on (shapes, index ranges, buffer sizes); and the kernel tests pass with Numba's
bounds checking on, so no kernel reads or writes outside an array on the tested paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.graph import NetworkSpec
from engine.losses import get_loss
from engine.network import Network
from engine.optimizers import get_optimizer
from engine.training.monitor import TrainingMonitor
from engine.training.runners.base import TrainingSetup
from engine.training.runners.blas_chain import BlasChainRunner
from engine.training.runners.dense_chain import DenseChainStep
from engine.training.runners.small_net import SmallNetRunner

ROOT = Path(__file__).resolve().parents[2]
KERNEL_TESTS = [
    "tests/engine/test_activations.py",
    "tests/engine/test_losses.py",
    "tests/engine/test_optimizers.py",
    "tests/engine/test_monitor.py",
    "tests/engine/test_dense_chain.py",
    "tests/engine/test_blas_chain.py",
    "tests/engine/test_fused_path.py",
    "tests/engine/test_small_net_kernels.py",
    "tests/engine/test_api_checks.py",
    "tests/engine/test_conv_kernels.py",
    "tests/engine/test_conv_pool.py",
    "tests/engine/test_kernel_parts.py",
    "tests/engine/test_conv.py",
    "tests/engine/test_pooling.py",
    "tests/engine/test_image_tensors.py",
    "tests/engine/test_kernels_boundscheck.py",
]
"""Every test file that runs the kernels in engine/_kernels (directly or through their callers)."""


def chain(hidden: int, classes: int = 3, features: int = 4) -> Network:
    spec = NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "batch_size": 8})
    spec.add_node("Input", {"shape": [features]}, node_id="in")
    spec.add_node("Dense", {"units": hidden, "activation": "relu"}, node_id="h")
    spec.add_node("Dense", {"units": classes, "activation": "softmax"}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    return Network(spec)


def small_path(count: int = 20) -> tuple[SmallNetRunner, np.ndarray, np.ndarray]:
    net = chain(8)
    model = net.model
    loss = get_loss("sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(count, 4)).astype(model.dtype), rng.integers(0, 3, count)
    path = SmallNetRunner.plan(TrainingSetup(model, loss, get_optimizer("adam"), 8), [x], y)
    assert path is not None
    return path, x, y


def test_fused_data_needs_a_row_per_sample_and_class_ids_in_range():
    path, x, y = small_path()
    xs, targets = path.kernel_data(x, y)
    assert xs.shape == (20, 4) and targets[1].shape == (20,)
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 3\)"):
        path.kernel_data(x, np.where(y == 0, 3, y))
    with pytest.raises(ValueError, match="x must be C-contiguous float32 \\(20, 4\\)"):
        path.kernel_data(x[:, :3], y)
    with pytest.raises(ValueError, match="class ids must be C-contiguous int64 \\(20,\\)"):
        path.check_data(x, path.targets(y[:5]))


def test_a_fused_call_checks_order_batches_and_outputs():
    path, x, y = small_path()
    xs, targets = path.kernel_data(x, y)
    order = np.arange(20, dtype=np.int64)
    preds = np.empty((20, 3), np.float32)
    assert len(path.run(xs, targets, order, 0, 3, 0.01, preds)) == 3  # 20 samples: 3 batches of 8
    with pytest.raises(ValueError, match="sample order must lie in"):
        path.run(xs, targets, np.where(order == 5, 20, order), 0, 1, 0.01, preds)
    with pytest.raises(ValueError, match="not in the epoch's 3 batches"):
        path.run(xs, targets, order, 2, 2, 0.01, preds)
    with pytest.raises(ValueError, match="order must be C-contiguous int64 \\(20,\\)"):
        path.run(xs, targets, order[:19], 0, 1, 0.01, preds)
    with pytest.raises(ValueError, match="preds must be C-contiguous float32 \\(20, 3\\)"):
        path.run(xs, targets, order, 0, 1, 0.01, preds[:10])


def test_a_multi_epoch_call_checks_every_epochs_buffers():
    path, x, y = small_path()
    xs, targets = path.kernel_data(x, y)
    epochs, dtype = 2, np.float32
    orders = np.tile(np.arange(20, dtype=np.int64), (epochs, 1))
    args = dict(
        learning_rates=np.full(epochs, 0.01),
        x_val=xs[:5],
        preds=np.empty((epochs, 20, 3), dtype),
        losses=np.empty((epochs, 3)),
        val_preds=np.empty((epochs, 5, 3), dtype),
        epoch_start=np.empty_like(path.model.weight_buffer),
    )
    assert path.train_epochs(xs, targets, orders, **args) == epochs * 3
    bad_orders = orders.copy()
    bad_orders[1, 7] = -1
    with pytest.raises(ValueError, match="sample orders must lie in"):
        path.train_epochs(xs, targets, bad_orders, **args)
    with pytest.raises(ValueError, match="val_preds must be"):
        path.train_epochs(xs, targets, orders, **{**args, "val_preds": np.empty((epochs, 4, 3), dtype)})
    with pytest.raises(ValueError, match="losses must be"):
        path.train_epochs(xs, targets, orders, **{**args, "losses": np.empty((epochs, 2))})
    with pytest.raises(ValueError, match="x_val must be"):
        path.train_epochs(xs, targets, orders, **{**args, "x_val": np.zeros((5, 3), dtype)})


def test_fused_predict_checks_inputs_and_outputs():
    path, x, _ = small_path()
    assert path.predict(x, np.empty((20, 3), np.float32)).shape == (20, 3)
    with pytest.raises(ValueError, match="out must be"):
        path.predict(x, np.empty((19, 3), np.float32))
    with pytest.raises(ValueError, match="x must be"):
        path.predict(x[:, :2], np.empty((20, 3), np.float32))


def test_the_blas_chain_checks_its_data():
    net = chain(64, classes=10, features=32)
    model = net.model
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 32)).astype(np.float32), rng.integers(0, 10, 40)
    loss = get_loss("sparse_categorical_crossentropy")
    path = BlasChainRunner.plan(TrainingSetup(model, loss, get_optimizer("sgd"), 8), [x], y)
    assert path is not None
    xs, targets = path.kernel_data(x, y)
    order, preds = np.arange(40, dtype=np.int64), np.empty((40, 10), np.float32)
    assert len(path.run(xs, targets, order, 0, 5, 0.01, preds)) == 5
    with pytest.raises(ValueError, match="class ids must lie in"):
        path.kernel_data(x, np.full(40, 10))
    with pytest.raises(ValueError, match="not in the epoch's 5 batches"):
        path.run(xs, targets, order, 4, 2, 0.01, preds)


def test_the_lean_dense_step_checks_targets_once_and_rows_each_step():
    model = chain(8).model
    loss = get_loss("sparse_categorical_crossentropy")
    x = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 3\)"):
        DenseChainStep.plan(model, loss, [x], np.full(10, 7, np.int64))
    with pytest.raises(ValueError, match="do not fit the network"):
        DenseChainStep.plan(model, loss, [x], np.zeros(9, np.int64))
    step = DenseChainStep.plan(model, loss, [x], np.zeros(10, np.int64))
    assert step is not None
    with pytest.raises(ValueError, match="10 samples but 4 targets"):
        step.step(x, np.zeros(4, np.int64))


def test_the_monitor_checks_its_probe_batch():
    model = chain(8).model
    with pytest.raises(ValueError, match="monitor: x is empty"):
        TrainingMonitor(model, np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"monitor: x must be shaped \(N, 4\)"):
        TrainingMonitor(model, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="feature_pair"):
        TrainingMonitor(model, np.zeros((5, 4)), feature_pair=(0, 4))


@pytest.mark.parametrize("label", [3, -1, 10**6])
def test_the_sparse_loss_kernel_refuses_class_ids_outside_its_columns(label):
    """The public Loss methods reach the kernel without the trainer's target check."""
    loss = get_loss("sparse_categorical_crossentropy")
    z = np.zeros((2, 3), np.float32)
    assert loss.forward_from_logits(z, np.array([0, 2])) == pytest.approx(np.log(3))
    with pytest.raises(IndexError, match="class id is outside"):
        loss.backward_from_logits(z, np.array([0, label]))


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("NETCANVAS_BOUNDSCHECK") != "1" or os.environ.get("NUMBA_BOUNDSCHECK") == "1",
    reason="about a minute of compiling: a CI step of its own (.ci/run sets NETCANVAS_BOUNDSCHECK=1)",
)
def test_kernel_tests_pass_with_numba_bounds_checking(tmp_path):
    """The kernel tests in a subprocess with NUMBA_BOUNDSCHECK=1: an index outside an array
    raises IndexError there instead of reading stray memory. Numba caches into tmp_path, so the
    normal cache keeps its unchecked kernels. Every kernel compiles afresh with the checks (~45 s
    alone on 2 cores, minutes on a busy machine), so the default suite skips this and CI runs it as a step before the suite."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *KERNEL_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
