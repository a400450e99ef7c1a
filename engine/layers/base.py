"""The contract every layer type fulfils.

Class level (no arrays, used by the canvas, validation, summary and file loader):
`output_shape`, `weight_shapes`, `trainable_keys`, `describe`. Instance level (built by
`engine.model.Model`): `weights` and `grads` dicts under the same keys, `initialize`, `forward`,
`backward`, `regularization_loss`. Shapes exclude the batch dimension.

Export forms (what engine/export asks of a layer, through the builders of
engine/layers/export_forms.py): `to_onnx`, `to_torch`, `to_numpy` (with `numpy_helpers`), and for
the ONNX import `onnx_ops` / `from_onnx`. A type that does not define one cannot be exported to
that format (`engine.export.check_export` names the node) or is not recognised on import.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.registry import ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule

Shape = tuple[int, ...]


# The parameters every layer with a kernel and an activation shares (Dense, Conv2D, Conv1D).
ACTIVATION_SPEC = ParamSpec(
    "activation", "choice", "linear", "Non-linearity applied to the output", choices_from="activations"
)
KERNEL_SPECS = (
    ParamSpec(
        "kernel_initializer", "choice", "glorot_uniform", "How the weights start", choices_from="initializers"
    ),
    ParamSpec("bias_initializer", "choice", "zeros", "How the biases start", choices_from="initializers"),
    ParamSpec("kernel_l1", "float", 0.0, "L1 penalty on the weights (sparsity)", minimum=0.0),
    ParamSpec("kernel_l2", "float", 0.0, "L2 penalty on the weights (weight decay)", minimum=0.0),
)


def shape_text(shape: Shape | list[int]) -> str:
    """(28, 28) and (3,) as people write them."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Layer(ABC):
    name: ClassVar[str]
    group: ClassVar[str]
    description: ClassVar[str]
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # True for layers that split their work over the cores themselves (engine/_kernels/parts.py):
    # the model then holds BLAS to one thread while it runs forward and backward
    splits_work: ClassVar[bool] = False

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
        # Set by the model: True for the output layer, whose pre-activation a fused loss reads.
        self.feeds_loss = False

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

    # ------------------------------------------------------------- export forms
    onnx_ops: ClassVar[tuple[str, ...]] = ()  # the ONNX operators `from_onnx` reads
    numpy_helpers: ClassVar[dict[str, str]] = {}  # functions the NumPy script defines for it

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Add the operators computing this layer to `g`, reading tensors `args` and writing
        tensor `out` (the node id; helper tensors are named "<out>/<what>"), with `weights` (the
        layer's arrays in float32) as initializers; returns `out`."""
        raise NotImplementedError(f"{self.name} has no ONNX form")

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        """The layer's output in the exported module's forward(), from the variables `args`;
        submodules, state-dict arrays and penalties are declared through `m`."""
        raise NotImplementedError(f"{self.name} has no PyTorch form")

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        """The layer's output at inference in the NumPy script's forward(), from the variables
        `args`; arrays are read through `s.weight(key)`."""
        raise NotImplementedError(f"{self.name} has no NumPy-script form")

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """Read ONNX `node` (its op_type is one of `onnx_ops`) as this layer type:
        `reader.add_layer(...)`, or raise `reader.fail(node, why)`."""
        raise reader.unsupported(node)


class ActivatedLayer(Layer):
    """A layer ending in an activation; keeps the pre-activation so a fused loss can use it."""

    activation: Any = None

    pre_activation: np.ndarray

    @abstractmethod
    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        """Backward when the caller already has d(loss)/d(pre-activation) (fused softmax-CE)."""


class KernelLayer(ActivatedLayer):
    """A layer with a kernel, a bias and an activation (Dense, Conv2D, Conv1D): the L1/L2
    penalties of KERNEL_SPECS on its kernel, in the loss and in the kernel's gradient."""

    def add_penalty_gradients(self) -> None:
        """grads["kernel"] += d(penalty)/d(kernel): l1 * sign(kernel) + 2 * l2 * kernel."""
        kernel, grad = self.weights["kernel"], self.grads["kernel"]
        if self.params["kernel_l1"]:
            grad += self.dtype.type(self.params["kernel_l1"]) * np.sign(kernel)
        if self.params["kernel_l2"]:
            grad += self.dtype.type(2.0 * self.params["kernel_l2"]) * kernel

    def regularization_loss(self) -> float:
        kernel = self.weights["kernel"]
        loss = 0.0
        if self.params["kernel_l1"]:
            loss += self.params["kernel_l1"] * float(np.abs(kernel).sum())
        if self.params["kernel_l2"]:
            loss += self.params["kernel_l2"] * float(np.square(kernel).sum())
        return loss
