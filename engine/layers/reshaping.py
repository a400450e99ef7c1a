"""Layers that change the shape of each sample, not its values: Flatten and Reshape."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import GraphError
from engine.layers.base import Layer, Shape, shape_text
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule


@LAYERS.register
class Flatten(Layer):
    name = "Flatten"
    group = "Reshape"
    description = "Unrolls each sample into a 1-D vector (e.g. 28×28 image → 784)"

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        return (math.prod(input_shapes[0]),)

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        return inputs[0].reshape(inputs[0].shape[0], -1)

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return [grad_out.reshape((grad_out.shape[0], *self.input_shapes[0]))]

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Flatten",)

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        return g.add("Flatten", args, out, out, axis=1)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return f"torch.flatten({args[0]}, 1)"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return f"{args[0]}.reshape(len({args[0]}), -1)"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        if int(reader.attr(node, "axis", 1)) != 1:
            raise reader.fail(node, "flattens from an axis other than 1 (NetCanvas keeps the batch axis)")
        reader.add_layer("Flatten", {}, [node.input[0]], node.output[0], rank=2)


@LAYERS.register
class Reshape(Layer):
    name = "Reshape"
    group = "Reshape"
    description = "Rearranges each sample into a new shape with the same number of values"
    param_specs = (ParamSpec("target_shape", "shape", (1,), "New shape of one sample, e.g. [1, 28, 28]"),)

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        target = tuple(params["target_shape"])
        if math.prod(target) != math.prod(input_shapes[0]):
            raise GraphError(
                f"{where} cannot reshape {shape_text(input_shapes[0])} "
                f"({math.prod(input_shapes[0])} values) into {shape_text(target)} "
                f"({math.prod(target)} values): the number of values must stay the same"
            )
        return target

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return f"Reshape {shape_text(params['target_shape'])}"

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        return inputs[0].reshape((inputs[0].shape[0], *self.output_shape_))

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return [grad_out.reshape((grad_out.shape[0], *self.input_shapes[0]))]

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Reshape",)

    def _dims(self) -> str:
        return ", ".join(str(int(d)) for d in self.params["target_shape"])

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Reshape to [0, *target_shape] (0 keeps the batch size)."""
        shape = g.tensor(f"{out}/shape", np.array([0, *self.params["target_shape"]], dtype=np.int64))
        return g.add("Reshape", [args[0], shape], out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return f"{args[0]}.reshape({args[0]}.shape[0], {self._dims()})"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return f"{args[0]}.reshape(len({args[0]}), {self._dims()})"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        ins, out = list(node.input), node.output[0]
        target = reader.constant(ins[1])
        if target is None:
            raise reader.fail(node, "needs a constant target shape")
        shape = [int(d) for d in target]
        if len(shape) < 2 or shape[0] not in (0, -1) or any(d <= 0 for d in shape[1:]):
            raise reader.fail(
                node,
                f"reshapes to {shape}; NetCanvas needs the batch axis kept (0 or -1 "
                "first) and explicit sizes for the others",
            )
        reader.add_layer("Reshape", {"target_shape": shape[1:]}, [ins[0]], out, rank=len(shape))
