"""What the exporters and the ONNX importer hand to a layer, so a layer type can say how it is
exported and recognised without importing them (engine/export imports the layers, never the
reverse).

Each is a small builder (or reader) made by the exporter for one node; a layer's `to_onnx`,
`to_torch`, `to_numpy` and `from_onnx` (engine/layers/base.py) write through it. Text a layer
puts into generated code is built from its validated parameters (numbers, shapes, booleans) and
from the names the builder gives; a node id only ever appears through the builder, as a Python
name or a literal.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from engine.activations.base import OnnxGraph, OnnxReader


class LayerOnnxGraph(OnnxGraph, Protocol):
    """The ONNX exporter's graph builder, as a layer sees it."""

    def tensor(self, name: str, array: np.ndarray) -> str:
        """Add `array` as an initializer named `name` (weights: float32; shapes: int64)."""
        ...


class LayerOnnxReader(OnnxReader, Protocol):
    """The ONNX importer, as a layer type recognising its operators sees it."""

    def known(self, tensor: str) -> bool:
        """True when `tensor` is the output of a layer already read (or a graph input)."""
        ...

    def consume(self, node: Any) -> None:
        """Mark `node` as read as part of this layer (the walk skips it)."""
        ...

    def unsupported(self, node: Any) -> Exception:
        """The error for an operator NetCanvas has no layer for (raise it)."""
        ...

    def add_layer(
        self,
        layer_type: str,
        params: dict[str, Any],
        inputs: list[str],
        output: str,
        weights: dict[str, np.ndarray] | None = None,
        rank: int = 2,
    ) -> None:
        """Add a canvas node of `layer_type` reading tensors `inputs` and producing `output`
        (of `rank` axes, batch included), with its arrays under the layer's weight keys."""
        ...


class TorchModule(Protocol):
    """The PyTorch exporter's writer for one node of model.py."""

    var: str  # the node's Python name: its variable in forward() and its attribute
    dtype: np.dtype  # the network's dtype (for arrays the layer adds to the state dict)

    def module(self, text: str) -> str:
        """Declare `self.<var> = <text>` in __init__; returns "self.<var>"."""
        ...

    def init(self, line: str) -> None:
        """Add a line to __init__ after the declarations so far."""
        ...

    def state(self, key: str, array: np.ndarray, decayed: bool = False) -> None:
        """Put `array` into the state dict as "<var>.<key>" (weights.npz); `decayed`: a
        parameter AdamW decays, as NetCanvas decays the layer's "kernel" (engine/model.py)."""
        ...

    def penalty(self, text: str) -> None:
        """Add a term to regularization_loss() (added to the training loss)."""
        ...

    def activation(self, activation: Any, expr: str) -> str:
        """`expr` through `activation` (the bare `expr` when the loss works on this output's
        logits)."""
        ...


class NumpyScript(Protocol):
    """The NumPy-script exporter's writer for one node of forward()."""

    node_literal: str  # the node id as a Python string literal

    def weight(self, key: str) -> str:
        """The script's expression reading this node's array `key`."""
        ...

    def activation(self, activation: Any, expr: str) -> str:
        """`expr` through `activation` (its helper function is added to the script)."""
        ...

    def use(self, helper: str) -> None:
        """Add helper function `helper` of the layer's `numpy_helpers` to the script."""
        ...

    def note(self, text: str) -> None:
        """The comment after this node's line (replaces the default "<type> <id>")."""
        ...
