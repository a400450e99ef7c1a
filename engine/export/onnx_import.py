"""ONNX import: an ONNX model whose operators map onto the layer registry, as a Network with weights.

The importer walks the graph in order; each operator is read by the layer type that lists it in
its `onnx_ops` (its `from_onnx`, engine/layers) or by the activation that recognises it (with
the operators after it), which folds into the Dense before it where it can. Today's forms:

| ONNX | NetCanvas |
|---|---|
| Gemm (transA=0, alpha=beta=1), MatMul with a constant 2-D weight (+ Add of a constant bias) | Dense |
| what an activation's `from_onnx` recognises (its `onnx_ops`): Relu Sigmoid Tanh Softplus Softsign Selu Elu LeakyRelu HardSigmoid(1/6, 0.5) Softmax(last axis) Gelu; Sigmoid+Mul (silu); Div/Erf/Add/Mul/Mul (exact gelu) | the activation of the Dense before it, or an Activation node |
| Dropout | Dropout (its ratio) |
| Flatten (axis 1), Reshape (batch kept) | Flatten, Reshape |
| BatchNormalization | BatchNormalization (inference statistics) |
| Add / Sum of two or more tensors, Concat | Add, Concatenate |
| Identity | Activation 'linear' |
| Sub(constant), Div(constant) right after the input | the feature standardization |

Anything else raises NetworkFileError naming the file, the operator and the ONNX node. Settings
NetCanvas writes into `metadata_props` ("netcanvas.*": training, data, name, canvas positions)
are read back, so a NetCanvas export re-imports as the same canvas.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.activations import OnnxMatch
from engine.data import Standardizer
from engine.errors import NetCanvasError, NetworkFileError
from engine.export import require
from engine.graph import NetworkSpec
from engine.network import Network
from engine.registry import ACTIVATIONS, LAYERS


def supported() -> str:
    """The operators an import reads: the layers' and those every activation recognises."""
    ops = dict.fromkeys(op for _, cls in LAYERS.items() for op in cls.onnx_ops)
    ops.update(dict.fromkeys(op for _, cls in ACTIVATIONS.items() for op in cls.onnx_ops))
    return f"{', '.join(ops)}, Sub/Div (input standardization)"


