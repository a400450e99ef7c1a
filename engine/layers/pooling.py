"""Pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D and
MaxPooling1D, on channels-first images `(C, H, W)` and signals `(C, L)`.

All of them run the kernels of engine/_kernels/pooling.py on `(N, C, H, W)` (a signal as
`(N, C, 1, L)`, a global pooling as one window over the whole image). Padding "same" follows
Keras/TensorFlow (window_geometry): the padding never counts — max pooling ignores it and the
average divides by the number of real values in each window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import pooling as _k
from engine._kernels.parts import in_parts
from engine.errors import GraphError
from engine.layers.base import Layer, Shape, shape_text
from engine.layers.window_geometry import PADDINGS, AxisWindow, window_sizes, windows
from engine.layers.workspaces import Workspaces
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule

SAME_NOTE = "NetCanvas: padding 'same' (TensorFlow's: the pads follow from the input size)"
_MAX_WORKSPACES = 6  # batch sizes whose arrays a pooling layer keeps at once
_NUMPY_POOL = '''def pool(x, size, strides, pads, mode):
    """Max or mean over windows of the last len(size) axes of x; pads (before..., after...) are
    added around them and never count (max ignores them, the mean divides by real values)."""
    d = len(size)
    axes = tuple(range(-d, 0))
    step = (Ellipsis, *(slice(None, None, s) for s in strides), *(slice(None),) * d)

    def windows(a, fill):
        width = [(0, 0)] * (a.ndim - d) + list(zip(pads[:d], pads[d:]))
        a = np.pad(a, width, constant_values=fill)
        return np.lib.stride_tricks.sliding_window_view(a, size, axis=axes)[step]

    if mode == "max":
        return windows(x, -np.inf).max(axis=axes)
    total = windows(x, 0).sum(axis=axes)
    count = windows(np.ones(x.shape[-d:], x.dtype), 0).sum(axis=axes)
    return (total / count).astype(x.dtype)'''


def _image_rank(dims: int, shape: Shape, name: str, where: str) -> None:
    """GraphError unless `shape` is (C, H, W) (dims 2) or (C, L) (dims 1)."""
    if len(shape) != dims + 1:
        wanted = "an image (channels, height, width)" if dims == 2 else "a signal (channels, length)"
        example = "[1, 28, 28]" if dims == 2 else "[1, 100]"
        raise GraphError(
            f"{where}: {name} expects {wanted}, got {shape_text(shape)}: set the Input shape to "
            f"e.g. {example} or add a Reshape before it"
        )


class _Pooling(Layer):
    """A window sliding over the spatial axes; subclasses set `dims`, `mode` and the geometry."""

    dims: ClassVar[int] = 2
    mode: ClassVar[str] = "max"  # or "average"
    splits_work = True

    @classmethod
    def geometry(cls, params: dict[str, Any], input_shape: Shape, where: str) -> tuple[AxisWindow, ...]:
        """One AxisWindow per spatial axis (GraphError when the input is not an image/signal or
        the window does not fit)."""
        raise NotImplementedError

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        axes = cls.geometry(params, input_shapes[0], where)
        return (input_shapes[0][0], *(axis.out for axis in axes))

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        axes = type(self).geometry(params, input_shapes[0], f"{self.name} '{node_id}'")
        if len(axes) == 1:  # a signal (C, L) pools as an image (C, 1, L)
            axes = (AxisWindow(1, 1, 1, 1, 1, 0, 0), *axes)
        self.axes = axes
        # kh, kw, sh, sw, pad top, pad left: the kernels' window arguments
        self.window = (axes[0].kernel, axes[1].kernel, axes[0].stride, axes[1].stride)
        self.window += (axes[0].pad_before, axes[1].pad_before)
        channels = input_shapes[0][0]
        self.image_in = (channels, axes[0].size, axes[1].size)
        self.image_out = (channels, axes[0].out, axes[1].out)
        self._workspaces = Workspaces(_MAX_WORKSPACES)
        # The kernels (NumPy twins for dtypes Numba is not compiled for) and the arguments after
        # the input: the 2 x 2 / stride 2 ones when no window starts above or left of the image.
        suffix = "" if self.dtype in KERNEL_DTYPES else "_ref"
        pairs = self.window == (2, 2, 2, 2, 0, 0)  # the pads after, if any, are the 2x2 kernels' job
        kind, geometry = ("max" if self.mode == "max" else "avg"), (() if pairs else self.window)
        name = f"{kind}_pool{'_2x2' if pairs else ''}"
        self._pool = getattr(_k, name + suffix)
        self._pool_backward = getattr(
            _k, ("max_pool_backward" if kind == "max" else f"{name}_backward") + suffix
        )
        self._geometry = geometry
        self.argmax: np.ndarray | None = None  # max pooling: the last forward's window maxima

    def workspace(self, rows: int, name: str) -> np.ndarray:
        """Array `name` for a batch of `rows`, made on first use and reused (out, argmax: the
        output image; grad_x: the input image); a few batch sizes are kept, least recently used
        dropped first."""
        shape = (rows, *(self.image_in if name == "grad_x" else self.image_out))
        dtype = np.int32 if name == "argmax" else self.dtype
        return self._workspaces.get(rows, name, lambda: np.empty(shape, dtype))

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """Output `(N, *output_shape)` of input `(N, *input_shape)`, computed into a reused array:
        valid until the next forward with the same batch size."""
        x = inputs[0]
        rows = x.shape[0]
        if x.shape[1:] != self.input_shapes[0]:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects samples of shape "
                f"{shape_text(self.input_shapes[0])}, got {shape_text(x.shape[1:])}"
            )
        x = np.ascontiguousarray(x, dtype=self.dtype).reshape((rows, *self.image_in))
        out, pool, geometry = self.workspace(rows, "out"), self._pool, self._geometry
        if self.mode == "max":
            self.argmax = argmax = self.workspace(rows, "argmax")
            in_parts(rows, x.size, lambda lo, hi: pool(x[lo:hi], *geometry, out[lo:hi], argmax[lo:hi]))
        else:
            in_parts(rows, x.size, lambda lo, hi: pool(x[lo:hi], *geometry, out[lo:hi]))
        return out.reshape((rows, *self.output_shape_))

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        rows = grad_out.shape[0]
        g = np.ascontiguousarray(grad_out, dtype=self.dtype).reshape((rows, *self.image_out))
        grad_x = self.workspace(rows, "grad_x")
        if self.mode == "max":
            if self.argmax is None:
                raise GraphError(f"{self.name} '{self.node_id}': backward needs a forward of its own first")
            if self.argmax.shape != g.shape:
                raise ValueError(
                    f"{self.name} '{self.node_id}': backward of a batch of {rows} after a forward "
                    f"of {self.argmax.shape[0]}"
                )
            argmax, backward = self.argmax, self._pool_backward
            in_parts(rows, grad_x.size, lambda lo, hi: backward(g[lo:hi], argmax[lo:hi], grad_x[lo:hi]))
        else:
            backward, geometry = self._pool_backward, self._geometry
            in_parts(rows, grad_x.size, lambda lo, hi: backward(g[lo:hi], *geometry, grad_x[lo:hi]))
        return [grad_x.reshape((rows, *self.input_shapes[0]))]

    # ------------------------------------------------------------- export forms
    numpy_helpers = {"pool": _NUMPY_POOL}

    def _spatial(self) -> tuple[AxisWindow, ...]:
        """The windows along the input's own spatial axes (one for a signal)."""
        return self.axes[-self.dims :]

    def _pads(self) -> list[int]:
        """ONNX order: every axis's pad before, then every axis's pad after."""
        axes = self._spatial()
        return [a.pad_before for a in axes] + [a.pad_after for a in axes]

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """MaxPool / AveragePool (count_include_pad=0) with explicit pads [begins..., ends...];
        a "same" pool says so in its doc_string (SAME_NOTE), for the import."""
        axes = self._spatial()
        attrs: dict[str, Any] = {
            "kernel_shape": [a.kernel for a in axes],
            "strides": [a.stride for a in axes],
            "pads": self._pads(),
        }
        if self.params["padding"] == "same":  # read back as "same" whatever the input size
            attrs["doc_string"] = SAME_NOTE
        if self.mode == "max":
            return g.add("MaxPool", args, out, out, **attrs)
        return g.add("AveragePool", args, out, out, count_include_pad=0, **attrs)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        """nn.MaxPool / nn.AvgPool (count_include_pad=False) with equal pads; unequal pads (an
        odd "same" total) as F.pad (-inf for max) then the pool, or for the average the zero-padded
        mean divided by the share of real values."""
        axes = self._spatial()
        kind = "Max" if self.mode == "max" else "Avg"
        size, stride = _tuple(a.kernel for a in axes), _tuple(a.stride for a in axes)
        before = [a.pad_before for a in axes]
        if all(a.pad_before == a.pad_after for a in axes):
            extra = "" if self.mode == "max" else ", count_include_pad=False"
            pool = m.module(f"nn.{kind}Pool{self.dims}d({size}, {stride}, padding={_tuple(before)}{extra})")
            return f"{pool}({args[0]})"
        pool = m.module(f"nn.{kind}Pool{self.dims}d({size}, {stride})")
        pads = ", ".join(f"{a.pad_before}, {a.pad_after}" for a in reversed(axes))  # last axis first
        if self.mode == "max":
            return f"{pool}(F.pad({args[0]}, ({pads}), value=float('-inf')))"
        x = args[0]
        ones = f"torch.ones_like({x}[:1, :1])"
        return f"{pool}(F.pad({x}, ({pads}))) / {pool}(F.pad({ones}, ({pads})))"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        s.use("pool")
        axes = self._spatial()
        size, stride = _tuple(a.kernel for a in axes), _tuple(a.stride for a in axes)
        return f"pool({args[0]}, {size}, {stride}, {_tuple(self._pads())}, {self.mode!r})"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """MaxPool / AveragePool over 2 (or for MaxPooling1D 1) spatial axes. "valid": no pads;
        "same": auto_pad SAME_UPPER, a NetCanvas pool marked SAME_NOTE, or explicit pads equal to
        "same" at stride 1 (at larger strides they depend on the input size, which the reader
        does not give: refused); an AveragePool that counts its pads (count_include_pad=1,
        PyTorch's default): ZeroPadding2D + "valid"."""
        ins, out = list(node.input), node.output[0]
        if not reader.known(ins[0]):
            raise reader.unsupported(node)
        rank = reader.rank(ins[0])
        dims = rank - 2
        layer_type = _POOL_TYPES.get((node.op_type, dims))
        if layer_type is None:
            raise reader.fail(node, f"pools over {dims} spatial axes; NetCanvas pools images and signals")
        kernel = [int(k) for k in reader.attr(node, "kernel_shape", [])]
        strides = [int(s) for s in reader.attr(node, "strides", [1] * dims)]
        pads = [int(p) for p in reader.attr(node, "pads", [0] * 2 * dims)]
        auto_pad = reader.attr(node, "auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        if reader.attr(node, "ceil_mode", 0) or any(int(d) != 1 for d in reader.attr(node, "dilations", [])):
            raise reader.fail(node, "uses ceil_mode or dilations, which NetCanvas pooling does not have")
        if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER"):
            raise reader.fail(node, f"pads as auto_pad={auto_pad}; NetCanvas pads 'same' as SAME_UPPER")
        params = {"pool_size": kernel, "strides": strides, "padding": "valid"}
        counts_pads = node.op_type == "AveragePool" and bool(reader.attr(node, "count_include_pad", 0))
        if auto_pad == "SAME_UPPER" and not counts_pads:
            params["padding"] = "same"
        elif any(pads) and counts_pads and dims == 2:  # the pads are values: zeros, then no padding
            padded = f"{out}/padded"
            text = ", ".join(str(pads[i]) for i in (0, 2, 1, 3))  # top, bottom, left, right
            reader.add_layer("ZeroPadding2D", {"padding": text}, [ins[0]], padded, rank=rank)
            ins = [padded]
        elif not counts_pads and (node.doc_string == SAME_NOTE or _same_at_stride_one(kernel, strides, pads)):
            params["padding"] = "same"
        elif any(pads) or auto_pad == "SAME_UPPER":
            raise reader.fail(
                node,
                f"pads by {pads if any(pads) else auto_pad}, which is neither 'valid' nor "
                "TensorFlow's 'same' at stride 1 (pads that never count); NetCanvas cannot read it",
            )
        reader.add_layer(layer_type, params, [ins[0]], out, rank=rank)


def _tuple(values: Any) -> str:
    """Python source of a tuple of ints: (2, 2), (3,)."""
    items = [str(int(v)) for v in values]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _same_at_stride_one(kernel: list[int], strides: list[int], pads: list[int]) -> bool:
    """Whether explicit ONNX pads are TensorFlow's "same" whatever the input size (stride 1:
    (k - 1) // 2 before, the rest after)."""
    dims = len(kernel)
    return all(
        s == 1 and pads[i] == (k - 1) // 2 and pads[dims + i] == k - 1 - (k - 1) // 2
        for i, (k, s) in enumerate(zip(kernel, strides, strict=True))
    )


def _window_params(default_pool: tuple[int, ...]) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("pool_size", "shape", default_pool, "Window size: one number, or one per axis (2 or 2, 3)"),
        ParamSpec(
            "strides",
            "shape",
            None,
            "Step between windows: one number or one per axis (empty = the pool size)",
            optional=True,
        ),
        ParamSpec(
            "padding",
            "choice",
            "valid",
            "valid: whole windows only; same: pad to ceil(size / stride)",
            choices=PADDINGS,
        ),
    )


