"""The built-in elementwise activations, computed by the fused Numba kernels.

Arrays are `(N, ...)` of any float dtype and results keep it. They run the kernels of
`engine._kernels.activations` (float32/float64; any shape is viewed as 2-D rows) and fall back to
their NumPy twins for other float dtypes. Each class also gives its ONNX, PyTorch and NumPy script
forms and how an ONNX import recognises it (see `engine.activations.base`).

GELU is the exact form x·Φ(x) with the Gaussian CDF from erfc (as PyTorch's default and Keras'
`approximate=False`), not the tanh approximation, so an ONNX export must use the exact Gelu/Erf.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import activations as _k
from engine.activations.base import Activation, OnnxGraph, OnnxMatch, OnnxReader, as_float
from engine.errors import ConfigError
from engine.registry import ACTIVATIONS, ParamSpec

_NO_BIAS = {dtype: np.empty(0, dtype) for dtype in KERNEL_DTYPES}


class _Elementwise(Activation):
    """An activation applied to each value on its own, computed by the fused Numba kernels."""

    kernel_code: int = _k.LINEAR

    @property
    def alpha(self) -> float:
        return float(self.params.get("alpha", 0.0))

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
        rows = _rows(z)
        out = np.empty_like(rows)
        kernel = _k.bias_act_forward if rows.dtype in KERNEL_DTYPES else _k.bias_act_forward_ref
        kernel(
            rows,
            _NO_BIAS.get(rows.dtype, np.empty(0, rows.dtype)),
            out,
            self.kernel_code,
            rows.dtype.type(self.alpha),
        )
        return out.reshape(z.shape)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        z = as_float(z)
        rows = _rows(z)
        a_rows = _rows(np.asarray(a, dtype=z.dtype))
        g_rows = _rows(np.asarray(grad_a, dtype=z.dtype))
        if a_rows.shape != rows.shape or g_rows.shape != rows.shape:
            raise ConfigError(
                f"activation '{self.name}': backward expects z, a and grad_a of one shape, "
                f"got {z.shape}, {np.shape(a)} and {np.shape(grad_a)}"
            )
        grad_z = np.empty_like(rows)
        kernel = _k.bias_act_backward if rows.dtype in KERNEL_DTYPES else _k.bias_act_backward_ref
        kernel(rows, a_rows, g_rows, grad_z, self.kernel_code, rows.dtype.type(self.alpha))
        return grad_z.reshape(z.shape)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
        return self.backward(z, self.forward(z), np.ones_like(z))


def _rows(z: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D view (or copy) of z: (N, rest) for z of shape (N, ...)."""
    z = np.ascontiguousarray(z)  # at least 1-D
    if z.ndim == 2:
        return z
    return z.reshape(z.shape[0], -1 if z.size else 0)


_ALPHA_HELP = "Slope for negative inputs"


@ACTIVATIONS.register
class Linear(_Elementwise):
    name = "linear"
    description = "Identity: passes values through unchanged (regression outputs)"
    formula = "f(x) = x"
    kernel_code = _k.LINEAR
    onnx_op = "Identity"
    onnx_ops = ("Identity",)

    def torch_expression(self, arg: str) -> str:
        return arg

    def numpy_expression(self, arg: str) -> str:
        return arg


@ACTIVATIONS.register
class Sigmoid(_Elementwise):
    name = "sigmoid"
    description = "Squashes values into (0, 1); the output for yes/no probabilities"
    formula = "σ(x) = 1 / (1 + e^-x)"
    kernel_code = _k.SIGMOID
    saturating = (0.02, 0.98)
    bounded_range = (0.0, 1.0)
    onnx_op = "Sigmoid"
    onnx_ops = ("Sigmoid",)
    torch_function = "torch.sigmoid"
    numpy_name = "sigmoid"
    numpy_source = '''def sigmoid(x):
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)'''


@ACTIVATIONS.register
class Tanh(_Elementwise):
    name = "tanh"
    description = "Squashes values into (-1, 1), centred on zero"
    formula = "tanh(x) = (e^x - e^-x) / (e^x + e^-x)"
    kernel_code = _k.TANH
    saturating = (-0.98, 0.98)
    bounded_range = (-1.0, 1.0)
    onnx_op = "Tanh"
    onnx_ops = ("Tanh",)
    torch_function = "torch.tanh"
    numpy_name = "tanh"
    numpy_source = """def tanh(x):
    return np.tanh(x)"""


