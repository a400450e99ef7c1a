"""An activation added by one class (tests/engine/new_activation.py, NumPy only) reaches every
place that uses activations: the choices, training, the three exports, the ONNX import and the
monitor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engine
from engine.export import export_network, import_onnx
from engine.registry import ACTIVATIONS, LAYERS
from engine.training.monitor import TrainingMonitor
from tests.engine.new_activation import ScaledSoftsign, registered

NAME = ScaledSoftsign.name
TOLERANCE = 1e-5  # float32, max abs difference (as tests/engine/test_export_cases.py)


def load_module(path: Path, name: str) -> ModuleType:
    """Import a generated Python file under a unique module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scaled_softsign():
    with registered(ScaledSoftsign) as cls:
        yield cls
    assert NAME not in ACTIVATIONS


def network(activation: str = NAME) -> engine.Network:
    """Input 2 -> Dense 8 (activation) -> Activation (activation) -> Dense 1 sigmoid."""
    spec = engine.NetworkSpec(training={"loss": "binary_crossentropy", "seed": 3})
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": activation}, (220, 0), node_id="hidden")
    spec.add_node("Activation", {"activation": activation}, (440, 0), node_id="squash")
    spec.add_node("Dense", {"units": 1, "activation": "sigmoid"}, (660, 0), node_id="out")
    for a, b in (("in", "hidden"), ("hidden", "squash"), ("squash", "out")):
        spec.connect(a, b)
    return engine.Network(spec)


def quadrants(count: int = 256) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).uniform(-2, 2, (count, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.float32)


def test_it_is_a_choice_of_every_layer_with_an_activation(scaled_softsign):
    for layer in ("Dense", "Activation"):
        spec = next(s for s in LAYERS.get(layer).param_specs if s.name == "activation")
        assert NAME in spec.allowed_choices()
    assert network().model.layers["hidden"].activation.name == NAME


def dense_chain(activation: str) -> engine.Network:
    """Input 2 -> Dense 8 (activation) -> Dense 1 sigmoid: a chain the fused runners take on."""
    spec = engine.NetworkSpec(training={"loss": "binary_crossentropy", "seed": 3})
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": activation}, node_id="hidden")
    spec.add_node("Dense", {"units": 1, "activation": "sigmoid"}, node_id="out")
    spec.connect("in", "hidden")
    spec.connect("hidden", "out")
    return engine.Network(spec)


@pytest.mark.parametrize("make", [network, dense_chain])
def test_the_general_runner_trains_it(scaled_softsign, make):
    x, y = quadrants()
    net = make(NAME)
    history = net.fit(x, y, epochs=30, batch_size=32)
    assert net.last_path == "general"  # no kernel: the fused runners decline
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_the_same_chain_with_a_kernel_activation_is_fused(scaled_softsign):
    control = dense_chain("tanh")
    control.fit(*quadrants(), epochs=1, batch_size=32)
    assert control.last_path != "general"


def test_gradients_match_central_differences(scaled_softsign):
    act = engine.activations.get_activation(NAME)
    z = np.random.default_rng(1).normal(size=(4, 5))
    step = 1e-6
    numeric = (act.forward(z + step) - act.forward(z - step)) / (2 * step)
    np.testing.assert_allclose(act.backward(z, act.forward(z), np.ones_like(z)), numeric, rtol=1e-6)
    assert act.forward(z.astype(np.float32)).dtype == np.float32


@pytest.fixture
def trained(scaled_softsign) -> engine.Network:
    net = network()
    net.fit(*quadrants(), epochs=3, batch_size=32)
    return net


def _max_diff(got: np.ndarray, expected: np.ndarray) -> float:
    assert got.shape == expected.shape
    return float(np.max(np.abs(got - expected)))


def test_onnx_export_runs_in_onnxruntime_and_imports_back(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="running the exported model needs onnxruntime")
    path = export_network(trained, "onnx", tmp_path / "net.onnx")[0]
    x = np.random.default_rng(2).normal(0, 1.5, (64, 2)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert _max_diff(session.run(None, {"in": x})[0], trained.predict(x)) <= TOLERANCE
    back = import_onnx(path)
    assert back.spec.nodes["hidden"].params["activation"] == NAME
    assert back.spec.nodes["squash"].type == "Activation"
    assert back.spec.nodes["squash"].params["activation"] == NAME
    assert _max_diff(back.predict(x), trained.predict(x)) <= TOLERANCE


def test_pytorch_export_matches_predict(trained, tmp_path):
    torch = pytest.importorskip("torch", reason="running the exported PyTorch code needs torch")
    export_network(trained, "pytorch", tmp_path / "pkg")
    model = load_module(tmp_path / "pkg" / "model.py", "new_activation_pytorch").load_model()
    x = np.random.default_rng(2).normal(0, 1.5, (64, 2)).astype(np.float32)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert _max_diff(got, trained.predict(x)) <= TOLERANCE


def test_numpy_script_matches_predict(trained, tmp_path):
    path = export_network(trained, "python", tmp_path / "net.py")[0]
    assert "def scaled_softsign(x):" in path.read_text(encoding="utf-8")
    module = load_module(path, "new_activation_numpy")
    x = np.random.default_rng(2).normal(0, 1.5, (64, 2)).astype(np.float32)
    assert _max_diff(module.predict(x), trained.predict(x)) <= TOLERANCE


def test_the_monitor_uses_its_ranges(scaled_softsign):
    net = network()
    hidden = net.model.layers["hidden"]
    hidden.weights["kernel"][...] = 1000.0 * np.sign(hidden.weights["kernel"])  # far into the tails
    x, _ = quadrants(64)
    health = {h.node_id: h for h in TrainingMonitor(net.model, x).snapshot().layers}
    layer = health["hidden"]
    assert layer.activation == NAME
    assert (layer.bin_edges[0], layer.bin_edges[-1]) == (-2.0, 2.0)
    assert layer.saturated_fraction is not None and layer.saturated_fraction > 0.9
    assert layer.dead_fraction is None