class _WindowPooling(_Pooling):
    """Pooling with pool_size, strides (default: the pool size) and padding."""

    @classmethod
    def geometry(cls, params: dict[str, Any], input_shape: Shape, where: str) -> tuple[AxisWindow, ...]:
        _image_rank(cls.dims, input_shape, cls.name, where)
        pool = window_sizes(params["pool_size"], cls.dims, "pool_size", where)
        strides = (
            pool if params["strides"] is None else window_sizes(params["strides"], cls.dims, "strides", where)
        )
        return windows(input_shape[1:], pool, strides, (1,) * cls.dims, params["padding"], where)

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """E.g. "MaxPooling2D 2×2", "AveragePooling2D 3×3 /2 · same"."""
        pool = _size_text(params["pool_size"], cls.dims)
        strides = params["strides"]
        text = f"{cls.name} {pool}"
        if strides is not None and _size_text(strides, cls.dims) != pool:
            steps = set(strides)
            text += f" /{next(iter(steps)) if len(steps) == 1 else _size_text(strides, cls.dims)}"
        return text + (" · same" if params["padding"] == "same" else "")


def _size_text(values: Any, dims: int) -> str:
    """A size for the canvas: 2 -> "2×2" (one number per axis), (2, 3) -> "2×3"."""
    sizes = tuple(values)
    return "×".join(str(v) for v in (sizes * dims if len(sizes) == 1 else sizes))


