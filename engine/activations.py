"""Activation functions: forward, backward, derivative and a plotting curve for each.

Arrays are `(N, ...)` of any float dtype and results keep it. The elementwise activations run the
Numba kernels of `engine._kernels.activations` (float32/float64; any shape is viewed as 2-D rows)
and fall back to their NumPy twins for other float dtypes. Softmax works over the last axis.

GELU is the exact form x·Φ(x) with the Gaussian CDF from erfc (as PyTorch's default and Keras'
`approximate=False`), not the tanh approximation, so an ONNX export must use the exact Gelu/Erf.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import activations as _k
from engine.errors import ConfigError
from engine.registry import ACTIVATIONS, ParamSpec, resolve_params

ACT_CODES = _k.ACT_CODES
"""Kernel code of each elementwise activation, for layers that call the fused kernels."""

_NO_BIAS = {dtype: np.empty(0, dtype) for dtype in KERNEL_DTYPES}


class Activation(ABC):
    """Base of every activation. Subclasses set the class attributes and the three maths methods."""

    name = ""
    group = "Activation"
    description = ""
    formula = ""
    param_specs: tuple[ParamSpec, ...] = ()
    kernel_code: int | None = None

    def __init__(self, **params: Any):
        self.params = resolve_params(type(self), params, f"activation '{self.name}'")

    @abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """a = f(z), same shape and dtype as z `(N, ...)`."""
        raise NotImplementedError

    @abstractmethod
    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """d(loss)/dz `(N, ...)` from the pre-activation z, the output a = f(z) and d(loss)/da."""
        raise NotImplementedError

    @abstractmethod
    def derivative(self, z: np.ndarray) -> np.ndarray:
        """Elementwise da/dz, same shape as z (for softmax the Jacobian diagonal s·(1-s))."""
        raise NotImplementedError

    def forward_with_bias(self, z: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """f(z + bias) for z `(N, units)` and bias `(units,)` (fused in one pass where possible)."""
        return self.forward(_as_float(z) + bias)

    def curve(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), f'(x)) for a 1-D array x of n points, each 1-D of length n, for plotting."""
        x = _as_float(np.asarray(x)).reshape(1, -1)
        return self.forward(x).reshape(-1), self.derivative(x).reshape(-1)


class _Elementwise(Activation):
    """An activation applied to each value on its own, computed by the fused Numba kernels."""

    kernel_code: int = _k.LINEAR

    @property
    def alpha(self) -> float:
        return float(self.params.get("alpha", 0.0))

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = _as_float(z)
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

    def forward_with_bias(self, z: np.ndarray, bias: np.ndarray) -> np.ndarray:
        z = _as_float(z)
        if z.ndim != 2 or np.shape(bias) != (z.shape[1],):
            raise ConfigError(
                f"activation '{self.name}': forward_with_bias expects z of shape (N, units) and bias "
                f"of shape (units,), got {z.shape} and {np.shape(bias)}"
            )
        rows = np.ascontiguousarray(z)
        bias = np.ascontiguousarray(bias, dtype=rows.dtype)
        out = np.empty_like(rows)
        kernel = _k.bias_act_forward if rows.dtype in KERNEL_DTYPES else _k.bias_act_forward_ref
        kernel(rows, bias, out, self.kernel_code, rows.dtype.type(self.alpha))
        return out

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        z = _as_float(z)
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
        z = _as_float(z)
        return self.backward(z, self.forward(z), np.ones_like(z))


def _as_float(z: Any) -> np.ndarray:
    z = np.asarray(z)
    return z if np.issubdtype(z.dtype, np.floating) else z.astype(np.float64)


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


@ACTIVATIONS.register
class Sigmoid(_Elementwise):
    name = "sigmoid"
    description = "Squashes values into (0, 1); the output for yes/no probabilities"
    formula = "σ(x) = 1 / (1 + e^-x)"
    kernel_code = _k.SIGMOID


@ACTIVATIONS.register
class Tanh(_Elementwise):
    name = "tanh"
    description = "Squashes values into (-1, 1), centred on zero"
    formula = "tanh(x) = (e^x - e^-x) / (e^x + e^-x)"
    kernel_code = _k.TANH


