"""The trainer tries its runners in one order and trains with the first that accepts; a layer
type no fused runner knows is declined by every fused planner and trained by the general runner."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
from engine._kernels import blas
from engine.examples import list_examples
from engine.layers import Layer
from engine.losses import get_loss
from engine.optimizers import get_optimizer
from engine.registry import LAYERS
from engine.training.callbacks import Callback
from engine.training.runners.base import TrainingSetup
from engine.training.runners.blas_chain import BlasChainRunner
from engine.training.runners.dense_chain import DenseChainRunner
from engine.training.runners.general import GeneralRunner
from engine.training.runners.order import RUNNERS, choose_runner
from engine.training.runners.small_net import SmallNetRunner


class Gain(Layer):
    """y = x · gain: one learned factor per feature of a 1-D sample."""

    name = "RunnersTestGain"
    group = "Test"
    description = "Multiplies each feature by a learned factor"

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[tuple[int, ...]]) -> dict:
        return {"gain": (input_shapes[0][-1],)}

    def initialize(self, rng: np.random.Generator) -> None:
        self.weights["gain"][...] = rng.uniform(0.5, 1.5, self.weights["gain"].shape)

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        self.x = inputs[0]
        return self.x * self.weights["gain"]

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        self.grads["gain"][...] = (grad_out * self.x).sum(axis=0)
        return [grad_out * self.weights["gain"]]


@pytest.fixture
def gain_type():
    """Gain, registered for one test (the registry has no public way back: only tests need it)."""
    LAYERS.register(Gain)
    try:
        yield Gain
    finally:
        del LAYERS._entries[Gain.name]


def gain_network(gain: bool = True) -> engine.Network:
    """Input(3) -> Dense(6, tanh) -> Gain -> Dense(1); without the Gain, a chain the small-net
    runner takes."""
    spec = engine.NetworkSpec(
        training={"loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.02}, "batch_size": 20}
    )
    spec.add_node("Input", {"shape": [3]}, node_id="x")
    spec.add_node("Dense", {"units": 6, "activation": "tanh"}, node_id="hidden")
    spec.add_node("Dense", {"units": 1}, node_id="y")
    spec.connect("x", "hidden")
    if gain:
        spec.add_node(Gain.name, {}, node_id="gain")
        spec.connect("hidden", "gain")
        spec.connect("gain", "y")
    else:
        spec.connect("hidden", "y")
    return engine.Network(spec)


def regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    return x, (np.sin(x[:, :1]) + 0.5 * x[:, 1:2]).astype(np.float32)


def setup_of(net: engine.Network) -> TrainingSetup:
    training = net.training
    return TrainingSetup(
        net.model,
        get_loss(training.loss.type, **training.loss.params),
        get_optimizer(training.optimizer.type, **training.optimizer.params),
        training.batch_size,
        training.clip_norm,
    )


class RunnerSeen(Callback):
    def on_train_begin(self, trainer):
        self.runner = trainer.runner


def test_a_layer_type_no_fused_runner_knows_trains_on_the_general_runner(gain_type):
    net = gain_network()
    x, y = regression_data()
    setup = setup_of(net)
    prepared = net.model.prepare_inputs(x)
    assert [cls.plan(setup, prepared, y) for cls in RUNNERS[:-1]] == [None] * (len(RUNNERS) - 1)
    assert type(choose_runner(setup, prepared, y)) is GeneralRunner
    before = net.evaluate(x, y)["loss"]
    start = net.model.layers["gain"].weights["gain"].copy()
    seen = RunnerSeen()
    history = net.fit(x, y, epochs=30, callbacks=[seen])
    assert type(seen.runner) is GeneralRunner and net.last_path == "general"
    assert history["loss"][-1] < history["loss"][0] and net.evaluate(x, y)["loss"] < 0.5 * before
    assert not np.array_equal(net.model.layers["gain"].weights["gain"], start)
    # Without the Gain layer the same chain goes to the small-net runner: it is the layer that
    # every fused planner declined.
    plain = gain_network(gain=False)
    assert type(choose_runner(setup_of(plain), plain.model.prepare_inputs(x), y)) is SmallNetRunner


def record_plans(monkeypatch) -> list[type]:
    """The runner classes whose `plan` the trainer calls, in the order it calls them."""
    tried: list[type] = []
    for cls in RUNNERS:

        def plan(klass, setup, x, y, original=cls.plan, cls=cls):
            tried.append(cls)
            return original(setup, x, y)

        monkeypatch.setattr(cls, "plan", classmethod(plan))
    return tried


def example(name: str) -> engine.Network:
    return engine.load(next(e.path for e in list_examples() if e.path.name == name))


def batch_norm_network() -> engine.Network:
    spec = engine.NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "batch_size": 16})
    spec.add_node("Input", {"shape": [4]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="h")
    spec.add_node("BatchNormalization", {}, node_id="bn")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for source, target in (("in", "h"), ("h", "bn"), ("bn", "out")):
        spec.connect(source, target)
    return engine.Network(spec)


@pytest.mark.parametrize(
    ("case", "expected", "path"),
    [
        ("xor", SmallNetRunner, "fused small net"),
        ("mnist", BlasChainRunner, "fused BLAS chain"),
        ("mnist clipped", DenseChainRunner, "general"),  # the fused runners take no clipping
        ("batch norm", GeneralRunner, "general"),
    ],
)
def test_runners_are_tried_in_order_and_the_first_that_accepts_trains(case, expected, path, monkeypatch):
    if expected is BlasChainRunner and not blas.AVAILABLE:
        pytest.skip("NumPy's BLAS is not an ILP64 OpenBLAS found next to NumPy: no BLAS-chain runner")
    rng = np.random.default_rng(1)
    overrides = {}
    if case == "xor":
        net = example("xor.json")
        x = rng.uniform(-1, 1, size=(64, 2))
        y = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    elif case == "batch norm":
        net = batch_norm_network()
        x, y = rng.normal(size=(64, 4)), rng.integers(0, 3, 64)
    else:
        net = example("mnist_mlp.json")
        x, y = rng.random((64, 784)), rng.integers(0, 10, 64)
        overrides = {"clip_norm": 1.0} if case == "mnist clipped" else {}
    tried = record_plans(monkeypatch)
    seen = RunnerSeen()
    net.fit(x, y, epochs=1, callbacks=[seen], **overrides)
    assert tried == list(RUNNERS[: RUNNERS.index(expected) + 1])
    assert type(seen.runner) is expected and net.last_path == path


def test_after_a_live_change_the_runner_in_use_carries_on_unless_it_declines():
    """The rule of the mid-epoch hand-off: the runner in use, if it still accepts, else the next
    one in order that does; a new epoch starts again from the first runner."""
    net = example("xor.json")
    x = net.model.prepare_inputs(np.random.default_rng(2).uniform(-1, 1, size=(40, 2)))
    y = np.zeros((40, 1))
    setup = setup_of(net)
    small = choose_runner(setup, x, y)
    assert type(small) is SmallNetRunner
    net.model.layers["out"].params["kernel_l2"] = 0.05  # a penalty: no fused runner computes it
    general = choose_runner(setup, x, y, in_use=small)
    assert type(general) is GeneralRunner and type(choose_runner(setup, x, y)) is GeneralRunner
    net.model.layers["out"].params["kernel_l2"] = 0.0
    assert type(choose_runner(setup, x, y, in_use=general)) is GeneralRunner
    assert type(choose_runner(setup, x, y)) is SmallNetRunner
