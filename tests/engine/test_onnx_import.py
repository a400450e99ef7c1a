"""ONNX import: NetCanvas exports round-trip to an equivalent network; foreign graphs built from
Gemm / MatMul+Add and friends import with their weights; other operators are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import NetworkFileError
from engine.export import export_network, import_onnx
from tests.engine.test_export_cases import CASES, TOLERANCE, network_for, predict, random_inputs

onnx = pytest.importorskip("onnx", reason="ONNX import needs the 'onnx' package")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.mark.parametrize("case", CASES)
def test_export_import_export_round_trip(case, tmp_path):
    network = network_for(case)
    first = export_network(network, "onnx", tmp_path / "a.onnx")[0]
    imported = import_onnx(first)
    assert sorted(imported.spec.nodes) == sorted(network.spec.nodes)
    assert {n.id: n.type for n in imported.spec.nodes.values()} == {
        n.id: n.type for n in network.spec.nodes.values()
    }
    assert imported.training.to_dict() == network.training.to_dict()
    inputs = random_inputs(network, 32)
    diff = float(np.max(np.abs(predict(imported, inputs) - predict(network, inputs))))
    print(f"{case}: imported vs original max abs diff {diff:.3g}")
    assert diff <= TOLERANCE
    second = export_network(imported, "onnx", tmp_path / "b.onnx")[0]
    a, b = onnx.load(str(first)), onnx.load(str(second))
    assert [(n.op_type, list(n.input)) for n in a.graph.node] == [
        (n.op_type, list(n.input)) for n in b.graph.node
    ]
    for x, y in zip(a.graph.initializer, b.graph.initializer, strict=True):
        assert x.name == y.name
        np.testing.assert_allclose(numpy_helper.to_array(x), numpy_helper.to_array(y), atol=TOLERANCE)


def _model(nodes, initializers, inputs=(("x", 4),), output=("y", 3), opset=17):
    graph = helper.make_graph(
        nodes,
        "foreign",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", size]) for name, size in inputs],
        [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, ["N", output[1]])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)])


def test_foreign_matmul_add_and_gemm_graph(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="comparing with the original needs onnxruntime")
    rng = np.random.default_rng(0)
    w = {
        "W1": rng.normal(size=(4, 5)),
        "b1": rng.normal(size=5),
        "W2": rng.normal(size=(3, 10)),
        "b2": rng.normal(size=3),
        "scale": rng.uniform(0.5, 2, 10),
        "bias": rng.normal(size=10),
        "mean": rng.normal(size=10),
        "var": rng.uniform(0.5, 2, 10),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "b1"], ["h"], name="h"),
        helper.make_node("LeakyRelu", ["h"], ["h_act"], name="h_act", alpha=0.1),
        helper.make_node("Tanh", ["h"], ["t"], name="t"),
        helper.make_node("Concat", ["h_act", "t"], ["cat"], name="cat", axis=1),
        helper.make_node(
            "BatchNormalization", ["cat", "scale", "bias", "mean", "var"], ["bn"], name="bn", epsilon=1e-3
        ),
        helper.make_node("Dropout", ["bn"], ["drop"], name="drop"),
        helper.make_node("Gemm", ["drop", "W2", "b2"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="y", axis=-1),
    ]
    path = tmp_path / "foreign.onnx"
    onnx.save(_model(nodes, w), str(path))
    network = import_onnx(path)
    types = {n.id: (n.type, n.params.get("activation")) for n in network.spec.nodes.values()}
    # ids named after the layers (not the tensors), numbered per name
    assert types == {
        "x": ("Input", None),
        "dense_1": ("Dense", "linear"),  # feeds two branches: the activations stay apart
        "leaky_relu_1": ("Activation", "leaky_relu"),
        "tanh_1": ("Activation", "tanh"),
        "concatenate_1": ("Concatenate", None),
        "batch_normalization_1": ("BatchNormalization", None),
        "dropout_1": ("Dropout", None),
        "dense_2": ("Dense", "softmax"),  # Gemm + Softmax folded
    }
    x = rng.normal(size=(16, 4)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert float(np.max(np.abs(network.predict(x) - expected))) <= TOLERANCE


def test_unsupported_operator_is_named(tmp_path):
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="proj"),
        helper.make_node("Cos", ["h"], ["y"], name="wave"),
    ]
    path = tmp_path / "cos.onnx"
    onnx.save(_model(nodes, {"W": np.ones((4, 3))}), str(path))
    with pytest.raises(
        NetworkFileError, match=r"cos\.onnx: operator 'Cos' \(node 'wave'\) has no NetCanvas layer"
    ):
        import_onnx(path)


def test_unsupported_attributes_and_broken_files_are_explained(tmp_path):
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], name="fc", alpha=2.0),
        helper.make_node("Relu", ["h"], ["y"], name="y"),
    ]
    path = tmp_path / "alpha.onnx"
    onnx.save(_model(nodes, {"W": np.ones((4, 3))}), str(path))
    with pytest.raises(NetworkFileError, match="Gemm node 'fc' uses transA, alpha or beta"):
        import_onnx(path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file at all")
    with pytest.raises(NetworkFileError, match="broken.onnx: not a"):
        import_onnx(broken)
    with pytest.raises(NetworkFileError, match="missing.onnx: no such file"):
        import_onnx(tmp_path / "missing.onnx")


@pytest.mark.parametrize(
    ("input_name", "ids"),
    [("0:in/put", ["n_0_in_put", "dense_1", "dense_2"]), ("dense_1", ["dense_1", "dense_2", "dense_3"])],
)
def test_foreign_node_ids_are_valid_unique_and_named_after_layers(input_name, ids, tmp_path):
    """Tensor names such as '/features/features.0/Gemm_output_0' do not become ids; an input name
    that is not a valid id is made one, and an id the input already has is not given again."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Gemm", [input_name, "W1"], ["/features/features.0/Gemm_output_0"]),
        helper.make_node("Relu", ["/features/features.0/Gemm_output_0"], ["_1_Relu_output_0"]),
        helper.make_node("Gemm", ["_1_Relu_output_0", "W2"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["y"]),
    ]
    initializers = {"W1": rng.normal(size=(4, 5)), "W2": rng.normal(size=(5, 3))}
    path = tmp_path / "names.onnx"
    onnx.save(_model(nodes, initializers, inputs=((input_name, 4),)), str(path))
    network = import_onnx(path)
    assert list(network.spec.nodes) == ids
    x = rng.normal(size=(8, 4)).astype(np.float32)
    w1, w2 = (initializers[k].astype(np.float32) for k in ("W1", "W2"))
    expected = np.maximum(np.maximum(x @ w1, 0) @ w2, 0)
    np.testing.assert_allclose(network.predict(x), expected, atol=TOLERANCE)
