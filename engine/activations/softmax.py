"""Softmax: the one activation that is not elementwise (it works over the last axis)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import activations as _k
from engine.activations.base import Activation, OnnxMatch, OnnxReader, as_float
from engine.registry import ACTIVATIONS


@ACTIVATIONS.register
class Softmax(Activation):
    """Softmax over the last axis, computed on max-subtracted values so it never overflows."""

    name = "softmax"
    description = "Turns a vector of scores into probabilities that sum to 1 (multi-class output)"
    formula = "softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ"
    kernel_code = None
    bounded_range = (0.0, 1.0)
    onnx_op = "Softmax"
    onnx_ops = ("Softmax",)
    numpy_name = "softmax"
    numpy_source = '''def softmax(x):
    """Over the last axis, on max-subtracted values so it never overflows."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)'''

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
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
        x = as_float(np.asarray(x)).reshape(-1)
        pair = np.stack([x, np.zeros_like(x)], axis=-1)
        return self.forward(pair)[:, 0], self.derivative(pair)[:, 0]

    def onnx_attributes(self) -> dict[str, Any]:
        return {"axis": -1}

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        rank = reader.rank(node.input[0])
        axis = int(reader.attr(node, "axis", -1))
        if axis % rank != rank - 1:
            raise reader.fail(node, f"works on axis {axis}; NetCanvas's softmax works on the last axis")
        return cls.simple_onnx_match(node)

    def torch_expression(self, arg: str) -> str:
        return f"torch.softmax({arg}, dim=-1)"
