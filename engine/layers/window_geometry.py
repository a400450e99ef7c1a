"""The geometry of a window sliding over an image: sizes, strides, dilation and padding.

Shared by convolution and pooling. Images are channels-first `(C, H, W)`; a 1-D signal is
`(C, L)`. Padding follows Keras/TensorFlow: "valid" adds nothing; "same" pads so the output has
ceil(size / stride) positions, and an odd total pad puts the extra row/column at the bottom/right
(PyTorch and ONNX then need explicit, possibly unequal, pads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.errors import GraphError
from engine.layers.base import shape_text

PADDINGS = ("valid", "same")


def window_sizes(value: Any, dims: int, what: str, where: str) -> tuple[int, ...]:
    """`value` (one positive int, or one per spatial dimension, as a "shape" parameter gives it)
    as a tuple of `dims` ints."""
    sizes = (value,) if isinstance(value, int) else tuple(value)
    if len(sizes) == 1:
        sizes = sizes * dims
    if len(sizes) != dims or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise GraphError(
            f"{where}: {what} expects one positive number or {dims} (one per spatial dimension), "
            f"got {value!r}"
        )
    return sizes


@dataclass(frozen=True)
class AxisWindow:
    """One spatial axis: `size` in, `out` positions, `pad_before` + `pad_after` zeros added."""

    size: int
    kernel: int
    stride: int
    dilation: int
    out: int
    pad_before: int
    pad_after: int

    @property
    def span(self) -> int:
        """How many input positions one window covers: (kernel - 1) * dilation + 1."""
        return (self.kernel - 1) * self.dilation + 1


def axis_window(size: int, kernel: int, stride: int, dilation: int, padding: str) -> AxisWindow:
    """The window along one axis; `out` is 0 or less when nothing fits (the caller reports it)."""
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + span - size, 0)
        return AxisWindow(size, kernel, stride, dilation, out, total // 2, total - total // 2)
    return AxisWindow(size, kernel, stride, dilation, (size - span) // stride + 1, 0, 0)


def windows(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: str,
    where: str,
) -> tuple[AxisWindow, ...]:
    """One AxisWindow per spatial axis, or GraphError saying why no output position fits."""
    if padding not in PADDINGS:
        raise GraphError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    axes = tuple(
        axis_window(n, k, s, d, padding)
        for n, k, s, d in zip(spatial, kernel, strides, dilation, strict=True)
    )
    if any(axis.out < 1 for axis in axes):
        spans = tuple(axis.span for axis in axes)
        dilated = "" if all(d == 1 for d in dilation) else f" (dilated to {shape_text(spans)})"
        raise GraphError(
            f"{where}: the window {shape_text(kernel)}{dilated} is larger than the input "
            f"{shape_text(spatial)} with padding 'valid': nothing is left; make the window smaller, "
            "or use padding 'same'"
        )
    return axes
