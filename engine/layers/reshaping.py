"""Layers that change the shape of each sample, not its values: Flatten, Reshape and ZeroPadding2D."""

from __future__ import annotations

import math
import re
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


def zero_pads(text: str, where: str) -> tuple[int, int, int, int]:
    """ZeroPadding2D's `padding` text as (top, bottom, left, right): "1" pads every side by 1,
    "1, 2" pads 1 row above and below and 2 columns left and right, "0, 1, 2, 3" is top, bottom,
    left, right."""
    parts = [p for p in re.split(r"[\s,()\[\]]+", str(text)) if p]
    if len(parts) not in (1, 2, 4) or not all(p.isdigit() for p in parts):
        raise GraphError(
            f"{where}: padding expects 1, 2 or 4 whole numbers of 0 or more (all sides; rows, "
            f"columns; or top, bottom, left, right), got {text!r}"
        )
    pads = [int(p) for p in parts]
    if len(pads) == 1:
        return (pads[0],) * 4
    if len(pads) == 2:
        return pads[0], pads[0], pads[1], pads[1]
    return pads[0], pads[1], pads[2], pads[3]


@LAYERS.register
class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image: `(C, H, W)` -> `(C, H + top + bottom,
    W + left + right)`."""

    name = "ZeroPadding2D"
    group = "Reshape"
    description = "Adds rows and columns of zeros around each image (C, H, W)"
    param_specs = (
        ParamSpec(
            "padding",
            "str",
            "1",
            "Zeros to add: all sides (1), rows, columns (1, 2) or top, bottom, left, right (0, 1, 0, 1)",
        ),
    )

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise GraphError(
                f"{where}: ZeroPadding2D expects an image (channels, height, width), got "
                f"{shape_text(shape)}: set the Input shape to e.g. [1, 28, 28] or add a Reshape before it"
            )
        top, bottom, left, right = zero_pads(params["padding"], where)
        return (shape[0], shape[1] + top + bottom, shape[2] + left + right)

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return f"ZeroPadding2D {params['padding']}"

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        self.pads = zero_pads(params["padding"], f"{self.name} '{node_id}'")
        top, _, left, _ = self.pads
        _, height, width = input_shapes[0]
        self.inside = (slice(None), slice(None), slice(top, top + height), slice(left, left + width))
        self._outputs: dict[int, np.ndarray] = {}  # batch size -> zero-bordered output
        self._grads: dict[int, np.ndarray] = {}  # batch size -> input gradient

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """`(N, C, H', W')` into a reused array whose border stays zero: valid until the next
        forward with the same batch size."""
        x = inputs[0]
        out = self._outputs.get(x.shape[0])
        if out is None:
            out = np.zeros((x.shape[0], *self.output_shape_), self.dtype)
            self._outputs = {x.shape[0]: out, **dict(list(self._outputs.items())[:3])}
        out[self.inside] = x
        return out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        grad = self._grads.get(grad_out.shape[0])
        if grad is None:
            grad = np.empty((grad_out.shape[0], *self.input_shapes[0]), self.dtype)
            self._grads = {grad_out.shape[0]: grad, **dict(list(self._grads.items())[:3])}
        grad[...] = grad_out[self.inside]
        return [grad]

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Pad",)

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Pad (mode constant, value 0) with pads [0, 0, top, left, 0, 0, bottom, right]."""
        top, bottom, left, right = self.pads
        pads = g.tensor(f"{out}/pads", np.array([0, 0, top, left, 0, 0, bottom, right], dtype=np.int64))
        return g.add("Pad", [args[0], pads], out, out, mode="constant")

    def _torch_pads(self) -> str:
        top, bottom, left, right = self.pads
        return f"({left}, {right}, {top}, {bottom})"

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return f"F.pad({args[0]}, {self._torch_pads()})"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        top, bottom, left, right = self.pads
        return f"np.pad({args[0]}, ((0, 0), (0, 0), ({top}, {bottom}), ({left}, {right})))"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """Pad of an image by zeros (mode constant, value 0; pads as an input or, before opset
        11, an attribute), on the height and width only."""
        ins, out = list(node.input), node.output[0]
        if not reader.known(ins[0]) or reader.rank(ins[0]) != 4:
            raise reader.fail(node, "pads a tensor that is not an image (N, C, H, W)")
        mode = reader.attr(node, "mode", b"constant")
        if (mode.decode() if isinstance(mode, bytes) else str(mode)) != "constant":
            raise reader.fail(node, f"pads in mode {mode!r}; ZeroPadding2D adds zeros (mode constant)")
        pads = reader.constant(ins[1]) if len(ins) > 1 and ins[1] else reader.attr(node, "pads", None)
        value = reader.constant(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(1)
        axes = reader.constant(ins[3]) if len(ins) > 3 and ins[3] else np.arange(4)
        if pads is None or value is None or axes is None or np.any(np.asarray(value) != 0):
            raise reader.fail(node, "needs constant pads and the value 0")
        full = np.zeros(8, dtype=np.int64)
        pads = np.asarray(pads, dtype=np.int64).reshape(2, -1)
        for i, axis in enumerate(int(a) % 4 for a in np.asarray(axes).reshape(-1)):
            full[axis], full[4 + axis] = pads[0, i], pads[1, i]
        if full[[0, 1, 4, 5]].any() or (full < 0).any():
            raise reader.fail(
                node, f"pads by {full.tolist()}; ZeroPadding2D adds 0 or more rows and columns only"
            )
        text = ", ".join(str(int(full[i])) for i in (2, 6, 3, 7))  # top, bottom, left, right
        reader.add_layer("ZeroPadding2D", {"padding": text}, [ins[0]], out, rank=4)
