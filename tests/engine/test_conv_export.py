"""Activated convolutions through the three exports (ONNX with explicit pads, PyTorch with an F.pad
for unequal pads, the NumPy script) against predict, and the ONNX `Conv` import (valid, 'same',
other pads through a ZeroPadding2D)."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.export import export_network
from engine.export.onnx_import import import_onnx
from tests.engine.test_export_cases import TOLERANCE, load_module, predict, random_inputs


def conv_network(seed: int = 0) -> engine.Network:
    """Image -> Conv2D (relu, odd 'same' pads) -> Conv2D (elu, stride 2, dilated) -> Reshape to a
    signal -> Conv1D (tanh, 'same') -> Flatten -> Dense softmax."""
    spec = engine.NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "seed": seed})
    add = spec.add_node
    add("Input", {"shape": [2, 8, 9]}, node_id="img")
    add(
        "Conv2D",
        {"filters": 4, "kernel_size": [3, 2], "padding": "same", "activation": "relu"},
        node_id="c1",
    )
    add(
        "Conv2D",
        {"filters": 3, "kernel_size": [2], "strides": [2], "dilation_rate": [2], "activation": "elu"},
        node_id="c2",
    )
    add("Reshape", {"target_shape": [3, 12]}, node_id="signal")
    add("Conv1D", {"filters": 2, "kernel_size": [3], "padding": "same", "activation": "tanh"}, node_id="c3")
    add("Flatten", {}, node_id="flat")
    add("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for a, b in (
        ("img", "c1"),
        ("c1", "c2"),
        ("c2", "signal"),
        ("signal", "c3"),
        ("c3", "flat"),
        ("flat", "out"),
    ):
        spec.connect(a, b)
    network = engine.Network(spec)
    rng = np.random.default_rng(seed)
    for layer in network.model.layers.values():
        if "bias" in layer.weights:
            layer.weights["bias"][...] = rng.normal(0, 0.3, layer.weights["bias"].shape)
    return network


def _diff(got: np.ndarray, expected: np.ndarray) -> float:
    assert got.shape == expected.shape
    return float(np.max(np.abs(got - expected)))


def test_onnx_export_matches_predict_and_reads_back(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    network = conv_network()
    path = export_network(network, "onnx", tmp_path / "m.onnx")[0]
    proto = onnx.load(str(path))
    convs = {n.name: n for n in proto.graph.node if n.op_type == "Conv"}
    pads = {a.name: list(a.ints) for a in convs["c1/linear"].attribute}
    assert pads["pads"] == [1, 0, 1, 1] and pads["strides"] == [1, 1]
    inputs = random_inputs(network, 16)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert _diff(session.run(None, inputs)[0], predict(network, inputs)) <= TOLERANCE
    imported = import_onnx(path)
    convs = [node for node in imported.spec.nodes.values() if node.type.startswith("Conv")]
    assert sorted(node.type for node in convs) == ["Conv1D", "Conv2D", "Conv2D"]
    assert sorted(node.params["padding"] for node in convs) == ["same", "same", "valid"]
    assert _diff(predict(imported, inputs), predict(network, inputs)) <= TOLERANCE


@pytest.mark.parametrize("dims", [2, 1])
def test_a_strided_same_convolution_reads_back_as_same(tmp_path, dims):
    """Explicit 'same' pads at stride 2 depend on the input size; the export marks them."""
    pytest.importorskip("onnx")
    spec = engine.NetworkSpec(training={"loss": "mse"})
    spec.add_node("Input", {"shape": [2, 9, 8] if dims == 2 else [2, 9]}, node_id="in")
    params = {"filters": 3, "kernel_size": [3], "strides": [2], "padding": "same", "activation": "relu"}
    spec.add_node(f"Conv{dims}D", params, node_id="conv")
    spec.connect("in", "conv")
    network = engine.Network(spec)
    imported = import_onnx(export_network(network, "onnx", tmp_path / "m.onnx")[0])
    assert {nid: node.type for nid, node in imported.spec.nodes.items()} == {
        "in": "Input",
        "conv": f"Conv{dims}D",
    }
    assert imported.spec.nodes["conv"].params["padding"] == "same"
    assert imported.spec.nodes["conv"].params["activation"] == "relu"
    inputs = random_inputs(network, 8)
    assert _diff(predict(imported, inputs), predict(network, inputs)) <= TOLERANCE


def test_pytorch_export_matches_predict(tmp_path):
    torch = pytest.importorskip("torch")
    network = conv_network(1)
    export_network(network, "pytorch", tmp_path / "pkg")
    text = (tmp_path / "pkg" / "model.py").read_text()
    assert "F.pad(" in text and "nn.Conv1d(3, 2, (3,), stride=(1,), padding=(1,)" in text
    model = load_module(tmp_path / "pkg" / "model.py", "conv_export_torch").load_model()
    inputs = random_inputs(network, 16)
    with torch.no_grad():
        got = model(torch.from_numpy(inputs["img"])).numpy()
    assert _diff(got, predict(network, inputs)) <= TOLERANCE


def test_numpy_script_matches_predict(tmp_path):
    network = conv_network(2)
    path = export_network(network, "python", tmp_path / "net.py")[0]
    module = load_module(path, "conv_export_numpy")
    inputs = random_inputs(network, 16)
    assert _diff(module.predict(inputs), predict(network, inputs)) <= TOLERANCE


def _onnx_conv_model(tmp_path, pads, strides, auto_pad=None):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    attrs = {"kernel_shape": [3, 3], "strides": strides}
    attrs.update({"auto_pad": auto_pad} if auto_pad else {"pads": pads})
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 7, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, None, None])],
        [numpy_helper.from_array(kernel, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "conv.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("pads", "strides", "auto_pad", "padding"),
    [
        ([0, 0, 0, 0], [1, 1], None, "valid"),
        ([1, 1, 1, 1], [1, 1], None, "same"),
        (None, [2, 2], "SAME_UPPER", "same"),
        ([1, 1, 1, 1], [2, 2], None, "zero padding"),  # PyTorch's padding=1 with stride 2
        ([0, 2, 1, 0], [1, 1], None, "zero padding"),
    ],
)
def test_onnx_conv_import_matches_onnxruntime(tmp_path, pads, strides, auto_pad, padding):
    ort = pytest.importorskip("onnxruntime")
    path = _onnx_conv_model(tmp_path, pads, strides, auto_pad)
    network = import_onnx(path)
    types = sorted(node.type for node in network.spec.nodes.values())
    if padding == "zero padding":
        if "ZeroPadding2D" not in engine.registry.LAYERS.names():
            pytest.skip("no ZeroPadding2D layer registered")
        assert types == ["Conv2D", "Input", "ZeroPadding2D"]
    else:
        conv = next(n for n in network.spec.nodes.values() if n.type == "Conv2D")
        assert conv.params["padding"] == padding
    x = np.random.default_rng(1).normal(size=(5, 2, 7, 8)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert _diff(network.predict(x), expected) <= TOLERANCE


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"group": 2}, "grouped convolution"),
        ({"auto_pad": "SAME_LOWER"}, "auto_pad SAME_LOWER"),
    ],
)
def test_onnx_conv_import_refuses_what_conv2d_cannot_express(tmp_path, attrs, message):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    kernel = np.ones((4, 1, 3, 3), np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 7, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, None, None])],
        [numpy_helper.from_array(kernel, "w")],
    )
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(engine.NetCanvasError, match=message):
        import_onnx(path)
