"""A layer type registered from outside the engine works everywhere a built-in one does: the
palette lists it, network files keep it, training trains it (on the general runner: the fused
ones do not know it), the three exports reproduce its predictions and the ONNX import reads it
back.

The type is written here only, as docs/architecture.md "Adding a layer type" describes: the
class with its shape, weights, forward/backward and export forms. Nothing else in the app
names it."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import engine
from engine.export import check_export, export_network, import_onnx
from engine.layers import Layer
from engine.registry import LAYERS
from tests.engine.test_export_cases import TOLERANCE, load_module


class Scale(Layer):
    """y = x · kernel: one learned factor per feature of a 1-D sample. Its array is a "kernel",
    so weight decay (AdamW) applies to it as to every layer's kernel."""

    name = "Scale"
    group = "Test"
    description = "Multiplies each feature by a learned factor"

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[tuple[int, ...]]) -> dict:
        return {"kernel": (input_shapes[0][-1],)}

    def initialize(self, rng: np.random.Generator) -> None:
        self.weights["kernel"][...] = rng.uniform(0.5, 1.5, self.weights["kernel"].shape)

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        self.x = inputs[0]
        return self.x * self.weights["kernel"]

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        self.grads["kernel"][...] = (grad_out * self.x).sum(axis=0)
        return [grad_out * self.weights["kernel"]]

    def to_onnx(self, g, args, out, weights):
        return g.add("Mul", [args[0], g.tensor(f"{out}/kernel", weights["kernel"])], out, out)

    onnx_ops = ("Mul",)

    @classmethod
    def from_onnx(cls, reader, node):
        x, factors = node.input
        kernel = reader.constant(factors)
        if kernel is None or kernel.ndim != 1 or not reader.known(x):
            raise reader.unsupported(node)
        reader.add_layer("Scale", {}, [x], node.output[0], {"kernel": kernel}, rank=reader.rank(x))

    def to_torch(self, m, args):
        features = self.weights["kernel"].shape[0]
        scale = m.module(f"nn.ParameterDict({{'kernel': nn.Parameter(torch.ones({features}))}})")
        m.state("kernel", self.weights["kernel"].copy(), decayed=True)
        return f"{args[0]} * {scale}['kernel']"

    def to_numpy(self, s, args):
        return f"{args[0]} * {s.weight('kernel')}"


@pytest.fixture
def scale_type():
    """Scale, registered for one test (the registry has no public way back: only tests need it)."""
    LAYERS.register(Scale)
    try:
        yield Scale
    finally:
        del LAYERS._entries[Scale.name]


def _network(optimizer: str = "adam") -> engine.Network:
    spec = engine.NetworkSpec(
        training={"loss": "mse", "optimizer": {"type": optimizer, "learning_rate": 0.02}}
    )
    spec.add_node("Input", {"shape": [3]}, node_id="x")
    spec.add_node("Dense", {"units": 6, "activation": "tanh"}, node_id="hidden")
    spec.add_node("Scale", {}, node_id="gain")
    spec.add_node("Dense", {"units": 1}, node_id="y")
    spec.connect("x", "hidden")
    spec.connect("hidden", "gain")
    spec.connect("gain", "y")
    return engine.Network(spec)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    return x, (np.sin(x[:, :1]) + 0.5 * x[:, 1:2]).astype(np.float32)


def test_the_palette_lists_it_in_its_group(scale_type):
    palette = pytest.importorskip("gui.palette", reason="the palette needs PySide6")
    assert scale_type in palette.layer_groups()["Test"]


def test_a_network_file_keeps_it_and_its_weights(scale_type, tmp_path):
    network = _network()
    network.fit(*_data(), epochs=1)
    engine.save(network, tmp_path / "scaled.ncv")
    loaded = engine.load(tmp_path / "scaled.ncv")
    assert loaded.spec.nodes["gain"].type == "Scale"
    np.testing.assert_array_equal(
        loaded.model.layers["gain"].weights["kernel"], network.model.layers["gain"].weights["kernel"]
    )


def test_the_general_runner_trains_it(scale_type):
    network = _network()
    x, y = _data()
    before = network.evaluate(x, y)["loss"]
    start = network.model.layers["gain"].weights["kernel"].copy()
    network.fit(x, y, epochs=30, batch_size=20)
    assert network.last_path == "general"  # the fused runners declined the network
    assert network.evaluate(x, y)["loss"] < 0.5 * before
    assert not np.array_equal(network.model.layers["gain"].weights["kernel"], start)


def test_every_export_predicts_what_predict_does_and_onnx_reads_back(scale_type, tmp_path):
    network = _network()
    x, y = _data()
    network.fit(x, y, epochs=2)
    for fmt in ("onnx", "pytorch", "python"):
        check_export(network, fmt)
    expected = network.predict(x)

    ort = pytest.importorskip("onnxruntime", reason="checking the ONNX file needs onnxruntime")
    export_network(network, "onnx", tmp_path / "scaled.onnx")
    session = ort.InferenceSession(str(tmp_path / "scaled.onnx"), providers=["CPUExecutionProvider"])
    assert np.max(np.abs(session.run(None, {"x": x})[0] - expected)) <= TOLERANCE

    network_back = import_onnx(tmp_path / "scaled.onnx")
    assert network_back.spec.nodes["gain"].type == "Scale"
    assert np.max(np.abs(network_back.predict(x) - expected)) <= TOLERANCE

    export_network(network, "python", tmp_path / "scaled_numpy.py")
    script = load_module(tmp_path / "scaled_numpy.py", "new_layer_numpy_script")
    assert np.max(np.abs(script.predict(x) - expected)) <= TOLERANCE

    torch = pytest.importorskip("torch", reason="running the PyTorch export needs torch")
    export_network(network, "pytorch", tmp_path / "pkg")
    model = load_module(tmp_path / "pkg" / "model.py", "new_layer_pytorch_model").load_model()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(got - expected)) <= TOLERANCE


def test_adamw_in_the_pytorch_training_script_decays_its_kernel(scale_type, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="running the PyTorch export needs torch")
    network = _network("adamw")
    pkg = tmp_path / "pkg"
    export_network(network, "pytorch", pkg)
    monkeypatch.syspath_prepend(str(pkg))  # train.py imports model and data_sources beside it
    try:
        train = load_module(pkg / "train.py", "new_layer_train")
        train.OPTIMIZER["weight_decay"] = 0.1
        decayed, other = train.make_optimizer(train.load_model(), 0.01).param_groups
    finally:
        for name in ("model", "data_sources"):
            sys.modules.pop(name, None)
    # NetCanvas decays every "kernel" (engine/model.py): the Dense kernels (weight = kernel.T)
    # and the Scale's; the biases are not decayed.
    kernels = [network.model.layers[nid].weights["kernel"] for nid in ("hidden", "gain", "y")]
    assert decayed["weight_decay"] == 0.1 and other["weight_decay"] == 0.0
    got = [p.detach().numpy() for p in decayed["params"]]
    assert len(got) == 3
    for param, kernel in zip(got, kernels, strict=True):
        np.testing.assert_array_equal(param, kernel.T)
    assert len(other["params"]) == 2
