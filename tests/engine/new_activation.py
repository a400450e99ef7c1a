"""A new activation written in NumPy only (no Numba kernel), registered for one test at a time.

Everything the app asks of an activation is in the class: this file and the tests that use it
are all that adding it takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from engine.activations import NumpyActivation, OnnxGraph, OnnxMatch, OnnxReader
from engine.registry import ACTIVATIONS


class ScaledSoftsign(NumpyActivation):
    name = "scaled_softsign"
    description = "Softsign stretched to (-2, 2)"
    formula = "f(x) = 2x / (1 + |x|)"
    saturating = (-1.9, 1.9)
    bounded_range = (-2.0, 2.0)
    onnx_ops = ("Softsign",)
    numpy_name = "scaled_softsign"
    numpy_source = """def scaled_softsign(x):
    return 2 * x / (1 + np.abs(x))"""

    def function(self, z: np.ndarray) -> np.ndarray:
        return 2 * z / (1 + np.abs(z))

    def gradient(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 2 / np.square(1 + np.abs(z))

    def to_onnx(self, graph: OnnxGraph, x: str, out: str, prefix: str) -> str:
        s = graph.add("Softsign", [x], f"{prefix}/softsign", f"{prefix}/softsign")
        return graph.add("Mul", [s, graph.scalar(2.0)], out, prefix)

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """Softsign feeding only Mul(., 2)."""
        user = reader.only_consumer(node.output[0])
        if user is None or user.op_type != "Mul":
            return None
        rest = [i for i in user.input if i != node.output[0]]
        if len(rest) != 1 or not reader.const_is(rest[0], 2.0):
            return None
        return OnnxMatch(node.input[0], user.output[0], consumed=(user,))

    def torch_expression(self, arg: str) -> str:
        return f"2 * F.softsign({arg})"


@contextmanager
def registered(cls: type) -> Iterator[type]:
    """`cls` in the activation registry for the `with` block, removed after (even on failure)."""
    ACTIVATIONS.register(cls)
    try:
        yield cls
    finally:
        del ACTIVATIONS._entries[cls.name]
