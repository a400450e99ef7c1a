"""Convolution layers: Conv2D on images `(C, H, W)` and Conv1D on signals `(C, L)`.

Kernel `(filters, in_channels, kh, kw)` (Conv1D: `(filters, in_channels, k)`), bias `(filters,)`,
as PyTorch and ONNX store them. Cross-correlation, as every framework computes it. The maths runs
through im2col and one BLAS product per pass over the whole batch (engine/_kernels/conv.py says
the layout); a Conv1D is a Conv2D of height 1 over the same kernels. The export forms live in
engine/layers/conv_forms.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import activations as _ka
from engine._kernels import conv as _k
from engine._kernels.parts import in_parts
from engine.activations import get_activation
from engine.errors import GraphError
from engine.initializers import get_initializer
from engine.layers.base import ACTIVATION_SPEC, KERNEL_SPECS, KernelLayer, Shape, shape_text
from engine.layers.conv_forms import ConvForms
from engine.layers.window_geometry import AxisWindow, window_sizes, windows
from engine.layers.workspaces import Workspaces
from engine.registry import LAYERS, ParamSpec

_MAX_WORKSPACES = 4  # batch sizes whose arrays a convolution keeps at once
INFERENCE_VALUES = 1 << 23  # the most columns or products (each) an inference pass keeps at once


def _specs(size_help: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("filters", "int", 32, "Number of filters (output channels)", minimum=1, maximum=65_536),
        ParamSpec("kernel_size", "shape", (3,), f"Window size: {size_help}"),
        ParamSpec("strides", "shape", (1,), f"Step between windows: {size_help}"),
        ParamSpec(
            "padding",
            "choice",
            "valid",
            "valid: no padding; same: zeros around so the output has ceil(size / stride) positions",
            choices=("valid", "same"),
        ),
        ParamSpec("dilation_rate", "shape", (1,), f"Spacing between kernel taps: {size_help}"),
        ACTIVATION_SPEC,
        ParamSpec("use_bias", "bool", True, "Add a learned bias to each filter"),
        *KERNEL_SPECS,
    )


class _Conv(ConvForms, KernelLayer):
    """What Conv2D and Conv1D share; `dims` is the number of spatial axes."""

    dims = 2
    splits_work = True
    group = "Convolution"
    expects = ""  # the input the layer reads, for the error message
    fix = ""  # how to get such an input

    @classmethod
    def geometry(cls, params: dict[str, Any], input_shape: Shape, where: str) -> tuple[AxisWindow, ...]:
        """One AxisWindow per spatial axis; GraphError for a wrong input or a window that does not fit."""
        if len(input_shape) != cls.dims + 1:
            raise GraphError(f"{where} expects {cls.expects}, got {shape_text(input_shape)}: {cls.fix}")
        sizes = [
            window_sizes(params[key], cls.dims, key, where)
            for key in ("kernel_size", "strides", "dilation_rate")
        ]
        return windows(tuple(input_shape[1:]), *sizes, params["padding"], where)

    @classmethod
    def output_shape(cls, params: dict[str, Any], input_shapes: list[Shape], where: str) -> Shape:
        axes = cls.geometry(params, input_shapes[0], where)
        return (params["filters"], *(axis.out for axis in axes))

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[Shape]) -> dict[str, Shape]:
        kernel = window_sizes(params["kernel_size"], cls.dims, "kernel_size", cls.name)
        shapes = {"kernel": (params["filters"], input_shapes[0][0], *kernel)}
        if params["use_bias"]:
            shapes["bias"] = (params["filters"],)
        return shapes

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        kernel = window_sizes(params["kernel_size"], cls.dims, "kernel_size", cls.name)
        act = params["activation"]
        return f"{cls.name} {params['filters']} {'×'.join(map(str, kernel))}" + (
            "" if act == "linear" else f" · {act}"
        )

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        self.activation = get_activation(params["activation"])
        axes = self.geometry(params, input_shapes[0], f"{self.name} '{node_id}'")
        if self.dims == 1:  # a Conv1D is a Conv2D of height 1
            axes = (AxisWindow(1, 1, 1, 1, 1, 0, 0), *axes)
        self.axes = axes
        h, w = axes
        self.image_shape = (input_shapes[0][0], h.size, w.size)  # (C, H, W) the kernels see
        self.geometry_args = (h.kernel, w.kernel, h.stride, w.stride, h.dilation, w.dilation)
        self.geometry_args += (h.pad_before, w.pad_before, h.out, w.out)
        self.positions = h.out * w.out
        self.taps = self.image_shape[0] * h.kernel * w.kernel  # C*kh*kw, the columns' rows
        self._workspaces = Workspaces(_MAX_WORKSPACES)

    def initialize(self, rng: np.random.Generator) -> None:
        """Keras' (and PyTorch's) fans for a convolution: in_channels·window and filters·window."""
        filters, channels, *window = self.weights["kernel"].shape
        fan_in, fan_out = channels * int(np.prod(window)), filters * int(np.prod(window))
        for key, init_name in (("kernel", "kernel_initializer"), ("bias", "bias_initializer")):
            if key in self.weights:
                init = get_initializer(self.params[init_name])
                self.weights[key][...] = init(self.weights[key].shape, fan_in, fan_out, rng, self.dtype)

    def _workspace(self, batch: int, name: str) -> np.ndarray:
        """Array `name` for a batch of `batch` samples, allocated on first use and reused: cols
        (C*kh*kw, N*P) (also the columns' gradient in backward), z (F, N*P) (also its gradient in
        backward: the fused pass reads each value before writing its gradient), a (N, F, P),
        grad_x (N, C, H, W). A few batch sizes are kept, least recently used dropped first."""
        filters, rows = self.params["filters"], batch * self.positions
        shape = {
            "cols": (self.taps, rows),
            "z": (filters, rows),
            "a": (batch, filters, self.positions),
            "grad_x": (batch, *self.image_shape),
        }[name]
        return self._workspaces.get(batch, name, lambda: np.empty(shape, self.dtype))

    def _images(self, x: np.ndarray) -> np.ndarray:
        """x (N, *input_shape) as a C-contiguous (N, C, H, W) array of the layer's dtype."""
        if x.ndim != self.dims + 2 or tuple(x.shape[1:]) != tuple(self.input_shapes[0]):
            raise GraphError(
                f"{self.name} '{self.node_id}' expects a batch of shape (N, {', '.join(map(str, self.input_shapes[0]))}), "
                f"got {shape_text(x.shape)}"
            )
        return np.ascontiguousarray(x, dtype=self.dtype).reshape(x.shape[0], *self.image_shape)

    def _alpha(self) -> Any:
        """The activation's slope/scale in the layer's dtype (0 for one without)."""
        return self.dtype.type(getattr(self.activation, "alpha", 0.0))

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """Output `(N, filters, *out_spatial)` of input `(N, *input_shape)`, into reused arrays:
        valid until the next forward with the same batch size. Inference on a batch larger than
        INFERENCE_VALUES allows runs in chunks into a new output array, so predicting on a large
        batch keeps only chunk-sized columns (and keeps no pre-activation for backward)."""
        x = self._images(inputs[0])
        batch, filters = x.shape[0], self.params["filters"]
        bias = self.weights.get("bias", np.empty(0, self.dtype))
        if bias.shape not in ((0,), (filters,)) or bias.dtype != self.dtype:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects a bias of shape ({filters},) and "
                f"dtype {self.dtype}, got {shape_text(bias.shape)} {bias.dtype}"
            )
        chunk = max(1, INFERENCE_VALUES // (max(self.taps, filters) * self.positions))
        if training or batch <= chunk:
            z = self._workspace(batch, "z")
            out = self._workspace(batch, "a")
            self._compute(x, self._workspace(batch, "cols"), z, out, bias)
            self.z_rows = z
            # (N, filters, *out_spatial) view of z: valid until backward, which writes z's gradient there
            self.pre_activation = z.reshape(filters, batch, *self.output_shape_[1:]).swapaxes(0, 1)
        else:
            chunk = -(-batch // -(-batch // chunk))  # equal chunks: no small last one
            out = np.empty((batch, filters, self.positions), self.dtype)
            cols_chunk, z_chunk = self._workspace(chunk, "cols"), self._workspace(chunk, "z")
            for start in range(0, batch, chunk):
                rows = min(chunk, batch - start) * self.positions
                cols = cols_chunk.reshape(-1)[: self.taps * rows].reshape(self.taps, rows)
                z = z_chunk.reshape(-1)[: filters * rows].reshape(filters, rows)
                self._compute(x[start : start + chunk], cols, z, out[start : start + chunk], bias)
            self.z_rows = self.pre_activation = None  # type: ignore[assignment]
        self.out = out.reshape(batch, *self.output_shape_)
        return self.out

    def _compute(
        self, x: np.ndarray, cols: np.ndarray, z: np.ndarray, out: np.ndarray, bias: np.ndarray
    ) -> None:
        """out (n, F, P) = activation(kernel @ im2col(x) + bias) for images x (n, C, H, W), through
        the columns `cols` (C*kh*kw, n*P) and the products `z` (F, n*P), which keeps the biased
        pre-activation; all C-contiguous, of the layer's dtype. Each part of the samples does
        its own columns, product and activation (engine/_kernels/parts.py)."""
        compiled = self.dtype in KERNEL_DTYPES
        im2col, geometry = (_k.im2col if compiled else _k.im2col_ref), self.geometry_args
        kernel = self.weights["kernel"].reshape(self.params["filters"], self.taps)
        code = self.activation.kernel_code if compiled else None
        fused = _k.bias_act_to_images if compiled else _k.bias_act_to_images_ref
        fused_code, alpha, positions = _ka.LINEAR if code is None else code, self._alpha(), self.positions

        def part(lo: int, hi: int) -> None:
            im2col(x, cols, lo, hi, *geometry)
            columns = slice(lo * positions, hi * positions)
            np.matmul(kernel, cols[:, columns], out=z[:, columns])
            fused(z, bias, out, fused_code, alpha, lo, hi)

        in_parts(x.shape[0], cols.size + z.size, part)
        if code is None:  # an activation without a kernel (softmax, a NumPy-only one) or float16
            images = out.reshape(x.shape[0], *self.output_shape_)
            images[...] = self.activation.forward(images)

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        code = self.activation.kernel_code
        if code is None or self.dtype not in KERNEL_DTYPES:
            grad_out = self.activation.backward(self._pre_activation(), self.out, grad_out)
            code = _ka.LINEAR
        return self._backward_rows(grad_out, code)

    def _pre_activation(self) -> np.ndarray:
        if self.pre_activation is None:
            raise GraphError(
                f"{self.name} '{self.node_id}': backward needs the forward of a training batch "
                "(a large inference batch keeps no pre-activation)"
            )
        return self.pre_activation

    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        return self._backward_rows(grad_z, _ka.LINEAR)

    def _backward_rows(self, grad: np.ndarray, code: int) -> list[np.ndarray | None]:
        """Backward from `grad` (N, filters, *out_spatial), d(loss)/d(output) through activation
        `code` (LINEAR: d(loss)/d(pre-activation))."""
        self._pre_activation()
        batch, filters = self.out.shape[0], self.params["filters"]
        if grad.shape != self.out.shape:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects an output gradient of shape "
                f"{shape_text(self.out.shape)}, got {shape_text(grad.shape)}"
            )
        grad = np.ascontiguousarray(grad, dtype=self.dtype).reshape(batch, filters, self.positions)
        a = self.out.reshape(batch, filters, self.positions)
        z = grad_z = self.z_rows  # overwritten in place: the pre-activation is not needed after this
        compiled = self.dtype in KERNEL_DTYPES
        fused = _k.act_grad_to_rows if compiled else _k.act_grad_to_rows_ref
        col2im = _k.col2im if compiled else _k.col2im_ref
        alpha, geometry, positions = self._alpha(), self.geometry_args, self.positions
        cols = self._workspace(batch, "cols")
        kernel = self.weights["kernel"].reshape(filters, self.taps)
        grad_kernel = self.grads["kernel"].reshape(filters, self.taps)
        grad_bias = self.grads.get("bias", np.empty(0, self.dtype))
        sums: list[tuple[np.ndarray, np.ndarray]] = []  # the other parts' kernel and bias gradients

        def part(lo: int, hi: int) -> None:  # these samples' share of every gradient
            kernel_sum, bias_sum = grad_kernel, grad_bias
            if lo > 0:
                kernel_sum, bias_sum = np.empty_like(grad_kernel), np.empty_like(grad_bias)
                sums.append((kernel_sum, bias_sum))
            fused(z, a, grad, grad_z, bias_sum, code, alpha, lo, hi)
            columns = slice(lo * positions, hi * positions)
            np.matmul(grad_z[:, columns], cols[:, columns].T, out=kernel_sum)
            if self.needs_input_grad:  # the columns' gradient, over the columns just read
                np.matmul(kernel.T, grad_z[:, columns], out=cols[:, columns])
                col2im(cols, grad_x, lo, hi, *geometry)

        grad_x = self._workspace(batch, "grad_x") if self.needs_input_grad else None
        in_parts(batch, z.size + cols.size, part)
        for kernel_sum, bias_sum in sums:
            grad_kernel += kernel_sum
            grad_bias += bias_sum
        self.add_penalty_gradients()
        if grad_x is None:
            return [None]
        return [grad_x.reshape(batch, *self.input_shapes[0])]


@LAYERS.register
class Conv2D(_Conv):
    """2-D convolution over images (C, H, W): `activation(conv(x, kernel) + bias)`."""

    name = "Conv2D"
    description = "2-D convolution: learned filters slid over an image (channels, height, width)"
    param_specs = _specs('"3" for 3×3, or "3, 5" for height × width')
    dims = 2
    onnx_ops = ("Conv",)  # a 3-D kernel is read as a Conv1D
    expects = "an image (channels, height, width)"
    fix = "set the Input shape to [1, 28, 28] or add a Reshape"


@LAYERS.register
class Conv1D(_Conv):
    """1-D convolution over signals (C, L): `activation(conv(x, kernel) + bias)`."""

    name = "Conv1D"
    description = "1-D convolution: learned filters slid along a signal (channels, length)"
    param_specs = _specs("one number along the signal")
    dims = 1
    expects = "a signal (channels, length)"
    fix = "set the Input shape to [1, length] or add a Reshape"
