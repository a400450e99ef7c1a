"""BatchNormalization over the feature axis (axis 1: features of `(N, F)`, channels of `(N, C, H, W)`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import batch_norm as _kb
from engine.layers.base import Layer, Shape
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule

_EMPTY = {dtype: np.empty(0, dtype) for dtype in KERNEL_DTYPES}  # "no gamma / beta" for the kernels
_TORCH_KINDS = {1: "BatchNorm1d", 2: "BatchNorm1d", 3: "BatchNorm2d", 4: "BatchNorm3d"}
_NUMPY_BATCH_NORM = '''def batch_norm(x, name, epsilon):
    """Inference-mode batch normalization over axis 1 with the moving statistics."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = W[name + "/moving_mean"].reshape(shape)
    inv_std = (1 / np.sqrt(W[name + "/moving_variance"] + epsilon)).astype(x.dtype).reshape(shape)
    out = (x - mean) * inv_std
    if name + "/gamma" in W:
        out = out * W[name + "/gamma"].reshape(shape)
    if name + "/beta" in W:
        out = out + W[name + "/beta"].reshape(shape)
    return out'''


@LAYERS.register
class BatchNormalization(Layer):
    """Normalizes each feature with the batch statistics while training and the moving averages
    at inference. Arrays: gamma, beta (trainable), moving_mean, moving_variance (Keras order)."""

    name = "BatchNormalization"
    group = "Normalization"
    description = (
        "Normalizes each feature (each channel of an image) to zero mean and unit variance, then rescales"
    )
    param_specs = (
        ParamSpec(
            "momentum",
            "float",
            0.99,
            "How slowly the moving averages follow the batches",
            minimum=0.0,
            maximum=0.9999,
        ),
        ParamSpec(
            "epsilon",
            "float",
            1e-3,
            "Added to the variance to avoid dividing by zero",
            minimum=1e-12,
            maximum=1.0,
        ),
        ParamSpec("center", "bool", True, "Learn an offset (beta)"),
        ParamSpec("scale", "bool", True, "Learn a scale (gamma)"),
    )

    @classmethod
    def weight_shapes(cls, params: dict[str, Any], input_shapes: list[Shape]) -> dict[str, Shape]:
        features = (input_shapes[0][0],)
        shapes: dict[str, Shape] = {}
        if params["scale"]:
            shapes["gamma"] = features
        if params["center"]:
            shapes["beta"] = features
        shapes["moving_mean"] = features
        shapes["moving_variance"] = features
        return shapes

    @classmethod
    def trainable_keys(cls, params: dict[str, Any]) -> tuple[str, ...]:
        return tuple(k for k, on in (("gamma", params["scale"]), ("beta", params["center"])) if on)

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return "BatchNorm"

    def __init__(self, node_id: str, params: dict[str, Any], input_shapes: list[Shape], dtype: Any):
        super().__init__(node_id, params, input_shapes, dtype)
        self._arrays: dict[str, np.ndarray] = {}  # name -> the fused path's reused array

    def initialize(self, rng: np.random.Generator) -> None:
        for key, value in (("gamma", 1), ("beta", 0), ("moving_mean", 0), ("moving_variance", 1)):
            if key in self.weights:
                self.weights[key].fill(value)

    def _broadcast(self, vector: np.ndarray) -> np.ndarray:
        """A per-feature vector shaped to broadcast against `(N, F, ...)`."""
        return vector.reshape((1, -1) + (1,) * (len(self.input_shapes[0]) - 1))

    def _workspace(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Array `name` of `shape` in the layer's dtype, kept for the next batch of that shape."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape:
            array = self._arrays[name] = np.empty(shape, self.dtype)
        return array

    def _fused(self, x: np.ndarray) -> bool:
        """Whether the Numba kernels apply: images or signals `(N, C, ...)` of a kernel dtype."""
        return x.ndim >= 3 and self.dtype in KERNEL_DTYPES

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        """`(N, C, ...)` normalized per channel (axis 1); images run fused kernels into a reused
        output array, valid until the next forward of a batch of the same shape."""
        x = inputs[0]
        fused = self._fused(x)
        if fused:
            x = self.x = np.ascontiguousarray(x, dtype=self.dtype).reshape(
                *x.shape[:2], math.prod(x.shape[2:])
            )
        axes = (0, *range(2, x.ndim))
        eps = self.params["epsilon"]
        if training:
            if fused:
                mean, var = np.empty(x.shape[1]), np.empty(x.shape[1])
                _kb.moments(x, mean, var)
            else:
                mean = x.mean(axis=axes)
                var = x.var(axis=axes)
            momentum = self.params["momentum"]
            self.weights["moving_mean"] *= momentum
            self.weights["moving_mean"] += (1 - momentum) * mean
            self.weights["moving_variance"] *= momentum
            self.weights["moving_variance"] += (1 - momentum) * var
        else:
            mean = self.weights["moving_mean"]
            var = self.weights["moving_variance"]
        self.training = training
        self.inv_std = (1.0 / np.sqrt(var + eps)).astype(self.dtype)
        self.mean = mean.astype(self.dtype)
        if fused:
            out = self._workspace("out", x.shape)
            gamma, beta = (self.weights.get(k, _EMPTY[self.dtype]) for k in ("gamma", "beta"))
            _kb.normalize(x, self.mean, self.inv_std, gamma, beta, out)
            return out.reshape(inputs[0].shape)
        self.x_hat = (x - self._broadcast(self.mean)) * self._broadcast(self.inv_std)
        out = self.x_hat
        if "gamma" in self.weights:
            out = out * self._broadcast(self.weights["gamma"])
        if "beta" in self.weights:
            out = out + self._broadcast(self.weights["beta"])
        return out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        if self._fused(grad_out):
            return [self._fused_backward(grad_out)]
        axes = (0, *range(2, grad_out.ndim))
        if "beta" in self.grads:
            self.grads["beta"][...] = grad_out.sum(axis=axes)
        if "gamma" in self.grads:
            self.grads["gamma"][...] = (grad_out * self.x_hat).sum(axis=axes)
            grad_x_hat = grad_out * self._broadcast(self.weights["gamma"])
        else:
            grad_x_hat = grad_out
        inv_std = self._broadcast(self.inv_std)
        if not self.training:
            return [grad_x_hat * inv_std]
        count = grad_out.size // grad_out.shape[1]
        mean_g = self._broadcast(grad_x_hat.mean(axis=axes))
        mean_gx = self._broadcast((grad_x_hat * self.x_hat).sum(axis=axes) / count)
        return [(grad_x_hat - mean_g - self.x_hat * mean_gx) * inv_std]

    def _fused_backward(self, grad_out: np.ndarray) -> np.ndarray:
        """The input gradient `(N, C, ...)` (into a reused array) and gamma's and beta's, by the
        kernels; at inference the statistics are constants, so only the scale passes through."""
        g = np.ascontiguousarray(grad_out, dtype=self.dtype).reshape(self.x.shape)
        channels = g.shape[1]
        sum_g, sum_gx = np.empty(channels), np.empty(channels)
        _kb.backward_sums(self.x, g, self.mean, self.inv_std, sum_g, sum_gx)
        if "beta" in self.grads:
            self.grads["beta"][...] = sum_g
        if "gamma" in self.grads:
            self.grads["gamma"][...] = sum_gx
        if not self.training:
            sum_g[...] = 0.0
            sum_gx[...] = 0.0
        grad_x = self._workspace("grad_x", g.shape)
        gamma = self.weights.get("gamma", _EMPTY[self.dtype])
        _kb.backward_input(self.x, g, self.mean, self.inv_std, gamma, sum_g, sum_gx, grad_x)
        return grad_x.reshape(grad_out.shape)

    # ------------------------------------------------------------- export forms
    onnx_ops = ("BatchNormalization",)
    numpy_helpers = {"batch_norm": _NUMPY_BATCH_NORM}

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """BatchNormalization in inference mode with the moving statistics; its momentum is
        NetCanvas's (ONNX uses the same convention). Without scale / center a fixed scale 1 /
        offset 0 is written under a name the import recognises."""
        features = self.input_shapes[0][0]
        scale = weights.get("gamma")
        offset = weights.get("beta")
        inputs = [
            args[0],
            g.tensor(f"{out}/gamma", scale)
            if scale is not None
            else g.tensor(f"{out}/unit_scale", np.ones(features, np.float32)),
            g.tensor(f"{out}/beta", offset)
            if offset is not None
            else g.tensor(f"{out}/zero_offset", np.zeros(features, np.float32)),
            g.tensor(f"{out}/moving_mean", weights["moving_mean"]),
            g.tensor(f"{out}/moving_variance", weights["moving_variance"]),
        ]
        p = self.params
        return g.add(
            "BatchNormalization",
            inputs,
            out,
            out,
            epsilon=float(p["epsilon"]),
            momentum=float(p["momentum"]),
        )

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        """nn.BatchNorm1d/2d/3d by rank (PyTorch's momentum is 1 - NetCanvas's); other ranks
        through BatchNorm1d on x.flatten(2)."""
        p = self.params
        shape = self.input_shapes[0]
        kind = _TORCH_KINDS.get(len(shape), "BatchNorm1d")
        affine = p["scale"] or p["center"]
        momentum = round(1.0 - p["momentum"], 12)  # PyTorch weighs the new batch by momentum
        extra = "" if affine else ", affine=False"
        norm = m.module(f"nn.{kind}({shape[0]}, eps={p['epsilon']!r}, momentum={momentum!r}{extra})")
        w = self.weights
        ones = np.ones(shape[0], m.dtype)
        if affine:
            m.state("weight", w["gamma"].copy() if "gamma" in w else ones)
            m.state("bias", w["beta"].copy() if "beta" in w else ones * 0)
            for key, flag, label in (
                ("weight", "scale", "gamma stays 1"),
                ("bias", "center", "beta stays 0"),
            ):
                if not p[flag]:
                    m.init(f"{norm}.{key}.requires_grad_(False)  # {flag}=false: {label}")
        m.state("running_mean", w["moving_mean"].copy())
        m.state("running_var", w["moving_variance"].copy())
        m.state("num_batches_tracked", np.array(0, dtype=np.int64))
        x = args[0]
        return f"{norm}({x})" if len(shape) <= 4 else f"{norm}({x}.flatten(2)).reshape({x}.shape)"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        s.use("batch_norm")
        return f"batch_norm({args[0]}, {s.node_literal}, epsilon={self.params['epsilon']!r})"

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        ins = list(node.input)
        arrays = [reader.constant(name) for name in ins[1:5]]
        if len(arrays) < 4 or any(a is None for a in arrays):
            raise reader.fail(node, "needs constant scale, bias, mean and variance")
        gamma, beta, mean, var = (a.astype(np.float32) for a in arrays)
        # NetCanvas writes a fixed scale / offset under these names for scale/center = false
        scale, center = not ins[1].endswith("/unit_scale"), not ins[2].endswith("/zero_offset")
        params = {
            "epsilon": float(reader.attr(node, "epsilon", 1e-5)),
            "momentum": round(float(reader.attr(node, "momentum", 0.9)), 7),
            "scale": scale,
            "center": center,
        }
        weights = {"moving_mean": mean, "moving_variance": var}
        if scale:
            weights["gamma"] = gamma
        if center:
            weights["beta"] = beta
        reader.add_layer(
            "BatchNormalization", params, [ins[0]], node.output[0], weights, rank=reader.rank(ins[0])
        )
