"""Pooling and padding in every export format, over the geometries the export tables' DAG does
not reach: unequal 'same' pads (an odd total) for max and average pooling in 2-D and 1-D, strides
above 1, overlapping windows. ONNX (onnxruntime), the PyTorch module and the NumPy script each
give Network.predict's outputs within 1e-5 (float32)."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.export import export_network, import_onnx
from tests.engine.test_export_cases import TOLERANCE, load_module

# (type, params): each reads the (3, 7, 6) image or, for 1-D, the (3, 42) signal
BRANCHES = [
    ("MaxPooling2D", {"padding": "same"}),  # pads (0, 1) and (0, 0): F.pad with -inf
    ("MaxPooling2D", {"pool_size": [3], "strides": [2], "padding": "same"}),  # (1, 1), (0, 1)
    ("AveragePooling2D", {"padding": "same"}),  # unequal: the mean of real values only
    ("AveragePooling2D", {"pool_size": [3, 2], "strides": [2, 1], "padding": "same"}),
    ("AveragePooling2D", {"pool_size": [3], "strides": [1], "padding": "same"}),  # equal pads
    ("MaxPooling2D", {"pool_size": [3, 2], "strides": [1, 2]}),  # overlapping rows, "valid"
    ("ZeroPadding2D", {"padding": "2, 0, 1, 3"}),
    ("GlobalMaxPooling2D", {}),
    ("MaxPooling1D", {"pool_size": [4], "strides": [3], "padding": "same"}),
    ("MaxPooling1D", {"pool_size": [5], "strides": [1], "padding": "same"}),
]


def pooling_network() -> engine.Network:
    """Input (3, 7, 6) -> each branch -> Flatten -> all joined -> Dense 4."""
    spec = engine.NetworkSpec(training={"loss": "mse"})
    spec.add_node("Input", {"shape": [3, 7, 6]}, node_id="image")
    spec.add_node("Reshape", {"target_shape": [3, 42]}, node_id="signal")
    spec.connect("image", "signal")
    spec.add_node("Concatenate", {"axis": -1}, node_id="joined")
    for index, (type_name, params) in enumerate(BRANCHES):
        pool, flat = f"pool{index}", f"flat{index}"
        spec.add_node(type_name, params, node_id=pool)
        spec.add_node("Flatten", {}, node_id=flat)
        spec.connect("signal" if type_name.endswith("1D") else "image", pool)
        spec.connect(pool, flat)
        spec.connect(flat, "joined")
    spec.add_node("Dense", {"units": 4}, node_id="out")
    spec.connect("joined", "out")
    return engine.Network(spec)


@pytest.fixture(scope="module")
def network_and_data():
    network = pooling_network()
    x = np.random.default_rng(0).normal(size=(16, 3, 7, 6)).astype(np.float32)
    return network, x, network.predict(x)


def check(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    assert float(np.max(np.abs(got - expected))) <= TOLERANCE


def test_onnx_matches_predict(network_and_data, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="running the exported model needs onnxruntime")
    network, x, expected = network_and_data
    path = export_network(network, "onnx", tmp_path / "pools.onnx")[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check(session.run(None, {"image": x})[0], expected)


def test_pytorch_module_matches_predict(network_and_data, tmp_path):
    torch = pytest.importorskip("torch", reason="running the exported PyTorch code needs torch")
    network, x, expected = network_and_data
    export_network(network, "pytorch", tmp_path / "pkg")
    model = load_module(tmp_path / "pkg" / "model.py", "pooling_export_torch").load_model()
    with torch.no_grad():
        check(model(torch.from_numpy(x)).numpy(), expected)


def test_numpy_script_matches_predict(network_and_data, tmp_path):
    network, x, expected = network_and_data
    path = export_network(network, "python", tmp_path / "pools.py")[0]
    check(load_module(path, "pooling_export_numpy").predict(x), expected)


def test_onnx_import_reads_the_export_back(network_and_data, tmp_path):
    pytest.importorskip("onnx", reason="ONNX import needs the 'onnx' package")
    network, x, expected = network_and_data
    path = export_network(network, "onnx", tmp_path / "pools.onnx")[0]
    imported = import_onnx(path)
    for nid, node in network.spec.nodes.items():  # "same" at strides above 1 included
        back = imported.spec.nodes[nid]
        assert back.type == node.type and back.params.get("padding") == node.params.get("padding"), nid
        assert imported.model.shapes[nid] == network.model.shapes[nid], nid
    check(imported.predict(x), expected)
