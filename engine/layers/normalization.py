"""BatchNormalization over the feature axis (axis 1: features of `(N, F)`, channels of `(N, C, H, W)`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers.base import Layer, Shape
from engine.registry import LAYERS, ParamSpec


@LAYERS.register
class BatchNormalization(Layer):
    """Normalizes each feature with the batch statistics while training and the moving averages
    at inference. Arrays: gamma, beta (trainable), moving_mean, moving_variance (Keras order)."""

    name = "BatchNormalization"
    group = "Normalization"
    description = "Normalizes each feature to zero mean and unit variance, then rescales"
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

    def initialize(self, rng: np.random.Generator) -> None:
        for key, value in (("gamma", 1), ("beta", 0), ("moving_mean", 0), ("moving_variance", 1)):
            if key in self.weights:
                self.weights[key].fill(value)

    def _broadcast(self, vector: np.ndarray) -> np.ndarray:
        """A per-feature vector shaped to broadcast against `(N, F, ...)`."""
        return vector.reshape((1, -1) + (1,) * (len(self.input_shapes[0]) - 1))

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        x = inputs[0]
        axes = (0, *range(2, x.ndim))
        eps = self.params["epsilon"]
        if training:
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
        self.x_hat = (x - self._broadcast(mean.astype(self.dtype))) * self._broadcast(self.inv_std)
        out = self.x_hat
        if "gamma" in self.weights:
            out = out * self._broadcast(self.weights["gamma"])
        if "beta" in self.weights:
            out = out + self._broadcast(self.weights["beta"])
        return out

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
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