@ACTIVATIONS.register
class ReLU(_Elementwise):
    name = "relu"
    description = "Keeps positive values, zeroes negative ones; the usual hidden-layer choice"
    formula = "f(x) = max(0, x)"
    kernel_code = _k.RELU


@ACTIVATIONS.register
class LeakyReLU(_Elementwise):
    name = "leaky_relu"
    description = "Like ReLU but lets a small slope through for negative values"
    formula = "f(x) = x if x > 0 else α·x"
    param_specs = (ParamSpec("alpha", "float", 0.01, _ALPHA_HELP, minimum=0.0),)
    kernel_code = _k.LEAKY_RELU


@ACTIVATIONS.register
class ELU(_Elementwise):
    name = "elu"
    description = "Exponential linear unit: smooth for negative values, saturating at -α"
    formula = "f(x) = x if x > 0 else α·(e^x - 1)"
    param_specs = (
        ParamSpec("alpha", "float", 1.0, "Value approached for very negative inputs", minimum=0.0),
    )
    kernel_code = _k.ELU


@ACTIVATIONS.register
class SELU(_Elementwise):
    name = "selu"
    description = "Scaled ELU that keeps activations normalized in deep plain networks"
    formula = "f(x) = λ·x if x > 0 else λ·α·(e^x - 1), λ ≈ 1.0507, α ≈ 1.6733"
    kernel_code = _k.SELU


@ACTIVATIONS.register
class GELU(_Elementwise):
    name = "gelu"
    description = "Gaussian error linear unit (exact erf form), used in transformers"
    formula = "f(x) = x·Φ(x) = x/2 · (1 + erf(x / √2))"
    kernel_code = _k.GELU


@ACTIVATIONS.register
class SiLU(_Elementwise):
    name = "silu"
    description = "Sigmoid-weighted linear unit: x times its own sigmoid (also called swish)"
    formula = "f(x) = x·σ(x)"
    kernel_code = _k.SILU


@ACTIVATIONS.register
class Swish(SiLU):
    name = "swish"
    description = "Another name for silu: x times its own sigmoid"


@ACTIVATIONS.register
class Softplus(_Elementwise):
    name = "softplus"
    description = "A smooth ReLU: always positive, slope between 0 and 1"
    formula = "f(x) = ln(1 + e^x)"
    kernel_code = _k.SOFTPLUS


@ACTIVATIONS.register
class Softsign(_Elementwise):
    name = "softsign"
    description = "Squashes values into (-1, 1) more gently than tanh"
    formula = "f(x) = x / (1 + |x|)"
    kernel_code = _k.SOFTSIGN


@ACTIVATIONS.register
class HardSigmoid(_Elementwise):
    name = "hard_sigmoid"
    description = "Piecewise-linear sigmoid: cheap, 0 below -3 and 1 above 3 (Keras 3 definition)"
    formula = "f(x) = relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6"
    kernel_code = _k.HARD_SIGMOID


@ACTIVATIONS.register
class Softmax(Activation):
    """Softmax over the last axis, computed on max-subtracted values so it never overflows."""

    name = "softmax"
    description = "Turns a vector of scores into probabilities that sum to 1 (multi-class output)"
    formula = "softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ"
    kernel_code = None

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = _as_float(z)
        if z.dtype in KERNEL_DTYPES and z.ndim >= 1 and z.shape[-1] > 0:
            rows = np.ascontiguousarray(z).reshape(-1, z.shape[-1])
            out = np.empty_like(rows)
            _k.softmax_rows(rows, out)
            return out.reshape(z.shape)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """Jacobian-vector product over the last axis: s ⊙ (g - Σ g·s)."""
        a = np.asarray(a)
        grad_a = np.asarray(grad_a, dtype=a.dtype)
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        s = self.forward(z)
        return s * (1.0 - s)

    def curve(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Treats each x as the logit of one class against a second class fixed at 0, so the curve
        is the probability of the first class, σ(x), and its derivative s·(1-s)."""
        x = _as_float(np.asarray(x)).reshape(-1)
        pair = np.stack([x, np.zeros_like(x)], axis=-1)
        return self.forward(pair)[:, 0], self.derivative(pair)[:, 0]


def get_activation(name: str, **params: Any) -> Activation:
    """A new activation of the registered type `name` (RegistryError lists the valid names)."""
    return ACTIVATIONS.get(name)(**params)
