"""ONNX export: the network as an ONNX model (opset 17) with its trained weights.

Layout of the graph (what Netron shows):
- graph inputs are the Input node ids, the graph output is the output node id, and every canvas
  node's result is a tensor named by its node id; helper tensors are named "<node id>/<what>";
- the batch dimension is dynamic and named "batch";
- weights are initializers named like the .ncv archive: "<node id>/kernel", "<node id>/bias",
  "<node id>/gamma", ... (float32, Dense kernels in NetCanvas's (in, out) layout: Gemm transB=0).

Each layer type writes its own operators (its `to_onnx`, engine/layers); the exporter only walks
the nodes in order. Today's forms:

| NetCanvas | ONNX |
|---|---|
| Dense | Gemm (+ the activation's operators) |
| Activation | each activation's `to_onnx`: linear: Identity; gelu: Div, Erf, Add, Mul, Mul (0.5·x·(1 + erf(x/√2)), exact erf form, valid in every opset); silu/swish: Sigmoid, Mul; hard_sigmoid: HardSigmoid(alpha=1/6, beta=0.5) (Keras 3's relu6(x+3)/6); softmax: Softmax(axis=-1); sparsemax: Shape, Squeeze, Cast, Add, Range (ranks 1..K), TopK, CumSum, Sub, Div, ReduceMax (τ), Sub, Relu; the rest: the operator of the same name |
| Dropout | Dropout with training_mode absent (identity at inference), ratio kept for re-import |
| Flatten | Flatten(axis=1) |
| Reshape | Reshape to [0, *target_shape] (0 keeps the batch size) |
| BatchNormalization | BatchNormalization in inference mode with the moving statistics; its momentum attribute is NetCanvas's momentum (ONNX uses the same convention) |
| Add | Add (two inputs) or Sum (more) |
| Concatenate | Concat on axis 1 + (axis mod rank) |
| feature standardization | Sub(mean), Div(std) right after the input |

Training, data and metadata settings and canvas positions travel in the model's metadata_props
("netcanvas.*" JSON) so importing the file back gives the same canvas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.export import check_export, require
from engine.io import _write_atomic  # the same atomic save as network files
from engine.network import Network

DEFAULT_OPSET = 17


class _Graph:
    """Collects nodes and initializers with unique names. Each layer's `to_onnx` writes through
    it (the `LayerOnnxGraph` of engine/layers/export_forms.py), an activation's `to_onnx` through
    `add`, `scalar` and `tensor` (the `OnnxGraph` of engine/activations/base.py)."""

    def __init__(self, helper: Any, numpy_helper: Any):
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._constants: dict[tuple[str, float], str] = {}

    def add(self, op: str, inputs: list[str], output: str | list[str], name: str, **attrs: Any) -> str:
        outputs = [output] if isinstance(output, str) else list(output)
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def tensor(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def scalar(self, value: float) -> str:
        """A shared float32 scalar constant (for 0.5, 1, sqrt(2) in the gelu formula)."""
        key = ("float", value)
        if key not in self._constants:
            name = f"const/{value:g}"
            self._constants[key] = self.tensor(name, np.array(value, dtype=np.float32))
        return self._constants[key]


def build_onnx_model(network: Network, opset: int = DEFAULT_OPSET) -> Any:
    """The network as an `onnx.ModelProto` (checked with onnx.checker)."""
    onnx = require("onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    check_export(network, "onnx")
    model = network.model
    g = _Graph(helper, numpy_helper)
    tensors: dict[str, str] = {}
    graph_inputs = []
    for nid in model.input_ids:
        shape = ["batch", *model.shapes[nid]]
        graph_inputs.append(helper.make_tensor_value_info(nid, TensorProto.FLOAT, shape))
        tensors[nid] = nid
    if network.scaler is not None:
        nid = model.input_ids[0]
        shape = model.shapes[nid]
        mean = np.broadcast_to(network.scaler.mean, shape).astype(np.float32)
        std = np.broadcast_to(network.scaler.std, shape).astype(np.float32)
        centred = g.add("Sub", [nid, g.tensor(f"{nid}/mean", mean)], f"{nid}/centred", f"{nid}/centred")
        tensors[nid] = g.add(
            "Div", [centred, g.tensor(f"{nid}/std", std)], f"{nid}/standardized", f"{nid}/standardized"
        )
    for nid in model.order:
        if nid in model.input_ids:
            continue
        layer = model.layers[nid]
        weights = {key: array.astype(np.float32) for key, array in layer.weights.items()}
        tensors[nid] = layer.to_onnx(g, [tensors[s] for s in model.sources[nid]], nid, weights)
    output = model.output_id
    if output in model.input_ids:  # a network that is only an Input: ONNX needs a distinct name
        output = g.add("Identity", [tensors[output]], f"{output}_output", f"{output}_output")
    graph_output = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", *model.output_shape])
    metadata = network.spec.metadata or {}
    graph = helper.make_graph(
        g.nodes,
        _graph_name(metadata.get("name")),
        graph_inputs,
        [graph_output],
        g.initializers,
        doc_string=_proto_text(metadata.get("description", "")),
    )
    proto = helper.make_model(
        graph,
        producer_name="NetCanvas",
        producer_version="1",
        opset_imports=[helper.make_operatorsetid("", opset)],
        doc_string="Exported from NetCanvas",
    )
    # The oldest IR version that knows this opset, so older onnxruntime builds read the file.
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    helper.set_model_props(proto, _metadata_props(network))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _graph_name(name: Any) -> str:
    return _proto_text(name) if name else "netcanvas"


def _proto_text(text: Any) -> str:
    """`text` as valid UTF-8 for a protobuf string field (a lone surrogate becomes an escape)."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _metadata_props(network: Network) -> dict[str, str]:
    """NetCanvas settings that ONNX has no place for, as JSON strings (read back on import)."""
    spec = network.spec
    return {
        "netcanvas.format_version": "1",
        "netcanvas.metadata": json.dumps(spec.metadata),
        "netcanvas.training": json.dumps(network.training.to_dict()),
        "netcanvas.data": json.dumps(spec.data),
        "netcanvas.positions": json.dumps({n.id: list(n.pos) for n in spec.nodes.values()}),
    }


def export_onnx(network: Network, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write `network` as an ONNX file; returns the path. ExportDependencyError without onnx."""
    proto = build_onnx_model(network, opset)
    path = Path(path)
    _write_atomic(path, proto.SerializeToString())
    return path
