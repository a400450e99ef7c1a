"""Core layers: Input, Dense and Activation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine._kernels import KERNEL_DTYPES, parts
from engine._kernels import activations as _k
from engine.activations import get_activation
from engine.errors import GraphError
from engine.initializers import get_initializer
from engine.layers.base import (
    ACTIVATION_SPEC,
    KERNEL_SPECS,
    ActivatedLayer,
    KernelLayer,
    Layer,
    Shape,
    shape_text,
)
from engine.layers.workspaces import Workspaces
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule

_NO_BIAS = {dtype: np.empty(0, dtype) for dtype in KERNEL_DTYPES}
# Activations NumPy computes faster than a scalar Numba loop (its SIMD tanh: 5x in float32).
UFUNC_ACTIVATIONS = {_k.TANH: np.tanh}
_MAX_WORKSPACES = 6  # batch sizes whose arrays a Dense layer keeps at once


@LAYERS.register
class Input(Layer):
    name = "Input"
    group = "Core"
    description = "Where data enters the network; its shape excludes the batch dimension"
    param_specs = (ParamSpec("shape", "shape", (2,), "Shape of one sample, e.g. [784] or [1, 28, 28]"),)
    min_inputs = 0
    max_inputs = 0

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        return tuple(params["shape"])

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return f"Input {shape_text(params['shape'])}"

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        return inputs[0]

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return []

    # Every format reads an Input as a graph input: the exporters never ask it for a form.


@LAYERS.register
class Dense(KernelLayer):
    """Fully connected: `a = activation(x @ kernel + bias)`; kernel `(in, units)`, bias `(units,)`."""

    name = "Dense"
    group = "Core"
    description = "Fully connected layer: every input feeds every unit"
    param_specs = (
        ParamSpec("units", "int", 32, "Number of neurons (outputs)", minimum=1, maximum=1_000_000),
        ACTIVATION_SPEC,
        ParamSpec("use_bias", "bool", True, "Add a learned bias to each unit"),
        *KERNEL_SPECS,
    )

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 1:
            raise GraphError(f"{where} expects a 1-D input, got {shape_text(shape)}: add a Flatten before it")
        return (params["units"],)

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[Shape]) -> dict[str, Shape]:
        shapes = {"kernel": (input_shapes[0][0], params["units"])}
        if params["use_bias"]:
            shapes["bias"] = (params["units"],)
        return shapes

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        act = params["activation"]
        return f"Dense {params['units']}" + ("" if act == "linear" else f" · {act}")

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        self.activation = get_activation(params["activation"])
        self._workspaces = Workspaces(_MAX_WORKSPACES)

    def initialize(self, rng: np.random.Generator) -> None:
        fan_in, fan_out = self.weights["kernel"].shape
        for key, init_name in (("kernel", "kernel_initializer"), ("bias", "bias_initializer")):
            if key in self.weights:
                init = get_initializer(self.params[init_name])
                self.weights[key][...] = init(self.weights[key].shape, fan_in, fan_out, rng, self.dtype)

    def _workspace(self, rows: int, name: str = "a") -> np.ndarray:
        """Array `name` for a batch of `rows`, allocated on first use and reused: z, a, grad_z
        (rows, units) and grad_x (rows, inputs); inference never allocates the gradient ones. A
        few batch sizes are kept, least recently used dropped first (the training batch, the last
        short batch, a monitor's probe and grid batches)."""
        cols = self.input_shapes[0][0] if name == "grad_x" else self.output_shape_[0]
        return self._workspaces.get(rows, name, lambda: np.empty((rows, cols), self.dtype))

    def _kernel_ready(self, *arrays: np.ndarray) -> bool:
        """True when the fused kernels apply: an elementwise activation and contiguous arrays of
        the layer's dtype."""
        return (
            self.activation.kernel_code is not None
            and self.dtype in KERNEL_DTYPES
            and all(a.dtype == self.dtype and a.flags.c_contiguous for a in arrays)
        )

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """Output `(N, units)` of input `(N, inputs)`, computed into reused arrays: the result
        stays valid until the next forward with the same batch size."""
        x = self.x = inputs[0]
        kernel = self.weights["kernel"]
        if x.dtype != self.dtype or x.ndim != 2:
            z = x @ kernel
            if "bias" in self.weights:
                z += self.weights["bias"]
            self.pre_activation = z
            self.out = self.activation.forward(z)
            return self.out
        z = self.pre_activation = self._workspace(x.shape[0], "z")
        parts.matmul(x, kernel, z)
        bias = self.weights.get("bias", _NO_BIAS.get(self.dtype))
        ufunc = UFUNC_ACTIVATIONS.get(self.activation.kernel_code)
        if ufunc is not None:
            if "bias" in self.weights:
                np.add(z, bias, out=z)
            self.out = ufunc(z, out=self._workspace(x.shape[0], "a"))
        elif self._kernel_ready(z):
            self.out = self._workspace(x.shape[0], "a")
            _k.add_bias_act(
                z, bias, self.out, self.activation.kernel_code, self.dtype.type(self.activation.alpha)
            )
        else:
            if "bias" in self.weights:
                z += bias
            self.out = self.activation.forward(z)
        return self.out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        code = self.activation.kernel_code
        if code == _k.LINEAR:
            return self.backward_from_preactivation(grad_out)
        z, a = self.pre_activation, self.out
        if self._kernel_ready(z, a, grad_out) and grad_out.shape == z.shape:
            grad_z = self._workspace(z.shape[0], "grad_z")
            _k.bias_act_backward(z, a, grad_out, grad_z, code, self.dtype.type(self.activation.alpha))
        else:
            grad_z = self.activation.backward(z, a, grad_out)
        return self.backward_from_preactivation(grad_z)

    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        kernel = self.weights["kernel"]
        parts.matmul(self.x.T, grad_z, self.grads["kernel"])
        self.add_penalty_gradients()
        contiguous = grad_z.dtype == self.dtype and grad_z.flags.c_contiguous and grad_z.ndim == 2
        if "bias" in self.grads:
            if contiguous and self.dtype in KERNEL_DTYPES:
                _k.column_sums(grad_z, self.grads["bias"])
            else:
                np.sum(grad_z, axis=0, out=self.grads["bias"])
        if not self.needs_input_grad:
            return [None]
        if contiguous and self.x.ndim == 2:
            grad_x = self._workspace(grad_z.shape[0], "grad_x")
            parts.matmul(grad_z, kernel.T, grad_x)
            return [grad_x]
        return [grad_z @ kernel.T]

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Gemm", "MatMul")

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Gemm with the kernel in (in, units) layout (transB=0), then the activation."""
        inputs = [args[0], g.tensor(f"{out}/kernel", weights["kernel"])]
        if "bias" in weights:
            inputs.append(g.tensor(f"{out}/bias", weights["bias"]))
        if self.activation.name == "linear":
            return g.add("Gemm", inputs, out, out)
        z = g.add("Gemm", inputs, f"{out}/linear", f"{out}/linear")
        return self.activation.to_onnx(g, z, out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        """nn.Linear (its weight is the kernel transposed), then the activation as a function."""
        p = self.params
        bias = "" if p["use_bias"] else ", bias=False"
        linear = m.module(f"nn.Linear({self.input_shapes[0][0]}, {p['units']}{bias})")
        m.state("weight", np.ascontiguousarray(self.weights["kernel"].T), decayed=True)
        if p["use_bias"]:
            m.state("bias", self.weights["bias"].copy())
        for key, term in (("kernel_l1", "abs().sum()"), ("kernel_l2", "square().sum()")):
            if p[key]:
                m.penalty(f"{p[key]!r} * {linear}.weight.{term}")
        return m.activation(self.activation, f"{linear}({args[0]})")

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        z = f"{args[0]} @ {s.weight('kernel')}"
        if "bias" in self.weights:
            z += f" + {s.weight('bias')}"
        return s.activation(self.activation, z)

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """Gemm (transA=0, alpha=beta=1), or MatMul with a constant 2-D weight followed by the
        Add of a constant bias; the activation after it is folded in by the importer."""
        ins, out = list(node.input), node.output[0]
        kernel = reader.constant(ins[1]) if len(ins) >= 2 else None
        if kernel is None or not reader.known(ins[0]):
            raise reader.fail(node, "needs a constant weight matrix as its second input")
        kernel = kernel.astype(np.float32)
        if kernel.ndim != 2:
            raise reader.fail(node, f"has a weight of shape {kernel.shape}; a Dense kernel is 2-D")
        bias = None
        if node.op_type == "Gemm":
            if (
                reader.attr(node, "transA", 0)
                or reader.attr(node, "alpha", 1.0) != 1.0
                or reader.attr(node, "beta", 1.0) != 1.0
            ):
                raise reader.fail(node, "uses transA, alpha or beta, which a Dense layer cannot express")
            if reader.attr(node, "transB", 0):
                kernel = kernel.T
            if len(ins) > 2 and ins[2]:
                bias = reader.constant(ins[2])
                if bias is None:
                    raise reader.fail(node, "needs a constant bias")
        else:
            user = reader.only_consumer(out)
            if user is not None and user.op_type == "Add":
                other = [i for i in user.input if i != out]
                if len(other) == 1 and reader.constant(other[0]) is not None:
                    bias = reader.constant(other[0])
                    reader.consume(user)
                    out = user.output[0]
        units = kernel.shape[1]
        weights = {"kernel": np.ascontiguousarray(kernel)}
        if bias is not None:
            weights["bias"] = np.broadcast_to(np.asarray(bias, np.float32).reshape(-1), (units,)).copy()
        params = {"units": int(units), "activation": "linear", "use_bias": bias is not None}
        reader.add_layer("Dense", params, [ins[0]], out, weights)


@LAYERS.register
class Activation(ActivatedLayer):
    name = "Activation"
    group = "Activation"
    description = "Applies a non-linearity to each value (softmax: over the last axis)"
    param_specs = (
        ACTIVATION_SPEC,
        ParamSpec(
            "alpha",
            "float",
            None,
            "Slope/scale for leaky_relu and elu (empty = the activation's default)",
            optional=True,
        ),
    )

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return str(params["activation"])

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        extra = {}
        if params["alpha"] is not None:
            extra["alpha"] = params["alpha"]
        self.activation = get_activation(params["activation"], **extra)

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        self.pre_activation = inputs[0]
        self.out = self.activation.forward(inputs[0])
        return self.out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return [self.activation.backward(self.pre_activation, self.out, grad_out)]

    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        return [grad_z]

    # Export forms: the activation's own. (The importer makes an Activation node from an
    # activation's operators when it cannot fold them into the Dense before.)
    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        return self.activation.to_onnx(g, args[0], out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return m.activation(self.activation, args[0])

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return s.activation(self.activation, args[0])
