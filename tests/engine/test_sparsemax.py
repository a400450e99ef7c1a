"""Sparsemax and the sparsemax loss: textbook values, gradients against central differences in
float64, the three exports against predict, and a classifier trained with them."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engine
from engine.activations import get_activation
from engine.export import export_network, import_onnx
from engine.losses import get_loss
from tests.engine.gradcheck import numeric_gradient, relative_error

SPARSEMAX = get_activation("sparsemax")
LOSS = get_loss("sparsemax_loss")
TOLERANCE = 1e-5  # float32 exports, max abs difference


def test_textbook_values():
    z = np.array(
        [
            [0.0, 0.0, 0.0],  # ties: uniform, like softmax
            [3.0, 1.0, 0.0],  # one score far ahead: a one-hot, unlike softmax
            [1.0, 0.5, -1.0],  # τ = (1 + 0.5 - 1) / 2 = 0.25: [0.75, 0.25, 0]
            [0.2, 0.1, 0.0],  # all in the support: τ = (0.3 - 1) / 3
        ]
    )
    expected = [
        [1 / 3, 1 / 3, 1 / 3],
        [1.0, 0.0, 0.0],
        [0.75, 0.25, 0.0],
        [0.2 + 0.7 / 3, 0.1 + 0.7 / 3, 0.7 / 3],
    ]
    np.testing.assert_allclose(SPARSEMAX.forward(z), expected, rtol=1e-14, atol=1e-15)


def test_probabilities_on_the_simplex_for_any_shape_shift_and_scale():
    z = np.random.default_rng(0).normal(scale=4.0, size=(3, 2, 7))
    p = SPARSEMAX.forward(z)
    assert np.all(p >= 0) and np.any(p == 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(SPARSEMAX.forward(z + 1e4), p, atol=1e-9)  # shift invariant
    np.testing.assert_allclose(SPARSEMAX.forward(z[1, 0][None]), p[1, 0][None], rtol=1e-14)
    huge = SPARSEMAX.forward(np.array([[1e30, -1e30, 0.0]], dtype=np.float32))
    np.testing.assert_array_equal(huge, [[1.0, 0.0, 0.0]])


def test_backward_is_the_support_minus_its_mean_and_matches_central_differences():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=2.0, size=(5, 6))
    v = rng.normal(size=z.shape)
    a = SPARSEMAX.forward(z)
    grad = SPARSEMAX.backward(z, a, v)
    support = a > 0
    for row in range(len(z)):
        s = support[row]
        expected = np.where(s, v[row] - v[row][s].mean(), 0.0)
        np.testing.assert_allclose(grad[row], expected, rtol=1e-14, atol=1e-15)
    numeric = numeric_gradient(lambda: float(np.sum(SPARSEMAX.forward(z) * v)), z)
    assert relative_error(grad, numeric) < 1e-7


def test_loss_gradient_is_sparsemax_minus_the_target_and_matches_central_differences():
    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.0, size=(6, 5))
    y = rng.integers(0, 5, size=6)
    grad = LOSS.backward_from_logits(z, y)
    np.testing.assert_allclose(grad, (SPARSEMAX.forward(z) - np.eye(5)[y]) / 6, rtol=1e-14, atol=1e-16)
    assert relative_error(grad, numeric_gradient(lambda: LOSS.forward_from_logits(z, y), z)) < 1e-7
    p = SPARSEMAX.forward(z)
    assert relative_error(LOSS.backward(p, y), numeric_gradient(lambda: LOSS.forward(p, y), p)) < 1e-7


def test_loss_is_zero_with_a_margin_and_on_probabilities_a_lower_bound():
    assert LOSS.forward_from_logits(np.array([[0.0, 1.0, -3.0]]), np.array([1])) == 0.0
    z = np.array([[2.0, 1.5, -1.0], [2.0, 1.5, -1.0]])
    p = SPARSEMAX.forward(z)  # [0.75, 0.25, 0]
    inside, outside = np.array([1, 1]), np.array([2, 2])
    assert math.isclose(LOSS.forward(p, inside), LOSS.forward_from_logits(z, inside), rel_tol=1e-14)
    tau = 1.25
    assert math.isclose(LOSS.forward_from_logits(z, outside) - LOSS.forward(p, outside), tau - (-1.0))


def classifier(activation: str = "sparsemax") -> engine.Network:
    """Input 2 -> Dense 16 tanh -> Dense 3 (activation), sparsemax loss, Adam; the seed starts
    it wrong on every sample."""
    spec = engine.NetworkSpec(
        training={"loss": "sparsemax_loss", "optimizer": {"type": "adam", "learning_rate": 0.02}, "seed": 3}
    )
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 16, "activation": "tanh"}, node_id="hidden")
    spec.add_node("Dense", {"units": 3, "activation": activation}, node_id="out")
    spec.connect("in", "hidden")
    spec.connect("hidden", "out")
    return engine.Network(spec)


def blobs(count: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=count)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    return (centres[y] + rng.normal(scale=0.7, size=(count, 2))).astype(np.float32), y


@pytest.fixture(scope="module")
def trained() -> tuple[engine.Network, dict[str, float]]:
    """The classifier after 15 epochs on the blobs, and its loss on them before training."""
    network = classifier()
    x, y = blobs()
    before = network.evaluate(x, y)
    network.fit(x, y, epochs=15, batch_size=32)
    return network, before


def test_sparsemax_trains_a_classifier(trained):
    network, before = trained
    x, y = blobs()
    assert network.last_path == "general"  # sparsemax has no fused kernel
    assert before["accuracy"] < 0.1
    assert network.evaluate(x, y)["loss"] < 0.1 * before["loss"]
    p = network.predict(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(np.argmax(p, axis=1) == y) > 0.9
    assert np.mean(p == 0) > 0.3  # confident outputs: other classes exactly 0


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _inputs() -> np.ndarray:
    return np.random.default_rng(4).normal(scale=2.0, size=(64, 2)).astype(np.float32)


def test_onnx_export_runs_in_onnxruntime_and_imports_back(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="running the exported model needs onnxruntime")
    network = trained[0]
    path = export_network(network, "onnx", tmp_path / "net.onnx")[0]
    onnx = pytest.importorskip("onnx", reason="reading the exported model needs onnx")
    nodes = onnx.load(str(path)).graph.node
    ops = [node.op_type for node in nodes if node.name.startswith("out/") or node.name == "out"]
    assert ops == ["Gemm", "Shape", "Squeeze", "Cast", "Add", "Range"] + [
        *("TopK", "CumSum", "Sub", "Div", "ReduceMax", "Sub", "Relu")
    ]  # (as docs/export.md lists them)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _inputs()
    assert np.max(np.abs(session.run(None, {"in": x})[0] - network.predict(x))) <= TOLERANCE
    back = import_onnx(path)
    assert back.spec.nodes["out"].params["activation"] == "sparsemax"
    assert back.training.loss.type == "sparsemax_loss"
    assert np.max(np.abs(back.predict(x) - network.predict(x))) <= TOLERANCE


def test_pytorch_export_matches_predict(trained, tmp_path):
    torch = pytest.importorskip("torch", reason="running the exported PyTorch code needs torch")
    network = trained[0]
    export_network(network, "pytorch", tmp_path / "pkg")
    model = _load(tmp_path / "pkg" / "model.py", "sparsemax_pytorch").load_model()
    x = _inputs()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(got - network.predict(x))) <= TOLERANCE


def test_numpy_script_matches_predict(trained, tmp_path):
    network = trained[0]
    path = export_network(network, "python", tmp_path / "net.py")[0]
    assert "def sparsemax(x):" in path.read_text(encoding="utf-8")
    x = _inputs()
    assert np.max(np.abs(_load(path, "sparsemax_numpy").predict(x) - network.predict(x))) <= TOLERANCE