@LAYERS.register
class MaxPooling2D(_WindowPooling):
    """The largest value of each window, per channel: `(C, H, W)` -> `(C, OH, OW)`."""

    name = "MaxPooling2D"
    group = "Pooling"
    description = "Keeps the largest value of each window of each channel (downsamples images)"
    param_specs = _window_params((2,))
    onnx_ops = ("MaxPool",)


@LAYERS.register
class AveragePooling2D(_WindowPooling):
    """The mean of each window's real values, per channel: `(C, H, W)` -> `(C, OH, OW)`."""

    name = "AveragePooling2D"
    group = "Pooling"
    description = "Averages each window of each channel (downsamples images)"
    param_specs = _window_params((2,))
    mode = "average"
    onnx_ops = ("AveragePool",)


class _GlobalPooling(_Pooling):
    """One window over the whole image: `(C, H, W)` -> `(C,)`."""

    @classmethod
    def geometry(cls, params: dict[str, Any], input_shape: Shape, where: str) -> tuple[AxisWindow, ...]:
        _image_rank(2, input_shape, cls.name, where)
        spatial = input_shape[1:]
        return windows(spatial, spatial, spatial, (1, 1), "valid", where)

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        cls.geometry(params, input_shapes[0], where)
        return (input_shapes[0][0],)

    def _reduce(self) -> str:
        return "amax" if self.mode == "max" else "mean"

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """GlobalMaxPool / GlobalAveragePool, then Flatten to (N, C)."""
        op = "GlobalMaxPool" if self.mode == "max" else "GlobalAveragePool"
        pooled = g.add(op, args, f"{out}/pooled", f"{out}/pooled")
        return g.add("Flatten", [pooled], out, out, axis=1)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        return f"{args[0]}.{self._reduce()}(dim=(2, 3))"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        return f"{args[0]}.{'max' if self.mode == 'max' else 'mean'}(axis=(2, 3))"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """GlobalMaxPool / GlobalAveragePool of an image, or ReduceMax / ReduceMean over axes
        (2, 3) (PyTorch's dynamo exporter writes AdaptiveAvgPool2d(1) so); when they keep the
        reduced axes, with the Flatten (axis 1) or Reshape to (N, C) after them (NetCanvas's
        global pooling gives (C,))."""
        ins, out = list(node.input), node.output[0]
        if not reader.known(ins[0]) or reader.rank(ins[0]) != 4:
            raise reader.fail(node, "pools a tensor that is not an image (N, C, H, W)")
        keepdims = True
        if node.op_type.startswith("Reduce"):
            axes = reader.constant(ins[1]) if len(ins) > 1 and ins[1] else reader.attr(node, "axes", None)
            if axes is None or sorted(int(a) % 4 for a in np.ravel(axes)) != [2, 3]:
                raise reader.fail(
                    node, "reduces other axes than height and width (2, 3); no NetCanvas layer does"
                )
            keepdims = bool(reader.attr(node, "keepdims", 1))
        if keepdims:
            user = reader.only_consumer(out)
            flat = user is not None and (
                (user.op_type == "Flatten" and int(reader.attr(user, "axis", 1)) == 1)
                or (user.op_type == "Reshape" and _two_axes(reader.constant(user.input[1])))
            )
            if not flat:
                raise reader.fail(
                    node, "is not followed by a Flatten to (N, C); NetCanvas's global pooling gives (C,)"
                )
            reader.consume(user)
            out = user.output[0]
        reader.add_layer(cls.name, {}, [ins[0]], out, rank=2)


