"""ONNX import: an ONNX model whose operators map onto the layer registry, as a Network with weights.

The importer walks the nodes the network's output depends on, in order (onnx_prepare.py chooses
that output and computes constants). Each operator is read by the layer type that lists it in its
`onnx_ops` (its `from_onnx`, engine/layers) or by the activation that recognises it with the
operators after it (engine/activations), which folds into the Dense or Conv before it where it
can. Around them the walk itself reads: operators of constants and Shape (computed), Identity
and float Casts (the tensor passes on), a Reshape's worked-out target (Flatten, nothing, or an
explicit Reshape), a binary classifier's [1 - p, p] (a softmax Dense), and Sub / Div by
constants after the input (the feature standardization). docs/export.md has the whole table.

Anything else raises NetworkFileError naming the file, the operator and the ONNX node. Settings
NetCanvas writes into `metadata_props` ("netcanvas.*": training, data, name, canvas positions)
are read back, so a NetCanvas export re-imports as the same canvas, with its node ids; another
model's nodes are named after their layers (conv_1, dense_1, relu_1).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.activations import OnnxMatch
from engine.data import Standardizer
from engine.errors import NetCanvasError, NetworkFileError
from engine.export import require
from engine.export.onnx_prepare import (
    FLOAT_TYPES,
    batch_text,
    constant_value,
    fold,
    needed_nodes,
    network_output,
    node_ids,
    readable_ids,
    sample_shape,
    shape_value,
)
from engine.graph import NetworkSpec
from engine.network import Network
from engine.registry import ACTIVATIONS, LAYERS, resolve_params


def supported() -> str:
    """The operators an import reads: the layers' and those every activation recognises."""
    ops = dict.fromkeys(op for _, cls in LAYERS.items() for op in cls.onnx_ops)
    ops.update(dict.fromkeys(op for _, cls in ACTIVATIONS.items() for op in cls.onnx_ops))
    return (
        f"{', '.join(ops)}, Sub/Div (input standardization), Cast (to a float type), Shape and "
        "operators of constants"
    )


