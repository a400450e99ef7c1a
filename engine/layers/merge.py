"""Layers that join branches: Add and Concatenate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import GraphError
from engine.layers.base import Layer, Shape, shape_text
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule


@LAYERS.register
class Add(Layer):
    name = "Add"
    group = "Merge"
    description = "Adds its inputs element by element (residual connections)"
    min_inputs = 2
    max_inputs = None

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        first = input_shapes[0]
        for shape in input_shapes[1:]:
            if shape != first:
                shapes = ", ".join(shape_text(s) for s in input_shapes)
                raise GraphError(f"{where} needs inputs of the same shape, got {shapes}")
        return first

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        self.count = len(inputs)
        out = inputs[0] + inputs[1]
        for extra in inputs[2:]:
            out += extra
        return out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return [grad_out] * self.count

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Add", "Sum")

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        return g.add("Add" if len(args) == 2 else "Sum", args, out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return " + ".join(args)

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return " + ".join(args)

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """Add or Sum of two or more layer outputs (an Add of a constant is not a layer)."""
        ins = list(node.input)
        if len(ins) < 2 or not all(reader.known(i) for i in ins):
            raise reader.unsupported(node)
        reader.add_layer("Add", {}, ins, node.output[0], rank=reader.rank(ins[0]))


@LAYERS.register
class Concatenate(Layer):
    name = "Concatenate"
    group = "Merge"
    description = "Joins its inputs side by side along one axis"
    param_specs = (
        ParamSpec(
            "axis",
            "int",
            -1,
            "Axis of one sample to join along (-1 = last; 0 = the channels of an image (C, H, W))",
            minimum=-8,
            maximum=7,
        ),
    )
    min_inputs = 2
    max_inputs = None

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        rank = len(input_shapes[0])
        shapes = ", ".join(shape_text(s) for s in input_shapes)
        if any(len(s) != rank for s in input_shapes):
            raise GraphError(f"{where} needs inputs with the same number of axes, got {shapes}")
        axis = params["axis"]
        if not -rank <= axis < rank:
            raise GraphError(f"{where}: axis {axis} does not exist in inputs of {rank} axes")
        axis %= rank
        for shape in input_shapes[1:]:
            if shape[:axis] + shape[axis + 1 :] != input_shapes[0][:axis] + input_shapes[0][axis + 1 :]:
                raise GraphError(f"{where} needs equal sizes except along axis {axis}, got {shapes}")
        total = sum(s[axis] for s in input_shapes)
        return input_shapes[0][:axis] + (total,) + input_shapes[0][axis + 1 :]

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        self.axis = self._batch_axis()
        self.splits = np.cumsum([s[self.axis - 1] for s in self.input_shapes])[:-1]
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return list(np.split(grad_out, self.splits, axis=self.axis))

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Concat",)

    def _batch_axis(self) -> int:
        """The axis in arrays with the batch dimension: 1 + (axis mod rank)."""
        return 1 + self.params["axis"] % len(self.input_shapes[0])

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        return g.add("Concat", args, out, out, axis=self._batch_axis())

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return f"torch.cat([{', '.join(args)}], dim={self._batch_axis()})"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return f"np.concatenate([{', '.join(args)}], axis={self._batch_axis()})"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        ins = list(node.input)
        if not all(reader.known(i) for i in ins):
            raise reader.unsupported(node)
        rank = reader.rank(ins[0])
        axis = int(reader.attr(node, "axis", 1)) % rank
        if axis == 0:
            raise reader.fail(node, "joins along the batch axis")
        sample_axis = axis - 1 if axis < rank - 1 else -1
        reader.add_layer("Concatenate", {"axis": sample_axis}, ins, node.output[0], rank=rank)
