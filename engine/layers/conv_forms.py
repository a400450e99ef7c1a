"""The export forms of Conv2D and Conv1D (engine/layers/conv.py), and the ONNX `Conv` import.

Pads are explicit everywhere: Keras/TensorFlow's "same" can put one more zero at the bottom/right
than at the top/left, which ONNX writes as `pads` [top, left, bottom, right] and PyTorch as an
`F.pad` before an unpadded convolution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.layers.pooling import SAME_NOTE
from engine.registry import LAYERS

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule
    from engine.layers.window_geometry import AxisWindow

_CONV2D_HELPER = '''
def conv2d(x, kernel, strides, dilation, pads):
    """Cross-correlation of x (N, C, H, W) with kernel (F, C, kh, kw) -> (N, F, oh, ow); pads
    (top, left, bottom, right) zeros around x first."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    _, channels, kh, kw = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh = (x.shape[2] - (kh - 1) * dh - 1) // sh + 1
    ow = (x.shape[3] - (kw - 1) * dw - 1) // sw + 1
    cols = np.empty((x.shape[0], channels, kh, kw, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw]
    return np.tensordot(cols, kernel, axes=([1, 2, 3], [1, 2, 3])).transpose(0, 3, 1, 2)
'''


class ConvForms:
    """Mixin of the convolution layers: ONNX, PyTorch and NumPy-script forms, ONNX import."""

    name: ClassVar[str]
    dims: ClassVar[int]
    params: dict[str, Any]
    weights: dict[str, np.ndarray]
    input_shapes: list[tuple[int, ...]]
    axes: tuple[AxisWindow, ...]
    activation: Any

    onnx_ops: ClassVar[tuple[str, ...]] = ()
    numpy_helpers: ClassVar[dict[str, str]] = {"conv2d": _CONV2D_HELPER}

    def _spatial(self) -> tuple[AxisWindow, ...]:
        """The layer's own spatial axes (a Conv1D's height-1 axis left out)."""
        return self.axes[-self.dims :]

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Conv with explicit pads [begin..., end...], strides and dilations, then the activation;
        a 'same' convolution says so in its doc_string (SAME_NOTE), for the import."""
        axes = self._spatial()
        inputs = [args[0], g.tensor(f"{out}/kernel", weights["kernel"])]
        if "bias" in weights:
            inputs.append(g.tensor(f"{out}/bias", weights["bias"]))
        attrs = {
            "kernel_shape": [a.kernel for a in axes],
            "pads": [a.pad_before for a in axes] + [a.pad_after for a in axes],
            "strides": [a.stride for a in axes],
            "dilations": [a.dilation for a in axes],
        }
        if self.params["padding"] == "same":  # read back as "same" whatever the input size
            attrs["doc_string"] = SAME_NOTE
        if self.activation.name == "linear":
            return g.add("Conv", inputs, out, out, **attrs)
        z = g.add("Conv", inputs, f"{out}/linear", f"{out}/linear", **attrs)
        return self.activation.to_onnx(g, z, out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        """nn.Conv2d / nn.Conv1d (padding in the module when equal on both sides, else an F.pad
        before it), then the activation as a function."""
        p, axes = self.params, self._spatial()
        equal = all(a.pad_before == a.pad_after for a in axes)
        padding = tuple(a.pad_before for a in axes) if equal else (0,) * self.dims
        bias = "" if p["use_bias"] else ", bias=False"
        conv = m.module(
            f"nn.Conv{self.dims}d({self.input_shapes[0][0]}, {p['filters']}, {tuple(a.kernel for a in axes)}, "
            f"stride={tuple(a.stride for a in axes)}, padding={padding}, "
            f"dilation={tuple(a.dilation for a in axes)}{bias})"
        )
        m.state("weight", self.weights["kernel"].copy(), decayed=True)
        if p["use_bias"]:
            m.state("bias", self.weights["bias"].copy())
        for key, term in (("kernel_l1", "abs().sum()"), ("kernel_l2", "square().sum()")):
            if p[key]:
                m.penalty(f"{p[key]!r} * {conv}.weight.{term}")
        x = args[0]
        if not equal:  # F.pad lists the last axis first: (left, right, top, bottom)
            pads = [v for a in reversed(axes) for v in (a.pad_before, a.pad_after)]
            x = f"F.pad({x}, {tuple(pads)})"
        return m.activation(self.activation, f"{conv}({x})")

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        """The script's conv2d helper (im2col by slicing); a Conv1D as height 1."""
        s.use("conv2d")
        h, w = self.axes
        pads = (h.pad_before, w.pad_before, h.pad_after, w.pad_after)
        geometry = f"{(h.stride, w.stride)}, {(h.dilation, w.dilation)}, {pads}"
        if self.dims == 1:
            z = f"conv2d({args[0]}[:, :, None], {s.weight('kernel')}[:, :, None], {geometry})[:, :, 0]"
            bias = f"{s.weight('bias')}[:, None]" if "bias" in self.weights else ""
        else:
            z = f"conv2d({args[0]}, {s.weight('kernel')}, {geometry})"
            bias = f"{s.weight('bias')}[:, None, None]" if "bias" in self.weights else ""
        return s.activation(self.activation, f"{z} + {bias}" if bias else z)

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        """Conv (group 1, explicit pads or auto_pad VALID / SAME_UPPER) as a Conv2D, or a Conv1D
        for a 3-D kernel. No pads, a NetCanvas export marked SAME_NOTE (its doc_string) and the
        pads of a stride-1 'same' map onto the padding parameter (at larger strides 'same' pads
        depend on the input size, which the reader does not give); other pads become a
        ZeroPadding2D before the convolution."""
        ins, out = list(node.input), node.output[0]
        x = ins[0]
        kernel = reader.constant(ins[1]) if len(ins) >= 2 else None
        if kernel is None or not reader.known(ins[0]):
            raise reader.fail(node, "needs a constant kernel as its second input")
        dims = kernel.ndim - 2
        if dims not in (1, 2):
            raise reader.fail(
                node, f"has a kernel of shape {kernel.shape}; Conv1D/Conv2D kernels are 3-D/4-D"
            )
        if reader.rank(ins[0]) != dims + 2:
            raise reader.fail(
                node, f"reads a tensor of rank {reader.rank(ins[0])} with a {kernel.ndim}-D kernel"
            )
        if reader.attr(node, "group", 1) != 1:
            raise reader.fail(node, "is a grouped convolution (group != 1), which Conv2D cannot express")
        window = list(kernel.shape[2:])
        strides = list(reader.attr(node, "strides", [1] * dims))
        dilation = list(reader.attr(node, "dilations", [1] * dims))
        auto_pad = reader.attr(node, "auto_pad", "NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        pads = list(reader.attr(node, "pads", [0] * (2 * dims)))
        if auto_pad in ("VALID", "SAME_UPPER"):
            padding = "valid" if auto_pad == "VALID" else "same"
        elif auto_pad != "NOTSET":
            raise reader.fail(node, f"uses auto_pad {auto_pad}; NetCanvas reads VALID and SAME_UPPER")
        elif node.doc_string == SAME_NOTE or not any(pads):
            padding = "same" if node.doc_string == SAME_NOTE else "valid"
        else:
            totals = [(k - 1) * d for k, d in zip(window, dilation, strict=True)]
            same = [t // 2 for t in totals] + [t - t // 2 for t in totals]
            padding = "same"
            if pads != same or any(s != 1 for s in strides):
                x = cls._zero_padding(reader, node, pads)
                padding = "valid"
        params = {
            "filters": int(kernel.shape[0]),
            "kernel_size": window,
            "strides": strides,
            "padding": padding,
            "dilation_rate": dilation,
            "activation": "linear",
            "use_bias": len(ins) > 2 and bool(ins[2]),
        }
        weights = {"kernel": np.ascontiguousarray(kernel, dtype=np.float32)}
        if params["use_bias"]:
            bias = reader.constant(ins[2])
            if bias is None:
                raise reader.fail(node, "needs a constant bias")
            weights["bias"] = np.asarray(bias, np.float32).reshape(-1).copy()
        reader.add_layer("Conv2D" if dims == 2 else "Conv1D", params, [x], out, weights, rank=dims + 2)

    @staticmethod
    def _zero_padding(reader: LayerOnnxReader, node: Any, pads: list[int]) -> str:
        """A ZeroPadding2D node padding the Conv's input by ONNX `pads` [top, left, bottom,
        right]; returns its output tensor (the convolution then reads it with padding 'valid')."""
        if len(pads) != 4 or "ZeroPadding2D" not in LAYERS.names():
            raise reader.fail(
                node,
                f"uses pads {pads}, neither 'valid' nor a stride-1 'same', and no zero padding layer reads them",
            )
        top, left, bottom, right = pads
        padded = f"{node.output[0]}/pad"
        reader.add_layer(
            "ZeroPadding2D", {"padding": f"{top}, {bottom}, {left}, {right}"}, [node.input[0]], padded, rank=4
        )
        return padded
