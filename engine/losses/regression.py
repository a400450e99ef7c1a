"""Regression losses: mse, mae, huber, log_cosh (each averaged over every value)."""

from __future__ import annotations

import math

import numpy as np

from engine.losses.base import MeanLoss
from engine.registry import LOSSES, ParamSpec


@LOSSES.register
class MeanSquaredError(MeanLoss):
    name = "mse"
    torch_loss = "return (output - target).square().mean()"
    description = "Mean squared error"
    formula = "L = mean((ŷ - y)²)"
    when_to_use = "The standard choice for regression; large errors are punished much more than small ones."

    def _value(self, p, t):
        return np.square(p - t)

    def _grad(self, p, t):
        return 2.0 * (p - t)


@LOSSES.register
class MeanAbsoluteError(MeanLoss):
    name = "mae"
    torch_loss = "return (output - target).abs().mean()"
    description = "Mean absolute error"
    formula = "L = mean(|ŷ - y|)"
    when_to_use = "Regression where outliers should not dominate; every error counts in proportion."

    def _value(self, p, t):
        return np.abs(p - t)

    def _grad(self, p, t):
        return np.sign(p - t)


@LOSSES.register
class Huber(MeanLoss):
    name = "huber"
    torch_loss = """
    d, delta = (output - target).abs(), LOSS["delta"]
    return torch.where(d <= delta, 0.5 * d * d, delta * d - 0.5 * delta * delta).mean()
    """
    description = "Squared error for small errors, absolute error for large ones"
    formula = "L = mean(½e² if |e| ≤ δ else δ·|e| - ½δ²), e = ŷ - y"
    when_to_use = "Regression with some outliers: smooth like mse near the target, robust like mae far away."
    param_specs = (
        ParamSpec("delta", "float", 1.0, "Error size where squared turns into linear", minimum=1e-6),
    )

    def _value(self, p, t):
        d, delta = np.abs(p - t), self.params["delta"]
        return np.where(d <= delta, 0.5 * d * d, delta * d - 0.5 * delta * delta)

    def _grad(self, p, t):
        delta = self.params["delta"]
        return np.clip(p - t, -delta, delta)


@LOSSES.register
class LogCosh(MeanLoss):
    name = "log_cosh"
    torch_loss = """
    d = (output - target).abs()
    return (d + torch.log1p(torch.exp(-2 * d)) - math.log(2.0)).mean()
    """
    description = "Logarithm of the hyperbolic cosine of the error"
    formula = "L = mean(log(cosh(ŷ - y)))"
    when_to_use = (
        "Regression: behaves like mse for small errors and like mae for large ones, smooth everywhere."
    )

    def _value(self, p, t):
        d = np.abs(p - t)  # log cosh d = |d| + log(1 + e^(-2|d|)) - log 2, no overflow
        return d + np.log1p(np.exp(-2.0 * d)) - math.log(2.0)

    def _grad(self, p, t):
        return np.tanh(p - t)