@dataclass
class _Layer:
    """A canvas node being built: its type, parameters, input tensors, arrays and output shape."""

    name: str  # preferred node id (a NetCanvas export's own)
    type: str
    params: dict[str, Any]
    inputs: list[str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    shape: tuple[int, ...] = ()  # of one sample (batch axis excluded)

    @property
    def rank(self) -> int:
        return len(self.shape) + 1


class _Importer:
    def __init__(self, proto: Any, file_name: str):
        from onnx import numpy_helper

        self.file = file_name
        self.graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
        # A NetCanvas export keeps its node ids and its own forms (Identity: a 'linear' node).
        self.netcanvas = proto.producer_name == "NetCanvas" or any(
            p.key.startswith("netcanvas.") for p in proto.metadata_props
        )
        self.output = network_output(self.graph, file_name)
        self.nodes = needed_nodes(self.graph, self.output)
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        for node in self.nodes:
            value = constant_value(node) if node.op_type == "Constant" else None
            if value is not None:
                self.constants[node.output[0]] = value
        self.layers: list[_Layer] = []
        self.producer: dict[str, _Layer] = {}  # tensor -> the layer whose output it is
        self.consumers: dict[str, list[Any]] = {}
        self.writer: dict[str, Any] = {}  # tensor -> the node writing it
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
            self.writer.update(dict.fromkeys(node.output, node))
        self.done: set[int] = set()  # ids of nodes consumed by a pattern
        self.passed: set[int] = set()  # ids of nodes read as the identity (Identity, Cast, ...)
        self.aliases: dict[str, str] = {}  # their output -> their input
        # ONNX operator -> the layer type that reads it (its `onnx_ops` and `from_onnx`)
        self.layer_types = {op: cls for _, cls in LAYERS.items() for op in cls.onnx_ops}
        self.scaler: dict[str, np.ndarray] = {}
        self.batch: int | None = None  # the graph input's fixed batch size, if it has one

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
        """The one node reading `tensor` (None if several, none, or it is the network output)."""
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 and tensor != self.output else None

    def writer_of(self, tensor: str) -> Any | None:
        return self.writer.get(tensor)

    def add(self, layer: _Layer, output: str) -> None:
        self.layers.append(layer)
        self.producer[output] = layer

    def uses(self, layer: _Layer) -> int | None:
        """How many operators read `layer`'s output, also through the tensors passing it on as
        it is (those operators do not count); None when it is the network output."""
        names = {layer.name}
        for alias, tensor in self.aliases.items():  # in walk order: chains resolve
            if tensor in names:
                names.add(alias)
        if self.output in names:
            return None
        return sum(1 for t in names for n in self.consumers.get(t, []) if id(n) not in self.passed)

    def pass_on(self, node: Any) -> None:
        """`node` leaves its input as it is: its output names the same layer."""
        self.passed.add(id(node))
        self.aliases[node.output[0]] = node.input[0]
        self.producer[node.output[0]] = self.source(node.input[0])

    def activation_layer(
        self,
        node: Any,
        activation: str,
        x: str,
        out: str,
        params: dict[str, Any] | None = None,
        users: int = 1,
    ) -> None:
        """Fold into the layer with an activation (Dense, Conv2D) that makes x when x feeds only
        this activation (made of `users` operators reading x), else an Activation node. 'linear'
        (Identity) always stays a node."""
        layer = self.source(x)
        foldable = (
            layer.type != "Activation"
            and layer.params.get("activation") == "linear"
            and not params
            and activation != "linear"
        )
        if foldable and self.uses(layer) == users:
            layer.params["activation"] = activation
            layer.name = out
            self.producer[out] = layer
            return
        p = {"activation": activation, **(params or {})}
        self.add(_Layer(out, "Activation", p, [x], shape=layer.shape), out)

    # --------------------------------------------------------------------- pass
    def run(self) -> None:
        read = {name for node in self.nodes for name in node.input} | {self.output}
        for value in self.graph.input:
            if value.name in self.constants or value.name not in read:
                continue
            dims = value.type.tensor_type.shape.dim
            shape = [d.dim_value for d in dims[1:]]
            if not dims or any(d <= 0 for d in shape):
                raise NetworkFileError(
                    f"{self.file}: input '{value.name}' needs a known shape after the "
                    f"batch dimension, got {[d.dim_param or d.dim_value for d in dims]}"
                )
            self.batch = dims[0].dim_value or None
            self.add(_Layer(value.name, "Input", {"shape": shape}, [], shape=tuple(shape)), value.name)
        for node in self.nodes:
            if id(node) in self.done or node.op_type == "Constant":
                continue
            self.node(node)

    def node(self, node: Any) -> None:
        op, ins, out = node.op_type, list(node.input), node.output[0]
        if self.computed(node):
            return None
        if self.passes(node):
            return self.pass_on(node)
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
        if op == "Sub" and self.binary_probabilities(node):
            return None
        if op == "Reshape" and not self.netcanvas:
            return self.reshape(node)
        layer_type = self.layer_types.get(op)
        if layer_type is None:
            raise self.unsupported(node)
        return layer_type.from_onnx(self, node)

    def computed(self, node: Any) -> bool:
        """An operator of constants (an Identity of an initializer, a shape computation) becomes
        a constant; a Shape of a layer's output gives (BATCH, *its shape)."""
        inputs = [name for name in node.input if name]
        if inputs and all(name in self.constants for name in inputs):
            values = fold(node, {name: self.constants[name] for name in inputs}, self.opset)
            if values is None:
                return False
            self.constants.update(zip(node.output, values, strict=False))
            return True
        if node.op_type == "Shape" and inputs and inputs[0] in self.producer:
            self.constants[node.output[0]] = shape_value(node, self.source(inputs[0]).shape, self.attr)
            return True
        return False

    def passes(self, node: Any) -> bool:
        """Whether `node` leaves a layer's output as it is: a Cast to a float type (NetCanvas
        computes in its own float type), or an Identity in a model NetCanvas did not write."""
        if not node.input or node.input[0] not in self.producer:
            return False
        if node.op_type == "Cast":
            return int(self.attr(node, "to", 0)) in FLOAT_TYPES
        return node.op_type == "Identity" and not self.netcanvas

    def reshape(self, node: Any) -> None:
        """A Reshape in a foreign model, its target worked out (computed from the input's Shape,
        -1, 0 or the model's fixed batch size): to (N, k) it is a Flatten, to the same shape
        nothing, otherwise a Reshape to the explicit per-sample shape."""
        ins, out = list(node.input), node.output[0]
        target = self.constants.get(ins[1]) if len(ins) > 1 else None
        if target is None or ins[0] not in self.producer:
            return LAYERS.get("Reshape").from_onnx(self, node)
        shape = self.source(ins[0]).shape
        new = sample_shape(target, shape, self.batch, bool(self.attr(node, "allowzero", 0)))
        if new is None:
            raise self.fail(
                node,
                f"reshapes samples of shape {list(shape)} to {batch_text(target)}; NetCanvas "
                "keeps the batch axis first (N, 0 or -1) and the number of values of a sample",
            )
        if new == shape:
            return self.pass_on(node)
        if len(new) == 1:
            return LAYERS.get("Flatten").from_onnx(self, node)
        explicit = type(node)()
        explicit.CopyFrom(node)
        explicit.input[1] = f"{out}/target_shape"
        self.constants[explicit.input[1]] = np.array([0, *new], dtype=np.int64)
        return LAYERS.get("Reshape").from_onnx(self, explicit)

    def binary_probabilities(self, node: Any) -> bool:
        """1 - p and p joined (Concat on axis 1) after a one-unit sigmoid Dense, as a binary
        classifier writes its probabilities, become that Dense with two units and softmax:
        softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]."""
        ins, out = list(node.input), node.output[0]
        if not self.const_is(ins[0], 1.0) or ins[1] not in self.producer:
            return False
        p, layer = ins[1], self.source(ins[1])
        join = self.only_consumer(out)
        if (
            layer.type != "Dense"
            or (layer.params["activation"], layer.params["units"]) != ("sigmoid", 1)
            or join is None
            or join.op_type != "Concat"
            or list(join.input) != [out, p]
            or int(self.attr(join, "axis", 1)) not in (1, -1)
            or self.uses(layer) != 2
        ):
            return False
        kernel = layer.weights["kernel"]
        bias = layer.weights.get("bias", np.zeros(1, kernel.dtype))
        layer.weights = {
            "kernel": np.concatenate([np.zeros_like(kernel), kernel], axis=1),
            "bias": np.concatenate([np.zeros_like(bias), bias]),
        }
        layer.params.update(units=2, activation="softmax", use_bias=True)
        layer.shape, layer.name = (2,), join.output[0]
        self.done.add(id(join))
        self.producer[join.output[0]] = layer
        return True

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
        """Add the layer with the output shape its type works out (`rank` must agree)."""
        cls = LAYERS.get(layer_type)
        where = f"{layer_type} read from ONNX tensor '{output}'"
        full = resolve_params(cls, params, where)
        shape = tuple(cls.output_shape(full, [self.source(t).shape for t in inputs], where))
        if len(shape) + 1 != rank:
            raise NetworkFileError(
                f"{self.file}: {where} has {len(shape) + 1} axes with the batch, its reader said {rank}"
            )
        self.add(_Layer(output, layer_type, params, inputs, weights or {}, shape), output)

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
        if self.netcanvas:
            ids = node_ids([layer.name for layer in self.layers])
        else:
            ids = readable_ids(
                [(layer.type, layer.params.get("activation", layer.name)) for layer in self.layers]
            )
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
        output = self.output
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
    if proto.functions:  # modules exported as local functions: read their operators
        from onnx import inliner

        proto = inliner.inline_local_functions(proto)
    importer = _Importer(proto, path.name)
    try:
        importer.run()
        return importer.network({p.key: p.value for p in proto.metadata_props})
    except NetworkFileError:
        raise
    except NetCanvasError as exc:
        raise NetworkFileError(f"{path.name}: {exc}") from None
