"""ONNX export: the network as an ONNX model (opset 17) with its trained weights.

Layout of the graph (what Netron shows):
- graph inputs are the Input node ids, the graph output is the output node id, and every canvas
  node's result is a tensor named by its node id; helper tensors are named "<node id>/<what>";
- the batch dimension is dynamic and named "batch";
- weights are initializers named like the .ncv archive: "<node id>/kernel", "<node id>/bias",
  "<node id>/gamma", ... (float32, Dense kernels in NetCanvas's (in, out) layout: Gemm transB=0).

| NetCanvas | ONNX |
|---|---|
| Dense | Gemm (+ the activation's operators) |
| Activation | linear: Identity; gelu: Div, Erf, Add, Mul, Mul (0.5·x·(1 + erf(x/√2)), exact erf form, valid in every opset); silu/swish: Sigmoid, Mul; hard_sigmoid: HardSigmoid(alpha=1/6, beta=0.5) (Keras 3's relu6(x+3)/6); softmax: Softmax(axis=-1); the rest: the operator of the same name |
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
import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.export import activation_of, check_export, require
from engine.io import _write_atomic  # the same atomic save as network files
from engine.network import Network

DEFAULT_OPSET = 17
SELU_ALPHA = 1.6732632423543772
SELU_GAMMA = 1.0507009873554805
# Operators that take no attributes and have the activation's name in ONNX.
_SIMPLE = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "softplus": "Softplus",
    "softsign": "Softsign",
}


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, helper: Any, numpy_helper: Any):
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._constants: dict[tuple[str, float], str] = {}

    def add(self, op: str, inputs: list[str], output: str, name: str, **attrs: Any) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

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


def _activation(g: _Graph, name: str, params: dict[str, Any], x: str, out: str, prefix: str) -> str:
    """Emit the operators of activation `name` from tensor x to tensor out."""
    if name == "linear":
        return g.add("Identity", [x], out, prefix)
    if name in _SIMPLE:
        return g.add(_SIMPLE[name], [x], out, prefix)
    if name == "leaky_relu":
        return g.add("LeakyRelu", [x], out, prefix, alpha=float(params.get("alpha", 0.01)))
    if name == "elu":
        return g.add("Elu", [x], out, prefix, alpha=float(params.get("alpha", 1.0)))
    if name == "selu":
        return g.add("Selu", [x], out, prefix, alpha=SELU_ALPHA, gamma=SELU_GAMMA)
    if name == "hard_sigmoid":
        return g.add("HardSigmoid", [x], out, prefix, alpha=1.0 / 6.0, beta=0.5)
    if name == "softmax":
        return g.add("Softmax", [x], out, prefix, axis=-1)
    if name in ("silu", "swish"):
        s = g.add("Sigmoid", [x], f"{prefix}/sigmoid", f"{prefix}/sigmoid")
        return g.add("Mul", [x, s], out, prefix)
    if name == "gelu":
        t = g.add("Div", [x, g.scalar(math.sqrt(2.0))], f"{prefix}/gelu_div", f"{prefix}/gelu_div")
        t = g.add("Erf", [t], f"{prefix}/gelu_erf", f"{prefix}/gelu_erf")
        t = g.add("Add", [t, g.scalar(1.0)], f"{prefix}/gelu_add", f"{prefix}/gelu_add")
        t = g.add("Mul", [x, t], f"{prefix}/gelu_mul", f"{prefix}/gelu_mul")
        return g.add("Mul", [t, g.scalar(0.5)], out, prefix)
    raise ConfigError(f"activation '{name}' of '{prefix}' cannot be exported to ONNX")


def _emit_node(g: _Graph, network: Network, nid: str, args: list[str]) -> str:
    """Operators for canvas node `nid` reading tensors `args`; returns the tensor named `nid`."""
    model = network.model
    layer = model.layers[nid]
    node = network.spec.nodes[nid]
    p = node.params
    weights = {k: v.astype(np.float32) for k, v in layer.weights.items()}
    if node.type == "Dense":
        act, act_params = activation_of(layer)
        inputs = [args[0], g.tensor(f"{nid}/kernel", weights["kernel"])]
        if "bias" in weights:
            inputs.append(g.tensor(f"{nid}/bias", weights["bias"]))
        if act == "linear":
            return g.add("Gemm", inputs, nid, nid)
        z = g.add("Gemm", inputs, f"{nid}/linear", f"{nid}/linear")
        return _activation(g, act, act_params, z, nid, nid)
    if node.type == "Activation":
        act, act_params = activation_of(layer)
        return _activation(g, act, act_params, args[0], nid, nid)
    if node.type == "Dropout":
        ratio = g.tensor(f"{nid}/ratio", np.array(p["rate"], dtype=np.float32))
        return g.add("Dropout", [args[0], ratio], nid, nid)
    if node.type == "Flatten":
        return g.add("Flatten", args, nid, nid, axis=1)
    if node.type == "Reshape":
        shape = g.tensor(f"{nid}/shape", np.array([0, *p["target_shape"]], dtype=np.int64))
        return g.add("Reshape", [args[0], shape], nid, nid)
    if node.type == "BatchNormalization":
        features = layer.input_shapes[0][0]
        gamma = weights.get("gamma")
        beta = weights.get("beta")
        inputs = [
            args[0],
            g.tensor(f"{nid}/gamma", gamma)
            if gamma is not None
            else g.tensor(f"{nid}/unit_scale", np.ones(features, np.float32)),
            g.tensor(f"{nid}/beta", beta)
            if beta is not None
            else g.tensor(f"{nid}/zero_offset", np.zeros(features, np.float32)),
            g.tensor(f"{nid}/moving_mean", weights["moving_mean"]),
            g.tensor(f"{nid}/moving_variance", weights["moving_variance"]),
        ]
        return g.add(
            "BatchNormalization", inputs, nid, nid, epsilon=float(p["epsilon"]), momentum=float(p["momentum"])
        )
    if node.type == "Add":
        return g.add("Add" if len(args) == 2 else "Sum", args, nid, nid)
    if node.type == "Concatenate":
        rank = len(layer.input_shapes[0])
        return g.add("Concat", args, nid, nid, axis=1 + p["axis"] % rank)
    raise AssertionError(f"check_export lets {node.type} through")  # pragma: no cover


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
        tensors[nid] = _emit_node(g, network, nid, [tensors[s] for s in model.sources[nid]])
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