@ACTIVATIONS.register
class ReLU(_Elementwise):
    name = "relu"
    description = "Keeps positive values, zeroes negative ones; the usual hidden-layer choice"
    formula = "f(x) = max(0, x)"
    kernel_code = _k.RELU
    has_dead_units = True
    onnx_op = "Relu"
    onnx_ops = ("Relu",)
    torch_function = "F.relu"
    numpy_name = "relu"
    numpy_source = """def relu(x):
    return np.where(x < 0, 0, x)"""


class _WithAlpha(_Elementwise):
    """An activation with an `alpha` parameter, which every form passes on."""

    onnx_default_alpha = 0.0  # ONNX's default when the attribute is absent

    def onnx_attributes(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        alpha = float(reader.attr(node, "alpha", cls.onnx_default_alpha))
        return cls.simple_onnx_match(node, **cls.non_default("alpha", alpha))

    def torch_expression(self, arg: str) -> str:
        return f"{self.torch_function}({arg}, {self.alpha!r})"

    def numpy_expression(self, arg: str) -> str:
        return f"{self.numpy_name}({arg}, alpha={self.alpha!r})"


@ACTIVATIONS.register
class LeakyReLU(_WithAlpha):
    name = "leaky_relu"
    description = "Like ReLU but lets a small slope through for negative values"
    formula = "f(x) = x if x > 0 else α·x"
    param_specs = (ParamSpec("alpha", "float", 0.01, _ALPHA_HELP, minimum=0.0),)
    kernel_code = _k.LEAKY_RELU
    onnx_op = "LeakyRelu"
    onnx_ops = ("LeakyRelu",)
    onnx_default_alpha = 0.01
    torch_function = "F.leaky_relu"
    numpy_name = "leaky_relu"
    numpy_source = """def leaky_relu(x, alpha):
    return np.where(x > 0, x, x.dtype.type(alpha) * x)"""


@ACTIVATIONS.register
class ELU(_WithAlpha):
    name = "elu"
    description = "Exponential linear unit: smooth for negative values, saturating at -α"
    formula = "f(x) = x if x > 0 else α·(e^x - 1)"
    param_specs = (
        ParamSpec("alpha", "float", 1.0, "Value approached for very negative inputs", minimum=0.0),
    )
    kernel_code = _k.ELU
    onnx_op = "Elu"
    onnx_ops = ("Elu",)
    onnx_default_alpha = 1.0
    torch_function = "F.elu"
    numpy_name = "elu"
    numpy_source = """def elu(x, alpha):
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))"""


@ACTIVATIONS.register
class SELU(_Elementwise):
    name = "selu"
    description = "Scaled ELU that keeps activations normalized in deep plain networks"
    formula = "f(x) = λ·x if x > 0 else λ·α·(e^x - 1), λ ≈ 1.0507, α ≈ 1.6733"
    kernel_code = _k.SELU
    onnx_op = "Selu"
    onnx_ops = ("Selu",)
    torch_function = "F.selu"
    numpy_name = "selu"
    numpy_source = f"""def selu(x):
    scale, alpha = {float(_k.SELU_SCALE)!r}, {float(_k.SELU_ALPHA)!r}
    t = x.dtype.type
    return np.where(x > 0, t(scale) * x, t(scale * alpha) * np.expm1(np.minimum(x, 0)))"""

    def onnx_attributes(self) -> dict[str, Any]:
        return {"alpha": _k.SELU_ALPHA, "gamma": _k.SELU_SCALE}

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        alpha, gamma = reader.attr(node, "alpha", _k.SELU_ALPHA), reader.attr(node, "gamma", _k.SELU_SCALE)
        if not (
            math.isclose(alpha, _k.SELU_ALPHA, rel_tol=1e-6)
            and math.isclose(gamma, _k.SELU_SCALE, rel_tol=1e-6)
        ):
            raise reader.fail(
                node, f"has alpha {alpha} / gamma {gamma}; NetCanvas's selu uses the standard ones"
            )
        return cls.simple_onnx_match(node)


@ACTIVATIONS.register
class GELU(_Elementwise):
    name = "gelu"
    description = "Gaussian error linear unit (exact erf form), used in transformers"
    formula = "f(x) = x·Φ(x) = x/2 · (1 + erf(x / √2))"
    kernel_code = _k.GELU
    onnx_ops = ("Gelu", "Div")
    torch_function = "F.gelu"
    numpy_name = "gelu"
    numpy_source = '''_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def gelu(x):
    """Exact GELU: x/2 * (1 + erf(x / sqrt 2)), written with erfc for accuracy when x < 0."""
    return (0.5 * x * _erfc(-x * x.dtype.type(1 / math.sqrt(2))).astype(x.dtype)).astype(x.dtype)'''

    def to_onnx(self, graph: OnnxGraph, x: str, out: str, prefix: str) -> str:
        """0.5·x·(1 + erf(x/√2)) as Div, Erf, Add, Mul, Mul: the exact form, valid in every opset."""
        t = graph.add("Div", [x, graph.scalar(math.sqrt(2.0))], f"{prefix}/gelu_div", f"{prefix}/gelu_div")
        t = graph.add("Erf", [t], f"{prefix}/gelu_erf", f"{prefix}/gelu_erf")
        t = graph.add("Add", [t, graph.scalar(1.0)], f"{prefix}/gelu_add", f"{prefix}/gelu_add")
        t = graph.add("Mul", [x, t], f"{prefix}/gelu_mul", f"{prefix}/gelu_mul")
        return graph.add("Mul", [t, graph.scalar(0.5)], out, prefix)

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """Gelu (not the tanh approximation), or x / sqrt(2) -> Erf -> + 1 followed by the two
        products with x and with 0.5 in either order (PyTorch's TorchScript exporter multiplies
        by x first, its dynamo exporter by 0.5 first), each product's operands in either order."""
        if node.op_type == "Gelu":
            if reader.attr(node, "approximate", b"none") not in (b"none", "none"):
                raise reader.fail(node, "uses the tanh approximation; NetCanvas's gelu is the exact one")
            return cls.simple_onnx_match(node)
        x = node.input[0]
        if len(node.input) != 2 or not reader.const_is(node.input[1], math.sqrt(2.0)):
            return None
        chain, tensor, factors = [], node.output[0], {"x", "half"}
        for op in ("Erf", "Add", "Mul", "Mul"):
            user = reader.only_consumer(tensor)
            if user is None or user.op_type != op:
                return None
            rest = [i for i in user.input if i != tensor]
            one = len(rest) == 1
            if op == "Add" and not (one and reader.const_is(rest[0], 1.0)):
                return None
            if op == "Mul":
                factor = "x" if rest == [x] else "half" if one and reader.const_is(rest[0], 0.5) else ""
                if factor not in factors:
                    return None
                factors.remove(factor)
            chain.append(user)
            tensor = user.output[0]
        return OnnxMatch(x, tensor, consumed=tuple(chain), users=2)


@ACTIVATIONS.register
class SiLU(_Elementwise):
    name = "silu"
    description = "Sigmoid-weighted linear unit: x times its own sigmoid (also called swish)"
    formula = "f(x) = x·σ(x)"
    kernel_code = _k.SILU
    onnx_ops = ("Sigmoid",)
    torch_function = "F.silu"
    numpy_name = "silu"
    numpy_source = '''def silu(x):
    """x * sigmoid(x) (also called swish)."""
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return x * np.where(x >= 0, r, e * r)'''

    def to_onnx(self, graph: OnnxGraph, x: str, out: str, prefix: str) -> str:
        """Sigmoid, Mul: x·σ(x)."""
        s = graph.add("Sigmoid", [x], f"{prefix}/sigmoid", f"{prefix}/sigmoid")
        return graph.add("Mul", [x, s], out, prefix)

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """Sigmoid(x) feeding only Mul(x, sigmoid(x))."""
        x, s = node.input[0], node.output[0]
        user = reader.only_consumer(s)
        if user is None or user.op_type != "Mul" or sorted(user.input) != sorted([x, s]):
            return None
        return OnnxMatch(x, user.output[0], consumed=(user,), users=2)


@ACTIVATIONS.register
class Swish(SiLU):
    name = "swish"
    description = "Another name for silu: x times its own sigmoid"
    onnx_ops = ()  # an import reads the pattern back as silu


@ACTIVATIONS.register
class Softplus(_Elementwise):
    name = "softplus"
    description = "A smooth ReLU: always positive, slope between 0 and 1"
    formula = "f(x) = ln(1 + e^x)"
    kernel_code = _k.SOFTPLUS
    onnx_op = "Softplus"
    onnx_ops = ("Softplus", "Greater")
    torch_function = "F.softplus"
    numpy_name = "softplus"
    numpy_source = '''def softplus(x):
    """log(1 + e^x) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))'''

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """Softplus, or PyTorch's with its threshold t as its dynamo exporter writes it:
        Where(Greater(x, t), x, Softplus(x)) (read from either the Softplus or the Greater). Above
        t it gives x, which differs from softplus by less than e^-t: a t below 14 (e^-14 = 8e-7)
        is refused."""
        x = node.input[0]
        plain = cls.simple_onnx_match(node) if node.op_type == "Softplus" else None
        where = reader.only_consumer(node.output[0])
        if where is None or where.op_type != "Where" or len(where.input) != 3:
            return plain
        test, soft = reader.writer_of(where.input[0]), reader.writer_of(where.input[2])
        if (
            test is None
            or soft is None
            or (test.op_type, soft.op_type) != ("Greater", "Softplus")
            or [test.input[0], where.input[1], soft.input[0]] != [x, x, x]
        ):
            return plain
        threshold = reader.constant(test.input[1])
        if threshold is None or threshold.size != 1 or float(threshold) < 14:
            raise reader.fail(
                node,
                f"gives x above a threshold of {threshold}; NetCanvas's softplus matches that only "
                "for a constant threshold of 14 or more",
            )
        other = test if node.op_type == "Softplus" else soft
        return OnnxMatch(x, where.output[0], consumed=(other, where), users=3)


@ACTIVATIONS.register
class Softsign(_Elementwise):
    name = "softsign"
    description = "Squashes values into (-1, 1) more gently than tanh"
    formula = "f(x) = x / (1 + |x|)"
    kernel_code = _k.SOFTSIGN
    saturating = (-0.95, 0.95)
    bounded_range = (-1.0, 1.0)
    onnx_op = "Softsign"
    onnx_ops = ("Softsign",)
    torch_function = "F.softsign"
    numpy_name = "softsign"
    numpy_source = """def softsign(x):
    return x / (1 + np.abs(x))"""


@ACTIVATIONS.register
class HardSigmoid(_Elementwise):
    name = "hard_sigmoid"
    description = "Piecewise-linear sigmoid: cheap, 0 below -3 and 1 above 3 (Keras 3 definition)"
    formula = "f(x) = relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6"
    kernel_code = _k.HARD_SIGMOID
    saturating = (0.02, 0.98)
    bounded_range = (0.0, 1.0)
    onnx_op = "HardSigmoid"
    onnx_ops = ("HardSigmoid",)
    torch_function = "F.hardsigmoid"  # relu6(x + 3) / 6, as NetCanvas (Keras 3)
    numpy_name = "hard_sigmoid"
    numpy_source = '''def hard_sigmoid(x):
    """Keras 3's definition: relu6(x + 3) / 6."""
    return np.minimum(np.maximum(x + 3, 0), 6) / x.dtype.type(6)'''

    def onnx_attributes(self) -> dict[str, Any]:
        return {"alpha": 1.0 / 6.0, "beta": 0.5}  # Keras 3's relu6(x + 3) / 6

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        alpha, beta = reader.attr(node, "alpha", 0.2), reader.attr(node, "beta", 0.5)
        if not (math.isclose(alpha, 1 / 6, rel_tol=1e-6) and math.isclose(beta, 0.5)):
            raise reader.fail(
                node,
                f"has alpha {alpha:g}, beta {beta:g}; NetCanvas's hard_sigmoid is "
                "alpha 1/6, beta 0.5 (relu6(x + 3) / 6)",
            )
        return cls.simple_onnx_match(node)