def _two_axes(target: np.ndarray | None) -> bool:
    """Whether a constant Reshape target of (N, C, 1, 1) has two axes: (N, C)."""
    return target is not None and target.size == 2


@LAYERS.register
class GlobalAveragePooling2D(_GlobalPooling):
    """The mean of each channel: `(C, H, W)` -> `(C,)`."""

    name = "GlobalAveragePooling2D"
    group = "Pooling"
    description = "Averages each channel over the whole image: (C, H, W) → (C,)"
    mode = "average"
    onnx_ops = ("GlobalAveragePool", "ReduceMean")


@LAYERS.register
class GlobalMaxPooling2D(_GlobalPooling):
    """The largest value of each channel: `(C, H, W)` -> `(C,)`."""

    name = "GlobalMaxPooling2D"
    group = "Pooling"
    description = "Keeps the largest value of each channel over the whole image: (C, H, W) → (C,)"
    onnx_ops = ("GlobalMaxPool", "ReduceMax")


@LAYERS.register
class MaxPooling1D(_WindowPooling):
    """The largest value of each window, per channel of a signal: `(C, L)` -> `(C, OL)`."""

    name = "MaxPooling1D"
    group = "Pooling"
    description = "Keeps the largest value of each window of each channel of a signal (C, L)"
    param_specs = _window_params((2,))
    dims = 1
    # ONNX MaxPool is read by MaxPooling2D's from_onnx (the same code), which picks this type
    # for a signal by the rank of its input.


_POOL_TYPES = {
    ("MaxPool", 2): "MaxPooling2D",
    ("AveragePool", 2): "AveragePooling2D",
    ("MaxPool", 1): "MaxPooling1D",
}
