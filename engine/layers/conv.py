"""Convolution layers: Conv2D on images `(C, H, W)` and Conv1D on signals `(C, L)`.

Kernel `(filters, in_channels, kh, kw)` (Conv1D: `(filters, in_channels, k)`), bias `(filters,)`,
as PyTorch and ONNX store them. Cross-correlation, as every framework computes it. The maths runs
through im2col and BLAS products over chunks of a few samples (engine/_kernels/conv.py says the
layout); a Conv1D is a Conv2D of height 1 over the same kernels. The export forms live in
engine/layers/conv_forms.py.

Why chunks: a chunk's columns and products fit in a core's cache, so they never travel to memory
and back. A step over the whole batch at once wrote the columns and the products out and read
them again in every pass, and on a thin first layer (one channel, 9 taps) memory, not arithmetic,
set the pace; the backward builds the columns again from the input rather than keeping them.
The products themselves run faster on chunk-sized operands too (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES, blas
from engine._kernels import activations as _ka
from engine._kernels import conv as _k
from engine._kernels.parts import in_parts, scratch
from engine.activations import get_activation
from engine.errors import GraphError
from engine.initializers import get_initializer
from engine.layers.base import ACTIVATION_SPEC, KERNEL_SPECS, KernelLayer, Shape, shape_text
from engine.layers.conv_forms import ConvForms
from engine.layers.window_geometry import AxisWindow, window_sizes, windows
from engine.layers.workspaces import Workspaces
from engine.registry import LAYERS, ParamSpec

_MAX_WORKSPACES = 4  # batch sizes whose arrays a convolution keeps at once
INFERENCE_VALUES = 1 << 23  # the largest pre-activation an inference pass keeps (for a trace)
CHUNK_BYTES = 1 << 19
"""A chunk's columns and products together: about half of a core's L2 cache on current CPUs. On
the bench machine (1 MiB L2) the first convolution's kernel gradient ran at 90 GFLOP/s on 4-sample
chunks (440 KiB) and at 30 GFLOP/s on 8-sample ones."""


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
        self.images: np.ndarray | None = None  # the last kept forward's input (N, C, H, W)
        self.pre_activation = None  # type: ignore[assignment]

    def initialize(self, rng: np.random.Generator) -> None:
        """Keras' (and PyTorch's) fans for a convolution: in_channels·window and filters·window."""
        filters, channels, *window = self.weights["kernel"].shape
        fan_in, fan_out = channels * int(np.prod(window)), filters * int(np.prod(window))
        for key, init_name in (("kernel", "kernel_initializer"), ("bias", "bias_initializer")):
            if key in self.weights:
                init = get_initializer(self.params[init_name])
                self.weights[key][...] = init(self.weights[key].shape, fan_in, fan_out, rng, self.dtype)

    def workspace(self, batch: int, name: str) -> np.ndarray:
        """Array `name` for a batch of `batch` samples, allocated on first use and reused: pre
        and a (N, F, P), the biased pre-activation and the output; grad_x (N, C, H, W). A few
        batch sizes are kept, least recently used dropped first."""
        filters = self.params["filters"]
        shape = {
            "pre": (batch, filters, self.positions),
            "a": (batch, filters, self.positions),
            "grad_x": (batch, *self.image_shape),
        }[name]
        return self._workspaces.get(batch, name, lambda: np.empty(shape, self.dtype))

    def chunk_samples(self) -> int:
        """Samples per chunk: as many as keep a chunk's columns and products within CHUNK_BYTES."""
        per_sample = (self.taps + self.params["filters"]) * self.positions * self.dtype.itemsize
        return max(1, CHUNK_BYTES // per_sample)

    def chunk_buffers(self, samples: int) -> tuple[np.ndarray, np.ndarray]:
        """This thread's flat scratch for the columns (C*kh*kw x samples*P) and the products (F x
        samples*P) of a chunk of `samples` samples."""
        rows = samples * self.positions
        return (
            scratch("conv columns", (self.taps * rows,), self.dtype),
            scratch("conv products", (self.params["filters"] * rows,), self.dtype),
        )

    def as_images(self, x: np.ndarray) -> np.ndarray:
        """x (N, *input_shape) as a C-contiguous (N, C, H, W) array of the layer's dtype."""
        if x.ndim != self.dims + 2 or tuple(x.shape[1:]) != tuple(self.input_shapes[0]):
            raise GraphError(
                f"{self.name} '{self.node_id}' expects a batch of shape (N, {', '.join(map(str, self.input_shapes[0]))}), "
                f"got {shape_text(x.shape)}"
            )
        return np.ascontiguousarray(x, dtype=self.dtype).reshape(x.shape[0], *self.image_shape)

    def activation_alpha(self) -> Any:
        """The activation's slope/scale in the layer's dtype (0 for one without)."""
        return self.dtype.type(getattr(self.activation, "alpha", 0.0))

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """Output `(N, filters, *out_spatial)` of input `(N, *input_shape)`. A training batch (or
        a small inference one) goes into reused arrays, valid until the next forward with the
        same batch size, and keeps its pre-activation for backward and for a trace (in training,
        only where backward or a fused loss reads it); a larger inference batch goes into a new
        array and keeps none."""
        x = self.as_images(inputs[0])
        batch, filters = x.shape[0], self.params["filters"]
        bias = self.checked_bias()
        no_pre = np.empty((0, filters, self.positions), self.dtype)
        if training and self._derivative_from_output() and not self.feeds_loss:
            # backward needs only the output: the pre-activation is never written (one pass
            # over the layer's largest arrays less each way)
            out, pre = self.workspace(batch, "a"), no_pre
            self.pre_activation, self.images = None, x  # type: ignore[assignment]
        elif training or batch * filters * self.positions <= INFERENCE_VALUES:
            pre, out = self.workspace(batch, "pre"), self.workspace(batch, "a")
            # (N, filters, *out_spatial): valid until the next forward with this batch size
            self.pre_activation = pre.reshape(batch, *self.output_shape_)
            self.images = x  # the backward builds the columns again from it
        else:
            out, pre = np.empty((batch, filters, self.positions), self.dtype), no_pre
            self.pre_activation = self.images = None  # type: ignore[assignment]
        self._compute(x, pre, out, bias)
        self.out = out.reshape(batch, *self.output_shape_)
        return self.out

    def _compute(self, x: np.ndarray, pre: np.ndarray, out: np.ndarray, bias: np.ndarray) -> None:
        """out (n, F, P) = activation(kernel @ im2col(x) + bias) for images x (n, C, H, W), and
        pre (n, F, P) = the biased pre-activation unless pre is (0, F, P); all C-contiguous, of
        the layer's dtype. The cores take ranges of samples in turn, each in one kernel call that
        works through its range chunk by chunk: columns, product, bias and activation
        (engine/_kernels/parts.py, engine/_kernels/conv.py)."""
        compiled = self.dtype in KERNEL_DTYPES
        forward = self._range_kernels()[0]
        kernel = self.kernel_matrix()
        code = self.activation.kernel_code if compiled else None
        fused_code, alpha = _ka.LINEAR if code is None else code, self.activation_alpha()
        keep, chunk = pre.shape[0] > 0, self.chunk_samples()

        def part(lo: int, hi: int) -> None:  # these samples, chunk by chunk
            cols, z = self.chunk_buffers(chunk)
            part_pre = pre[lo:hi] if keep else pre
            forward(
                x[lo:hi],
                kernel,
                bias,
                part_pre,
                out[lo:hi],
                cols,
                z,
                chunk,
                fused_code,
                alpha,
                *self.geometry_args,
            )

        in_parts(x.shape[0], (self.taps + self.params["filters"]) * self.positions * x.shape[0], part)
        if code is None:  # an activation without a kernel (softmax, a NumPy-only one) or float16
            images = out.reshape(x.shape[0], *self.output_shape_)
            images[...] = self.activation.forward(images)

    def _range_kernels(self) -> tuple[Callable[..., None], Callable[..., None]]:
        """forward_range and backward_range for this layer's dtype: compiled where NumPy's BLAS
        can be called from Numba, else the same steps from Python (engine/_kernels/conv.py)."""
        if self.dtype not in KERNEL_DTYPES:
            return _k.forward_range_ref, _k.backward_range_ref
        if blas.AVAILABLE:
            return _k.forward_range, _k.backward_range
        return _k.forward_range_steps, _k.backward_range_steps

    def checked_bias(self) -> np.ndarray:
        """The bias, or an empty array without one; GraphError for a wrong shape or dtype."""
        bias, filters = self.weights.get("bias", np.empty(0, self.dtype)), self.params["filters"]
        if bias.shape not in ((0,), (filters,)) or bias.dtype != self.dtype:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects a bias of shape ({filters},) and "
                f"dtype {self.dtype}, got {shape_text(bias.shape)} {bias.dtype}"
            )
        return bias

    def kernel_matrix(self) -> np.ndarray:
        """The kernel as (filters, C*kh*kw), C-contiguous in the layer's dtype: the compiled
        kernels hand it to BLAS, which checks nothing."""
        kernel, shape = self.weights["kernel"], self.weight_shapes(self.params, self.input_shapes)["kernel"]
        if kernel.dtype != self.dtype or kernel.shape != shape:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects a kernel of shape {shape_text(shape)} and "
                f"dtype {self.dtype}, got {shape_text(kernel.shape)} {kernel.dtype}"
            )
        return np.ascontiguousarray(kernel).reshape(self.params["filters"], self.taps)

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        code = self.activation.kernel_code
        if code is None or self.dtype not in KERNEL_DTYPES:
            self._require_kept_forward()  # and the activation then needs the pre-activation, kept
            grad_out = self.activation.backward(self.pre_activation, self.out, grad_out)
            code = _ka.LINEAR
        return self._backward_rows(grad_out, code)

    def _derivative_from_output(self) -> bool:
        """Whether the fused kernels take the activation's derivative from the output alone."""
        return self.dtype in KERNEL_DTYPES and self.activation.kernel_code in _ka.DERIVATIVE_FROM_OUTPUT

    def _require_kept_forward(self) -> None:
        """GraphError unless the last forward kept what backward reads (its input, and the
        pre-activation where the derivative needs it)."""
        if self.images is None:
            raise GraphError(
                f"{self.name} '{self.node_id}': backward needs the forward of a training batch "
                "(a large inference batch keeps nothing for it)"
            )

    def backward_from_preactivation(self, grad_z: np.ndarray) -> list[np.ndarray | None]:
        return self._backward_rows(grad_z, _ka.LINEAR)

    def _backward_rows(self, grad: np.ndarray, code: int) -> list[np.ndarray | None]:
        """Backward from `grad` (N, filters, *out_spatial), d(loss)/d(output) through activation
        `code` (LINEAR: d(loss)/d(pre-activation))."""
        self._require_kept_forward()
        batch, filters = self.out.shape[0], self.params["filters"]
        if grad.shape != self.out.shape:
            raise GraphError(
                f"{self.name} '{self.node_id}' expects an output gradient of shape "
                f"{shape_text(self.out.shape)}, got {shape_text(grad.shape)}"
            )
        grad = np.ascontiguousarray(grad, dtype=self.dtype).reshape(batch, filters, self.positions)
        a = self.out.reshape(batch, filters, self.positions)
        # without a kept pre-activation, the derivative is taken from a alone (pre is unread)
        pre = a if self.pre_activation is None else self.pre_activation.reshape(a.shape)
        return self.backward_by_ranges(self._range_kernels()[1], (self.images, pre, a, grad), code)

    def backward_by_ranges(
        self, backward: Callable[..., None], per_sample: tuple[np.ndarray, ...], code: int
    ) -> list[np.ndarray | None]:
        """Fill `grads` and return the input gradient (or [None]) by running `backward` on the
        cores' ranges of the batch: engine/_kernels/conv.py `backward_range`, or a kernel with its
        arguments after the first four (engine/_kernels/conv_pool.py). `per_sample`: those first
        four, batch-first (the input images first), sliced by range."""
        batch, filters = per_sample[0].shape[0], self.params["filters"]
        kernel, chunk, alpha = self.kernel_matrix(), self.chunk_samples(), self.activation_alpha()
        grad_bias = self.grads.get("bias", np.empty(0, self.dtype))
        grad_x = self.workspace(batch, "grad_x") if self.needs_input_grad else None
        no_grad_x = np.empty((0, *self.image_shape), self.dtype)
        sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by range: kernel (transposed), bias

        def part(lo: int, hi: int) -> None:  # these samples' share of every gradient, by chunks
            # the kernel gradient as (taps, filters): cols @ grad_z.T ran at 93 GFLOP/s on the
            # bench machine, grad_z @ cols.T at 76 (docs/performance.md)
            kernel_sum = np.empty((self.taps, filters), self.dtype)
            bias_sum = np.zeros_like(grad_bias)
            sums[lo] = kernel_sum, bias_sum
            chunk_kernel = scratch("conv kernel gradient", kernel_sum.shape, self.dtype)
            cols, z = self.chunk_buffers(chunk)
            part_grad_x = no_grad_x if grad_x is None else grad_x[lo:hi]
            backward(
                *(array[lo:hi] for array in per_sample), kernel, part_grad_x, kernel_sum, chunk_kernel,
                bias_sum, cols, z, chunk, code, alpha, *self.geometry_args,
            )  # fmt: skip

        in_parts(batch, (self.taps + filters) * self.positions * batch, part)
        shares = [sums[lo] for lo in sorted(sums)]  # added in one order: the same sums every run
        kernel_total, bias_total = shares[0]
        for kernel_sum, bias_sum in shares[1:]:
            kernel_total += kernel_sum  # (taps, filters): adding into grad_kernel.T is 5x slower
            bias_total += bias_sum
        self.grads["kernel"].reshape(filters, self.taps)[...] = kernel_total.T
        grad_bias[...] = bias_total
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
