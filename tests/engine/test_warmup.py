"""Network.warmup(): the kernels a run and the live views need are compiled (or loaded from the
cache) before Train, and the network is left untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.engine.test_fused_path import small_net


def test_warmup_compiles_without_touching_the_network():
    net = small_net({"type": "adam"}, "sparse_categorical_crossentropy", "softmax", 3)
    before = net.get_weights()
    seconds = net.warmup()
    assert seconds >= 0.0
    assert net.optimizer is None and net.history.epoch_count == 0
    for a, b in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


WARMED_THEN = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from numba.core.dispatcher import Dispatcher
import engine
from engine._kernels import activations, blas_chain, health, losses, optimizers, small_net, small_net_forward
from engine.training.monitor import TrainingMonitor
kernels = [v for m in (activations, blas_chain, health, losses, optimizers, small_net, small_net_forward)
           for v in vars(m).values() if isinstance(v, Dispatcher)]
net = engine.load(sys.argv[1] + "/resources/examples/spiral.json")
net.warmup()
before = [len(k.signatures) for k in kernels]
rng = np.random.default_rng(0)
if sys.argv[2] == "snapshot":
    TrainingMonitor(net.model, rng.random((50, 2))).snapshot()
else:
    x = rng.normal(size=(480, 2))
    net.fit(x, (x[:, 0] * x[:, 1] > 0).astype(np.float64), epochs=40, validation_split=0.2)
print(sorted(k.py_func.__name__ for k, n in zip(kernels, before) if len(k.signatures) != n))
"""


def _compiled_after_warmup(then: str) -> str:
    """The kernels compiled or loaded when, in a fresh process, the spiral example's warmup() is
    followed by a health snapshot ("snapshot") or a real run of 40 epochs ("training")."""
    root = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-c", WARMED_THEN, root, then], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_warmup_readies_the_multi_epoch_kernel_calls_too():
    """A small net's real run takes whole epochs per kernel call (`train_epochs`); warmup's one
    epoch alone did not, so on a cold cache Train waited seconds for that kernel to compile."""
    assert _compiled_after_warmup("training") == "[]"


def test_warmup_also_readies_the_live_views_forward_pass():
    """The spiral trains on the fused path; the GUI's snapshots run the layer-by-layer forward.
    Without warming that too, its kernels loaded on the training thread mid-run (~60 ms)."""
    assert _compiled_after_warmup("snapshot") == "[]"
