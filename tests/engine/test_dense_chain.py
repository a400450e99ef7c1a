"""The general path's lean step for Dense chains: bit for bit the layer-by-layer step, and only
where it applies."""

from __future__ import annotations

import numpy as np
import pytest

import engine.training.runners.dense_chain
from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.callbacks import Callback
from engine.training.control import TrainingControl
from engine.training.runners.blas_chain import BlasChainRunner
from engine.training.runners.dense_chain import DenseChainRunner
from tests.engine.test_fused_path import PenaltyAt


def classifier(
    dtype="float64",
    hidden="relu",
    use_bias=True,
    loss="sparse_categorical_crossentropy",
    output="softmax",
    extra=None,
    **training,
) -> Network:
    spec = NetworkSpec(
        training={
            "loss": loss,
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "batch_size": 16,
            "epochs": 2,
            "seed": 3,
            "dtype": dtype,
            **training,
        }
    )
    spec.add_node("Input", {"shape": [5]}, node_id="in")
    spec.add_node("Dense", {"units": 40, "activation": hidden, "use_bias": use_bias}, node_id="h1")
    spec.add_node("Dense", {"units": 40, "activation": hidden}, node_id="h2")
    spec.add_node("Dense", {"units": 3, "activation": output, "use_bias": use_bias}, node_id="out")
    chain = ["in", "h1", "h2", "out"]
    if extra:
        spec.add_node(*extra, node_id="extra")
        chain.insert(2, "extra")
    for source, target in zip(chain, chain[1:], strict=False):
        spec.connect(source, target)
    return Network(spec)


def small_classifier() -> Network:
    """5-8-3 relu/softmax with Adam: small enough for the fused small-net path."""
    spec = NetworkSpec(
        training={
            "loss": "sparse_categorical_crossentropy",
            "batch_size": 16,
            "seed": 3,
            "optimizer": {"type": "adam"},
        }
    )
    spec.add_node("Input", {"shape": [5]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="h")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    return Network(spec)


def data(count=203, dense_targets=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 5))
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return x, (np.eye(3)[labels] if dense_targets else labels)


class SeesPlan(Callback):
    def on_train_begin(self, trainer):
        self.lean = isinstance(trainer.runner, DenseChainRunner)


def train(net, x, y, lean: bool, monkeypatch, callbacks=(), **kwargs):
    """Train on the general path (the fused BLAS-chain path would take these classifiers),
    with the lean step or, `lean` False, layer by layer."""
    monkeypatch.setattr(BlasChainRunner, "plan", classmethod(lambda cls, *a: None))
    if not lean:
        monkeypatch.setattr(
            engine.training.runners.dense_chain.DenseChainStep, "plan", classmethod(lambda cls, *a: None)
        )
    seen = SeesPlan()
    history = net.fit(x, y, callbacks=[seen, *callbacks], **kwargs)
    monkeypatch.undo()
    return history, seen.lean


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("hidden", "use_bias", "dense_targets", "shuffle"),
    [
        ("relu", True, False, True),
        ("tanh", True, True, True),
        ("elu", False, False, False),
        ("sigmoid", True, True, False),
    ],
)
def test_the_lean_step_equals_the_layer_by_layer_step_bit_for_bit(
    dtype, hidden, use_bias, dense_targets, shuffle, monkeypatch
):
    x, y = data(dense_targets=dense_targets)  # 162 to train: 11 batches, the last of 2
    loss = "categorical_crossentropy" if dense_targets else "sparse_categorical_crossentropy"
    runs = []
    for lean in (True, False):
        net = classifier(dtype, hidden, use_bias, loss, shuffle=shuffle)
        history, used = train(net, x, y, lean, monkeypatch, validation_split=0.2)
        assert used == lean
        runs.append((net.get_weights(), history, net.model.trainable()[1], net.history.batch_losses))
    (w_lean, h_lean, g_lean, b_lean), (w_layers, h_layers, g_layers, b_layers) = runs
    for a, b in [*zip(w_lean, w_layers, strict=True), *zip(g_lean, g_layers, strict=True)]:
        assert a.dtype == np.dtype(dtype) and np.array_equal(a, b)
    assert h_lean.keys() == h_layers.keys() and {"accuracy", "val_accuracy"} <= set(h_lean)
    for key in h_lean:
        assert h_lean[key] == h_layers[key], key
    assert b_lean == b_layers and len(b_lean) == 2 * 11


@pytest.mark.parametrize(
    "change",
    [
        {"extra": ("Dropout", {"rate": 0.1})},
        {"extra": ("BatchNormalization", {})},
        {"loss": "mse", "output": "linear"},
        {"loss": "sparse_categorical_crossentropy", "output": "linear"},  # loss not fused with the output
        {"hidden": "softmax"},
        {"clip_norm": 1.0},
    ],
)
def test_the_lean_step_is_used_only_where_it_computes_the_same(change, monkeypatch):
    clip = change.pop("clip_norm", None)
    net = classifier(**change, **({"clip_norm": clip} if clip else {}))
    x, y = data(dense_targets=change.get("loss") == "mse")
    _, used = train(net, x, y, True, monkeypatch)
    assert used is (clip is not None)  # clipping acts on the gradients after the step: still lean
    penalised = classifier()
    penalised.spec.nodes["h2"].params["kernel_l2"] = 0.01
    _, used = train(Network(penalised.spec), *data(), True, monkeypatch)
    assert used is False


def test_a_live_weight_penalty_leaves_the_lean_step_from_the_next_batch(monkeypatch):
    x, y = data()
    runs = []
    for lean in (True, False):
        net = classifier()
        control = TrainingControl()
        history, used = train(
            net, x, y, lean, monkeypatch, control=control, callbacks=[PenaltyAt(control, 5, "h2")]
        )
        assert used == lean and net.model.layers["h2"].params["kernel_l2"] == 0.05
        runs.append((net.get_weights(), net.history.batch_losses))
    for a, b in zip(runs[0][0], runs[1][0], strict=True):
        assert np.array_equal(a, b)
    assert runs[0][1] == runs[1][1]
