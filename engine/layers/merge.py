"""Layers that join branches: Add and Concatenate."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import GraphError
from engine.layers.base import Layer, Shape
from engine.layers.core import _shape_text
from engine.registry import LAYERS, ParamSpec


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
                shapes = ", ".join(_shape_text(s) for s in input_shapes)
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


@LAYERS.register
class Concatenate(Layer):
    name = "Concatenate"
    group = "Merge"
    description = "Joins its inputs side by side along one axis"
    param_specs = (
        ParamSpec("axis", "int", -1, "Axis of one sample to join along (-1 = last)", minimum=-8, maximum=7),
    )
    min_inputs = 2
    max_inputs = None

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        rank = len(input_shapes[0])
        shapes = ", ".join(_shape_text(s) for s in input_shapes)
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
        self.axis = 1 + self.params["axis"] % len(self.input_shapes[0])
        self.splits = np.cumsum([s[self.axis - 1] for s in self.input_shapes])[:-1]
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return list(np.split(grad_out, self.splits, axis=self.axis))
