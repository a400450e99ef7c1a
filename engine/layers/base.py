"""The contract every layer type fulfils.

Class level (no arrays, used by the canvas, validation, summary and file loader):
`output_shape`, `weight_shapes`, `trainable_keys`, `describe`. Instance level (built by
`engine.model.Model`): `weights` and `grads` dicts under the same keys, `initialize`, `forward`,
`backward`, `regularization_loss`. Shapes exclude the batch dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from engine.registry import ParamSpec

Shape = tuple[int, ...]


class Layer(ABC):
    name: ClassVar[str]
    group: ClassVar[str]
    description: ClassVar[str]
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    # ----------------------------------------------------------- class level
    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        """The output shape for these input shapes; GraphError with an actionable message."""
        return input_shapes[0]

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[Shape]) -> dict[str, Shape]:
        """Every array the layer owns, in the documented `get_weights` order."""
        return {}

    @classmethod
    def trainable_keys(cls, params: dict[str, Any]) -> tuple[str, ...]:
        """The keys of `weight_shapes` that the optimizer updates (the rest is running state)."""
        return tuple(cls.weight_shapes(params, [(1,)]))

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """A short label for the canvas, e.g. "Dense 128 · relu"."""
        return cls.name

    # ---------------------------------------------------------- instance level
    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        self.node_id = node_id
        self.params = params
        self.input_shapes = input_shapes
        self.dtype = np.dtype(dtype)
        self.output_shape_ = type(self).output_shape(params, input_shapes, f"{self.name} '{node_id}'")
        self.weights: dict[str, np.ndarray] = {
            key: np.zeros(shape, dtype=self.dtype)
            for key, shape in type(self).weight_shapes(params, input_shapes).items()
        }
        self.trainable = type(self).trainable_keys(params)
        self.grads: dict[str, np.ndarray] = {key: np.zeros_like(self.weights[key]) for key in self.trainable}
        # Set by the model: False when every input comes straight from an Input node.
        self.needs_input_grad = True

    def initialize(self, rng: np.random.Generator) -> None:  # noqa: B027 - parameter-free layers keep it
        """Fill `weights` with fresh initial values (layers without weights have nothing to do)."""

    @abstractmethod
    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """The output `(N, *output_shape)` for inputs `(N, *input_shape)`; caches what backward needs."""

    @abstractmethod
    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        """Gradient w.r.t. each input (None where not needed); fills `self.grads` (overwrites)."""

    def regularization_loss(self) -> float:
        return 0.0


class ActivatedLayer(Layer):
    """A layer ending in an activation; keeps the pre-activation so a fused loss can use it."""

    activation: Any = None

    pre_activation: np.ndarray

    @abstractmethod
    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        """Backward when the caller already has d(loss)/d(pre-activation) (fused softmax-CE)."""
