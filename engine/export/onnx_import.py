"""ONNX import: an ONNX model whose operators map onto the layer registry, as a Network with weights.

| ONNX | NetCanvas |
|---|---|
| Gemm (transA=0, alpha=beta=1), MatMul with a constant 2-D weight (+ Add of a constant bias) | Dense |
| Relu Sigmoid Tanh Softplus Softsign Selu Elu LeakyRelu HardSigmoid(1/6, 0.5) Softmax(last axis) Gelu; Sigmoid+Mul (silu); Div/Erf/Add/Mul/Mul (exact gelu) | the activation of the Dense before it, or an Activation node |
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

from engine.data import Standardizer
from engine.errors import NetCanvasError, NetworkFileError
from engine.export import require
from engine.export.onnx_export import SELU_ALPHA, SELU_GAMMA
from engine.graph import NetworkSpec
from engine.network import Network

_SIMPLE_ACTIVATIONS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "Identity": "linear",
}
SUPPORTED = (
    "Gemm, MatMul(+Add), Relu, Sigmoid, Tanh, Softplus, Softsign, Selu, Elu, LeakyRelu, "
    "HardSigmoid, Softmax, Gelu, Erf (exact gelu), Mul (silu), Dropout, Flatten, Reshape, "
    "BatchNormalization, Add, Sum, Concat, Identity, Sub/Div (input standardization)"
)


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
        self.scaler: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ helpers
    def fail(self, node: Any, why: str) -> NetworkFileError:
        return NetworkFileError(f"{self.file}: {node.op_type} node '{node.name or node.output[0]}' {why}")

    def unsupported(self, node: Any) -> NetworkFileError:
        return NetworkFileError(
            f"{self.file}: operator '{node.op_type}' (node '{node.name or node.output[0]}') has no "
            f"NetCanvas layer; supported: {SUPPORTED}"
        )

    def attr(self, node: Any, name: str, default: Any) -> Any:
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def source(self, tensor: str) -> _Layer:
        return self.producer[tensor]

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
        if op in ("Gemm", "MatMul"):
            return self.dense(node)
        if op in _SIMPLE_ACTIVATIONS:
            if op == "Sigmoid" and self.silu(node):
                return None
            return self.activation_layer(node, _SIMPLE_ACTIVATIONS[op], ins[0], out)
        if op in ("LeakyRelu", "Elu"):
            alpha = float(self.attr(node, "alpha", 0.01 if op == "LeakyRelu" else 1.0))
            name = "leaky_relu" if op == "LeakyRelu" else "elu"
            default = 0.01 if op == "LeakyRelu" else 1.0
            return self.activation_layer(
                node,
                name,
                ins[0],
                out,
                None if math.isclose(alpha, default, rel_tol=1e-6) else {"alpha": alpha},
            )
        if op == "Selu":
            alpha, gamma = self.attr(node, "alpha", SELU_ALPHA), self.attr(node, "gamma", SELU_GAMMA)
            if not (
                math.isclose(alpha, SELU_ALPHA, rel_tol=1e-6)
                and math.isclose(gamma, SELU_GAMMA, rel_tol=1e-6)
            ):
                raise self.fail(
                    node, f"has alpha {alpha} / gamma {gamma}; NetCanvas's selu uses the standard ones"
                )
            return self.activation_layer(node, "selu", ins[0], out)
        if op == "HardSigmoid":
            alpha, beta = self.attr(node, "alpha", 0.2), self.attr(node, "beta", 0.5)
            if not (math.isclose(alpha, 1 / 6, rel_tol=1e-6) and math.isclose(beta, 0.5)):
                raise self.fail(
                    node,
                    f"has alpha {alpha:g}, beta {beta:g}; NetCanvas's hard_sigmoid is "
                    "alpha 1/6, beta 0.5 (relu6(x + 3) / 6)",
                )
            return self.activation_layer(node, "hard_sigmoid", ins[0], out)
        if op == "Gelu":
            if self.attr(node, "approximate", b"none") not in (b"none", "none"):
                raise self.fail(node, "uses the tanh approximation; NetCanvas's gelu is the exact one")
            return self.activation_layer(node, "gelu", ins[0], out)
        if op == "Softmax":
            rank = self.source(ins[0]).rank
            axis = int(self.attr(node, "axis", -1))
            if axis % rank != rank - 1:
                raise self.fail(node, f"works on axis {axis}; NetCanvas's softmax works on the last axis")
            return self.activation_layer(node, "softmax", ins[0], out)
        if op == "Div" and self.gelu(node):
            return None
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
        return self.structural(node)

    def structural(self, node: Any) -> None:
        op, ins, out = node.op_type, list(node.input), node.output[0]
        if op == "Dropout":
            ratio = (
                float(self.constants[ins[1]]) if len(ins) > 1 and ins[1] else self.attr(node, "ratio", 0.5)
            )
            src = self.source(ins[0])
            self.add(_Layer(out, "Dropout", {"rate": round(float(ratio), 7)}, [ins[0]], rank=src.rank), out)
        elif op == "Flatten":
            if int(self.attr(node, "axis", 1)) != 1:
                raise self.fail(node, "flattens from an axis other than 1 (NetCanvas keeps the batch axis)")
            self.add(_Layer(out, "Flatten", {}, [ins[0]], rank=2), out)
        elif op == "Reshape":
            self.reshape(node)
        elif op == "BatchNormalization":
            if any(name not in self.constants for name in ins[1:5]):
                raise self.fail(node, "needs constant scale, bias, mean and variance")
            gamma, beta, mean, var = (self.constants[n].astype(np.float32) for n in ins[1:5])
            # NetCanvas writes a fixed scale / offset under these names for scale/center = false
            scale, center = not ins[1].endswith("/unit_scale"), not ins[2].endswith("/zero_offset")
            params = {
                "epsilon": float(self.attr(node, "epsilon", 1e-5)),
                "momentum": round(float(self.attr(node, "momentum", 0.9)), 7),
                "scale": scale,
                "center": center,
            }
            weights = {"moving_mean": mean, "moving_variance": var}
            if scale:
                weights["gamma"] = gamma
            if center:
                weights["beta"] = beta
            self.add(
                _Layer(out, "BatchNormalization", params, [ins[0]], weights, rank=self.source(ins[0]).rank),
                out,
            )
        elif op in ("Add", "Sum") and all(i in self.producer for i in ins) and len(ins) >= 2:
            self.add(_Layer(out, "Add", {}, ins, rank=self.source(ins[0]).rank), out)
        elif op == "Concat" and all(i in self.producer for i in ins):
            rank = self.source(ins[0]).rank
            axis = int(self.attr(node, "axis", 1)) % rank
            if axis == 0:
                raise self.fail(node, "joins along the batch axis")
            sample_axis = axis - 1 if axis < rank - 1 else -1
            self.add(_Layer(out, "Concatenate", {"axis": sample_axis}, ins, rank=rank), out)
        else:
            raise self.unsupported(node)

    def dense(self, node: Any) -> None:
        ins, out = list(node.input), node.output[0]
        if len(ins) < 2 or ins[1] not in self.constants or ins[0] not in self.producer:
            raise self.fail(node, "needs a constant weight matrix as its second input")
        kernel = self.constants[ins[1]].astype(np.float32)
        if kernel.ndim != 2:
            raise self.fail(node, f"has a weight of shape {kernel.shape}; a Dense kernel is 2-D")
        bias = None
        if node.op_type == "Gemm":
            if (
                self.attr(node, "transA", 0)
                or self.attr(node, "alpha", 1.0) != 1.0
                or self.attr(node, "beta", 1.0) != 1.0
            ):
                raise self.fail(node, "uses transA, alpha or beta, which a Dense layer cannot express")
            if self.attr(node, "transB", 0):
                kernel = kernel.T
            if len(ins) > 2 and ins[2]:
                bias = self.constants.get(ins[2])
                if bias is None:
                    raise self.fail(node, "needs a constant bias")
        else:
            user = self.only_consumer(out)
            if user is not None and user.op_type == "Add":
                other = [i for i in user.input if i != out]
                if len(other) == 1 and other[0] in self.constants:
                    bias = self.constants[other[0]]
                    self.done.add(id(user))
                    out = user.output[0]
        units = kernel.shape[1]
        weights = {"kernel": np.ascontiguousarray(kernel)}
        if bias is not None:
            weights["bias"] = np.broadcast_to(np.asarray(bias, np.float32).reshape(-1), (units,)).copy()
        params = {"units": int(units), "activation": "linear", "use_bias": bias is not None}
        self.add(_Layer(out, "Dense", params, [ins[0]], weights, rank=2), out)

    def reshape(self, node: Any) -> None:
        ins, out = list(node.input), node.output[0]
        if ins[1] not in self.constants:
            raise self.fail(node, "needs a constant target shape")
        shape = [int(d) for d in self.constants[ins[1]]]
        if len(shape) < 2 or shape[0] not in (0, -1) or any(d <= 0 for d in shape[1:]):
            raise self.fail(
                node,
                f"reshapes to {shape}; NetCanvas needs the batch axis kept (0 or -1 "
                "first) and explicit sizes for the others",
            )
        self.add(_Layer(out, "Reshape", {"target_shape": shape[1:]}, [ins[0]], rank=len(shape)), out)

    # ----------------------------------------------------------- composite activations
    def silu(self, node: Any) -> bool:
        """Sigmoid(x) feeding only Mul(x, sigmoid(x)): silu."""
        x, s = node.input[0], node.output[0]
        user = self.only_consumer(s)
        if user is None or user.op_type != "Mul" or sorted(user.input) != sorted([x, s]):
            return False
        self.done.add(id(user))
        self.activation_layer(node, "silu", x, user.output[0], users=2)
        return True

    def gelu(self, node: Any) -> bool:
        """x / sqrt(2) -> Erf -> + 1 -> x * . -> * 0.5: the exact gelu NetCanvas exports."""
        x = node.input[0]
        chain, tensor = [node], node.output[0]
        expected = (("Erf", None), ("Add", 1.0), ("Mul", "x"), ("Mul", 0.5))
        if not self._const_is(node.input[1], math.sqrt(2.0)):
            return False
        for op, other in expected:
            user = self.only_consumer(tensor)
            if user is None or user.op_type != op:
                return False
            rest = [i for i in user.input if i != tensor]
            if other == "x" and rest != [x]:
                return False
            if isinstance(other, float) and not (len(rest) == 1 and self._const_is(rest[0], other)):
                return False
            chain.append(user)
            tensor = user.output[0]
        self.done.update(id(n) for n in chain[1:])
        self.activation_layer(node, "gelu", x, tensor, users=2)
        return True

    def _const_is(self, name: str, value: float) -> bool:
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