@dataclass
class _Layer:
    """A canvas node being built: its type, parameters, input tensors and arrays."""

    name: str  # preferred node id
    type: str
    params: dict[str, Any]
    inputs: list[str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    rank: int = 2  # of the output tensor, batch included


class _Importer:
    def __init__(self, proto: Any, file_name: str):
        from onnx import numpy_helper

        self.file = file_name
        self.graph = proto.graph
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and node.attribute:
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.layers: list[_Layer] = []
        self.producer: dict[str, _Layer] = {}  # tensor -> the layer whose output it is
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.done: set[int] = set()  # ids of nodes consumed by a pattern
        # ONNX operator -> the layer type that reads it (its `onnx_ops` and `from_onnx`)
        self.layer_types = {op: cls for _, cls in LAYERS.items() for op in cls.onnx_ops}
        self.scaler: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ helpers
    def fail(self, node: Any, why: str) -> NetworkFileError:
        return NetworkFileError(f"{self.file}: {node.op_type} node '{node.name or node.output[0]}' {why}")

    def unsupported(self, node: Any) -> NetworkFileError:
        return NetworkFileError(
            f"{self.file}: operator '{node.op_type}' (node '{node.name or node.output[0]}') has no "
            f"NetCanvas layer; supported: {supported()}"
        )

    def attr(self, node: Any, name: str, default: Any) -> Any:
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def source(self, tensor: str) -> _Layer:
        return self.producer[tensor]

    def rank(self, tensor: str) -> int:
        return self.source(tensor).rank

    def only_consumer(self, tensor: str) -> Any | None:
        """The one node reading `tensor` (None if several, none, or it is the graph output)."""
        users = self.consumers.get(tensor, [])
        outputs = {o.name for o in self.graph.output}
        return users[0] if len(users) == 1 and tensor not in outputs else None

    def add(self, layer: _Layer, output: str) -> None:
        self.layers.append(layer)
        self.producer[output] = layer

    def activation_layer(
        self,
        node: Any,
        activation: str,
        x: str,
        out: str,
        params: dict[str, Any] | None = None,
        users: int = 1,
    ) -> None:
        """Fold into the Dense that makes x when x feeds only this activation (made of `users`
        operators reading x), else an Activation node. 'linear' (Identity) always stays a node."""
        layer = self.source(x)
        foldable = (
            layer.type == "Dense"
            and layer.params["activation"] == "linear"
            and not params
            and activation != "linear"
            and x not in {o.name for o in self.graph.output}
        )
        if foldable and len(self.consumers.get(x, [])) == users:
            layer.params["activation"] = activation
            layer.name = out
            self.producer[out] = layer
            return
        p = {"activation": activation, **(params or {})}
        self.add(_Layer(out, "Activation", p, [x], rank=layer.rank), out)

    # --------------------------------------------------------------------- pass
    def run(self) -> None:
        initializers = set(self.constants)
        for value in self.graph.input:
            if value.name in initializers:
                continue
            dims = value.type.tensor_type.shape.dim
            shape = [d.dim_value for d in dims[1:]]
            if not dims or any(d <= 0 for d in shape):
                raise NetworkFileError(
                    f"{self.file}: input '{value.name}' needs a known shape after the "
                    f"batch dimension, got {[d.dim_param or d.dim_value for d in dims]}"
                )
            self.add(_Layer(value.name, "Input", {"shape": shape}, [], rank=len(dims)), value.name)
        for node in self.graph.node:
            if id(node) in self.done or node.op_type == "Constant":
                continue
            self.node(node)
        if len(self.graph.output) != 1:
            raise NetworkFileError(
                f"{self.file}: NetCanvas networks have one output, this model has {len(self.graph.output)}"
            )

    def node(self, node: Any) -> None:
        op, ins, out = node.op_type, list(node.input), node.output[0]
        found = self.activation_match(node)
        if found is not None:
            name, match = found
            self.done.update(id(n) for n in match.consumed)
            return self.activation_layer(node, name, match.x, match.out, match.params, users=match.users)
        if (
            op in ("Sub", "Div")
            and ins[1] in self.constants
            and ins[0] in self.producer
            and self.source(ins[0]).type == "Input"
            and op.lower() not in self.scaler
        ):
            self.scaler["sub" if op == "Sub" else "div"] = self.constants[ins[1]]
            self.producer[out] = self.source(ins[0])
            return None
        layer_type = self.layer_types.get(op)
        if layer_type is None:
            raise self.unsupported(node)
        return layer_type.from_onnx(self, node)

    # ------------------------------------------------- what a layer's from_onnx reads
    def constant(self, tensor: str) -> np.ndarray | None:
        return self.constants.get(tensor)

    def known(self, tensor: str) -> bool:
        return tensor in self.producer

    def consume(self, node: Any) -> None:
        self.done.add(id(node))

    def add_layer(
        self,
        layer_type: str,
        params: dict[str, Any],
        inputs: list[str],
        output: str,
        weights: dict[str, np.ndarray] | None = None,
        rank: int = 2,
    ) -> None:
        self.add(_Layer(output, layer_type, params, inputs, weights or {}, rank=rank), output)

    # ------------------------------------------------------------------ activations
    def activation_match(self, node: Any) -> tuple[str, OnnxMatch] | None:
        """(name, match) of the activation whose `from_onnx` recognises `node` (with the nodes
        after it); when several do (Sigmoid: sigmoid, or silu's Sigmoid + Mul), the pattern
        using the most nodes wins."""
        best: tuple[str, OnnxMatch] | None = None
        for name, cls in ACTIVATIONS.items():
            if node.op_type not in cls.onnx_ops or node.input[0] not in self.producer:
                continue
            match = cls.from_onnx(self, node)
            if match is not None and (best is None or len(match.consumed) > len(best[1].consumed)):
                best = (name, match)
        return best

    def const_is(self, name: str, value: float) -> bool:
        array = self.constants.get(name)
        return array is not None and array.size == 1 and math.isclose(float(array), value, rel_tol=1e-6)

    # ------------------------------------------------------------------- result
    def network(self, props: dict[str, str]) -> Network:
        ids = _node_ids([layer.name for layer in self.layers])
        by_layer = {id(layer): nid for layer, nid in zip(self.layers, ids, strict=True)}
        positions = _json(props, "netcanvas.positions", self.file) or {}
        spec = NetworkSpec(
            training=_json(props, "netcanvas.training", self.file) or {},
            data=_json(props, "netcanvas.data", self.file) or {},
            metadata=_json(props, "netcanvas.metadata", self.file)
            or {"name": self.graph.name or Path(self.file).stem},
        )
        depth: dict[str, int] = {}
        for layer, nid in zip(self.layers, ids, strict=True):
            sources = [by_layer[id(self.producer[t])] for t in layer.inputs]
            depth[nid] = 1 + max((depth[s] for s in sources), default=-1)
            row = sum(1 for d in depth.values() if d == depth[nid]) - 1
            pos = positions.get(nid, (220.0 * depth[nid], 120.0 * row))
            spec.add_node(layer.type, layer.params, pos=tuple(pos), node_id=nid)
            for s in sources:
                spec.connect(s, nid)
        output = self.graph.output[0].name
        if output not in self.producer or by_layer[id(self.producer[output])] != spec.output_id():
            raise NetworkFileError(f"{self.file}: the graph output '{output}' is not the last layer")
        network = Network(spec)
        named = {
            f"{nid}/{key}": array
            for layer, nid in zip(self.layers, ids, strict=True)
            for key, array in layer.weights.items()
        }
        network.model.load_named_weights(named, self.file)
        if self.scaler:
            shape = tuple(spec.nodes[network.model.input_ids[0]].params["shape"])
            mean = np.broadcast_to(self.scaler.get("sub", np.zeros(1)), shape)
            std = np.broadcast_to(self.scaler.get("div", np.ones(1)), shape)
            network.scaler = Standardizer(mean, std)
        return network


def _node_ids(names: list[str]) -> list[str]:
    """Valid, unique canvas ids from ONNX tensor names ('onnx::Gemm_5' -> 'onnx__Gemm_5')."""
    used: set[str] = set()
    ids = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60] or "node"
        if not re.match(r"[A-Za-z_]", base):
            base = f"n_{base}"[:60]
        candidate, number = base, 2
        while candidate in used:
            candidate, number = f"{base}_{number}", number + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def _json(props: dict[str, str], key: str, file: str) -> Any:
    if key not in props:
        return None
    try:
        return json.loads(props[key])
    except json.JSONDecodeError:
        raise NetworkFileError(f"{file}: metadata '{key}' is not valid JSON") from None


def import_onnx(path: str | Path) -> Network:
    """A Network (with weights) from an ONNX file; NetworkFileError names the file and problem."""
    onnx = require("onnx", "ONNX import")
    path = Path(path)
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except FileNotFoundError:
        raise NetworkFileError(f"{path.name}: no such file ({path})") from None
    except (onnx.checker.ValidationError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NetworkFileError(f"{path.name}: not a valid ONNX model ({first})") from None
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError has no public base class
        raise NetworkFileError(f"{path.name}: not a readable ONNX file ({type(exc).__name__})") from None
    importer = _Importer(proto, path.name)
    try:
        importer.run()
        return importer.network({p.key: p.value for p in proto.metadata_props})
    except NetworkFileError:
        raise
    except NetCanvasError as exc:
        raise NetworkFileError(f"{path.name}: {exc}") from None
