"""Activation functions, one class each in the `ACTIVATIONS` registry (`get_activation(name)`).

`base` says what an activation declares (its maths, its monitor ranges, its ONNX / PyTorch /
NumPy script forms, how an ONNX import recognises it); `elementwise` holds the built-in ones the
Numba kernels compute, `softmax` and `sparsemax` the ones over the last axis. Importing this package registers
them all, in the order the inspector lists them.
"""

from __future__ import annotations

from typing import Any

from engine.activations import elementwise, softmax, sparsemax
from engine.activations.base import Activation, NumpyActivation, OnnxGraph, OnnxMatch, OnnxReader
from engine.registry import ACTIVATIONS

__all__ = [
    "Activation",
    "NumpyActivation",
    "OnnxGraph",
    "OnnxMatch",
    "OnnxReader",
    "elementwise",
    "get_activation",
    "softmax",
    "sparsemax",
]


def get_activation(name: str, **params: Any) -> Activation:
    """A new activation of the registered type `name` (RegistryError lists the valid names)."""
    return ACTIVATIONS.get(name)(**params)
