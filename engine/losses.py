"""Loss functions with Keras' definitions and reductions, their gradients and target checks.

`y_pred` is `(N, ...)`; `y_true` has the same shape, or holds integer class ids `(N,)` when
`target == "index"`. `forward` returns the mean loss of the batch as a float; `backward` its
gradient w.r.t. `y_pred` in `y_pred`'s dtype. Reductions follow Keras: mse, mae, huber, log_cosh,
the binary losses and hinges average over the last axis and then over samples; categorical losses
and kl_divergence sum over the last (class) axis; dice is 1 - dice coefficient per sample.

Probabilities are clipped to [1e-7, 1 - 1e-7] like Keras, so the gradient is zero beyond the clip.
When the output layer's activation equals `fused_activation`, the trainer calls the
`*_from_logits` methods instead: they work on the pre-activation with log-sum-exp / log-sigmoid,
stay finite for any logit size, and give the simple gradients (softmax(z) - onehot) / N.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import losses as _k
from engine.activations import get_activation
from engine.errors import ConfigError, DataError
from engine.registry import LOSSES, ParamSpec, resolve_params

EPSILON = 1e-7
_SIGMOID = get_activation("sigmoid")
_NO_GRAD = {dtype: np.empty((0, 0), dtype) for dtype in KERNEL_DTYPES}


class Loss(ABC):
    """Base of every loss; see the module docstring for shapes and reductions."""

    name = ""
    group = "Loss"
    description = ""
    formula = ""
    when_to_use = ""
    param_specs: tuple[ParamSpec, ...] = ()
    target = "dense"  # or "index": y_true holds integer class ids
    fused_activation: str | None = None
    task = "regression"  # or "classification" (chooses the default metrics)
    value_range: tuple[float, float] | None = None  # allowed target values, None = any finite
    min_classes = 1  # least number of output units along the last axis

    def __init__(self, **params: Any):
        self.params = resolve_params(type(self), params, f"loss '{self.name}'")

    @abstractmethod
    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """Mean loss over the batch."""
        raise NotImplementedError

    @abstractmethod
    def backward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """d(mean loss)/d(y_pred), shape and dtype of y_pred."""
        raise NotImplementedError

    def forward_each(self, y_preds: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """`forward` of each y_preds[i] against the same targets (the fused path's validation
        outputs, one per epoch of a multi-epoch kernel call), as float64 (len(y_preds),)."""
        return np.array([self.forward(p, y_true) for p in y_preds], dtype=np.float64)

    def forward_from_logits(self, z: np.ndarray, y_true: np.ndarray) -> float:
        """Mean loss of `fused_activation(z)`, computed stably from the pre-activation z."""
        raise ConfigError(f"loss '{self.name}' has no fused form with an output activation")

    def backward_from_logits(self, z: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """d(mean loss)/dz through `fused_activation`, shape and dtype of z."""
        raise ConfigError(f"loss '{self.name}' has no fused form with an output activation")

    def validate_targets(self, y_true: Any, output_shape: tuple[int, ...], where: str) -> None:
        """Raise DataError unless `y_true` suits this loss and an output of `output_shape` (no N)."""
        y = np.asarray(y_true)
        shape = tuple(output_shape)
        label = f"{where}: {self.name}"
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
            raise DataError(f"{label} expects numeric targets, got values of type {y.dtype}")
        if y.ndim == 0:
            raise DataError(f"{label} expects one target per sample, got a single value")
        if shape and shape[-1] < self.min_classes:
            raise DataError(
                f"{label} needs an output with one unit per class (at least {self.min_classes}), got "
                f"output shape {_shape(shape)}: for two classes use binary_crossentropy with a sigmoid output"
            )
        if self.target == "index":
            _check_class_ids(y, shape, label)
            return
        if y.shape[1:] != shape and not (y.ndim == 1 and shape == (1,)):
            hint = ""
            if y.ndim == 1 and self.task == "classification":
                hint = "; integer class ids need sparse_categorical_crossentropy"
            raise DataError(
                f"{label} expects targets shaped like the output, {_shape(shape, True)}, got {y.shape}{hint}"
            )
        y = y.astype(np.float64)
        _first_bad(~np.isfinite(y), y, f"{label} expects finite targets")
        self._check_values(y, label)

    def _check_values(self, y: np.ndarray, label: str) -> None:
        if self.value_range is not None:
            lo, hi = self.value_range
            _first_bad((y < lo) | (y > hi), y, f"{label} expects targets in [{lo:g}, {hi:g}]")


def _shape(shape: tuple[int, ...], batch: bool = False) -> str:
    """(10,) or, with batch, (N, 10) as people write them."""
    dims = ["N", *map(str, shape)] if batch else list(map(str, shape))
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _first_bad(bad: np.ndarray, y: np.ndarray, message: str) -> None:
    """Raise DataError `message, got <value> at sample <i>` for the first True of `bad`."""
    if bad.any():
        flat = int(np.argmax(bad.reshape(-1)))
        per_sample = max(y.size // max(len(y), 1), 1)
        raise DataError(f"{message}, got {_fmt(y.reshape(-1)[flat])} at sample {flat // per_sample}")


def _check_class_ids(y: np.ndarray, shape: tuple[int, ...], label: str) -> None:
    inner, classes = shape[:-1], shape[-1]
    if y.shape[1:] not in (inner, (*inner, 1)):
        hint = "; one-hot targets need categorical_crossentropy" if y.shape[1:] == shape else ""
        raise DataError(
            f"{label} expects one integer class id per sample, shape {_shape(inner, True)}, "
            f"got {y.shape}{hint}"
        )
    y = y.astype(np.float64)
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= classes)
    _first_bad(bad, y, f"{label} expects integer class ids in [0, {classes})")


def _float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _dense(y_pred: Any, y_true: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """y_pred as floats and y_true in its dtype and shape (a (N,) target fits a (N, 1) output)."""
    p = _float(y_pred)
    t = np.asarray(y_true, dtype=p.dtype)
    if t.shape != p.shape:
        if t.size != p.size or len(t) != len(p):
            raise DataError(
                f"loss '{name}' expects targets shaped like the predictions {p.shape}, got {t.shape}"
            )
        t = t.reshape(p.shape)
    return p, t


def _labels(y_pred: Any, y_true: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """y_pred as floats (N, ..., C) and y_true as integer ids of shape (N, ...)."""
    p = _float(y_pred)
    t = np.asarray(y_true)
    if t.size != p.size // max(p.shape[-1], 1):
        raise DataError(
            f"loss '{name}' expects one class id per sample for predictions {p.shape}, got {t.shape}"
        )
    return p, t.reshape(p.shape[:-1]).astype(np.intp)


def _rows(p: np.ndarray) -> int:
    """Number of samples times positions: what the class-summing losses average over."""
    return max(p.size // max(p.shape[-1], 1), 1)


def _clip(p: np.ndarray, hi: float = 1.0 - EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """p clipped to [eps, hi] and the mask where the clip lets the gradient through."""
    return np.clip(p, EPSILON, hi), (p >= EPSILON) & (p <= hi)


def _bce_logits(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-(t·log σ(z) + (1-t)·log(1-σ(z))) without overflow."""
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


class _MeanLoss(Loss):
    """Elementwise loss averaged over every value (= Keras' mean over the last axis, then samples)."""

    @abstractmethod
    def _value(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grad(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        p, t = _dense(y_pred, y_true, self.name)
        return float(np.mean(self._value(p, t))) if p.size else 0.0

    def forward_each(self, y_preds: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """One elementwise pass over the whole stack (a Python-level `forward` per epoch cost
        ~50 us, a third of the spiral example's bookkeeping per epoch); each row's mean is
        the same pairwise sum `forward` takes, so the values are equal."""
        if len(y_preds) == 0 or y_preds[0].size == 0:
            return super().forward_each(y_preds, y_true)
        _, t = _dense(y_preds[0], y_true, self.name)
        values = self._value(_float(y_preds), t)
        return values.reshape(len(y_preds), -1).mean(axis=1).astype(np.float64)

    def backward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        p, t = _dense(y_pred, y_true, self.name)
        return (self._grad(p, t) * p.dtype.type(1.0 / max(p.size, 1))).astype(p.dtype, copy=False)


@LOSSES.register
class MeanSquaredError(_MeanLoss):
    name = "mse"
    description = "Mean squared error"
    formula = "L = mean((ŷ - y)²)"
    when_to_use = "The standard choice for regression; large errors are punished much more than small ones."

    def _value(self, p, t):
        return np.square(p - t)

    def _grad(self, p, t):
        return 2.0 * (p - t)


@LOSSES.register
class MeanAbsoluteError(_MeanLoss):
    name = "mae"
    description = "Mean absolute error"
    formula = "L = mean(|ŷ - y|)"
    when_to_use = "Regression where outliers should not dominate; every error counts in proportion."

    def _value(self, p, t):
        return np.abs(p - t)

    def _grad(self, p, t):
        return np.sign(p - t)


@LOSSES.register
class Huber(_MeanLoss):
    name = "huber"
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
class LogCosh(_MeanLoss):
    name = "log_cosh"
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


@LOSSES.register
class BinaryCrossentropy(_MeanLoss):
    name = "binary_crossentropy"
    description = "Cross-entropy for yes/no outputs (one sigmoid probability per value)"
    formula = "L = -mean(y·log ŷ + (1 - y)·log(1 - ŷ))"
    when_to_use = "Two-class or multi-label classification with sigmoid outputs and targets 0 or 1."
    fused_activation = "sigmoid"
    task = "classification"
    value_range = (0.0, 1.0)

    def _value(self, p, t):
        pc = np.clip(p, EPSILON, 1.0 - EPSILON)
        return -(t * np.log(pc) + (1.0 - t) * np.log1p(-pc))

    def _grad(self, p, t):
        pc, mask = _clip(p)
        return (pc - t) / (pc * (1.0 - pc)) * mask

    def forward_from_logits(self, z, y_true):
        z, t = _dense(z, y_true, self.name)
        return float(np.mean(_bce_logits(z, t))) if z.size else 0.0

    def backward_from_logits(self, z, y_true):
        z, t = _dense(z, y_true, self.name)
        return (_SIGMOID.forward(z) - t) * z.dtype.type(1.0 / max(z.size, 1))


@LOSSES.register
class BinaryFocal(_MeanLoss):
    """Keras BinaryFocalCrossentropy: (1 - p_t)^γ · bce, optionally weighted α / 1 - α by class."""

    name = "binary_focal"
    description = "Binary cross-entropy that down-weights examples the network already gets right"
    formula = "L = mean(w·(1 - p_t)^γ·bce), p_t = ŷ if y = 1 else 1 - ŷ"
    when_to_use = "Yes/no classification with rare positives: focuses training on the hard examples."
    param_specs = (
        ParamSpec("gamma", "float", 2.0, "Focusing strength (0 = plain cross-entropy)", minimum=0.0),
        ParamSpec(
            "alpha", "float", 0.25, "Weight of the positive class when balancing", minimum=0.0, maximum=1.0
        ),
        ParamSpec("apply_class_balancing", "bool", False, "Weight positives by α and negatives by 1 - α"),
    )
    fused_activation = "sigmoid"
    task = "classification"
    value_range = (0.0, 1.0)

    def _weight(self, t: np.ndarray) -> np.ndarray | float:
        if not self.params["apply_class_balancing"]:
            return 1.0
        alpha = self.params["alpha"]
        return t * alpha + (1.0 - t) * (1.0 - alpha)

    def _focal(self, u, du, b, db, t) -> tuple[np.ndarray, np.ndarray]:
        """Value w·u^γ·b and its derivative for u = 1 - p_t, b = bce and their derivatives."""
        gamma = self.params["gamma"]
        if gamma == 0.0:
            factor = np.zeros_like(u)
        elif gamma >= 1.0:
            factor = gamma * u ** (gamma - 1.0)
        else:  # u^(γ-1) is infinite at u = 0 where the term vanishes with du·b anyway
            factor = gamma * np.where(u > 0, u, 1.0) ** (gamma - 1.0) * (u > 0)
        w = self._weight(t)
        return w * u**gamma * b, w * (factor * du * b + u**gamma * db)

    def _parts(self, p, t):
        pc, mask = _clip(p)
        b = -(t * np.log(pc) + (1.0 - t) * np.log1p(-pc))
        db = (pc - t) / (pc * (1.0 - pc)) * mask
        return self._focal(t * (1.0 - p) + (1.0 - t) * p, 1.0 - 2.0 * t, b, db, t)

    def _value(self, p, t):
        return self._parts(p, t)[0]

    def _grad(self, p, t):
        return self._parts(p, t)[1]

    def _logit_parts(self, z, y_true):
        z, t = _dense(z, y_true, self.name)
        p, q = _SIGMOID.forward(z), _SIGMOID.forward(-z)  # q = 1 - p without cancellation
        return self._focal(t * q + (1.0 - t) * p, (1.0 - 2.0 * t) * p * q, _bce_logits(z, t), p - t, t)

    def forward_from_logits(self, z, y_true):
        return float(np.mean(self._logit_parts(z, y_true)[0])) if np.size(z) else 0.0

    def backward_from_logits(self, z, y_true):
        z = _float(z)
        return (self._logit_parts(z, y_true)[1] * z.dtype.type(1.0 / max(z.size, 1))).astype(
            z.dtype, copy=False
        )


class _Crossentropy(Loss):
    """Categorical cross-entropy; like Keras, probabilities are first renormalized to sum to 1."""

    fused_activation = "softmax"
    task = "classification"
    min_classes = 2

    def _onehot(self, y_pred, y_true) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def forward(self, y_pred, y_true):
        p, t = self._onehot(y_pred, y_true)
        q, _ = _clip(p / p.sum(axis=-1, keepdims=True))
        return float(-np.sum(t * np.log(q)) / _rows(p))

    def backward(self, y_pred, y_true):
        p, t = self._onehot(y_pred, y_true)
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        qc, mask = _clip(q)
        g = -t / qc * mask  # d/dq, then through q = p / Σp
        grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / total
        return (grad * p.dtype.type(1.0 / _rows(p))).astype(p.dtype, copy=False)


@LOSSES.register
class CategoricalCrossentropy(_Crossentropy):
    name = "categorical_crossentropy"
    description = "Cross-entropy between a one-hot (or probability) target and softmax outputs"
    formula = "L = -mean over samples of Σᵢ yᵢ·log ŷᵢ"
    when_to_use = "Multi-class classification with a softmax output and one-hot target vectors."
    value_range = (0.0, 1.0)

    def _onehot(self, y_pred, y_true):
        return _dense(y_pred, y_true, self.name)

    def _logits(self, z, y_true, want_grad: bool) -> tuple[float, np.ndarray]:
        z, t = _dense(z, y_true, self.name)
        z2 = np.ascontiguousarray(z).reshape(-1, z.shape[-1])
        t2 = np.ascontiguousarray(t).reshape(z2.shape)
        grad = np.empty_like(z2) if want_grad else _NO_GRAD.get(z2.dtype, np.empty((0, 0), z2.dtype))
        kernel = _k.softmax_ce_dense if z2.dtype in KERNEL_DTYPES else _k.softmax_ce_dense_ref
        return kernel(z2, t2, grad), grad.reshape(z.shape) if want_grad else grad

    def forward_from_logits(self, z, y_true):
        return float(self._logits(z, y_true, False)[0])

    def backward_from_logits(self, z, y_true):
        return self._logits(z, y_true, True)[1]


@LOSSES.register
class SparseCategoricalCrossentropy(_Crossentropy):
    name = "sparse_categorical_crossentropy"
    description = "Categorical cross-entropy with integer class ids as targets"
    formula = "L = -mean(log ŷ[y]), y = the class id"
    when_to_use = (
        "Multi-class classification with a softmax output and targets given as class numbers 0..C-1."
    )
    target = "index"

    def _onehot(self, y_pred, y_true):
        p, labels = _labels(y_pred, y_true, self.name)
        return p, (labels[..., None] == np.arange(p.shape[-1])).astype(p.dtype)

    def _logits(self, z, y_true, want_grad: bool) -> tuple[float, np.ndarray]:
        z, labels = _labels(z, y_true, self.name)
        z2 = np.ascontiguousarray(z).reshape(-1, z.shape[-1])
        grad = np.empty_like(z2) if want_grad else _NO_GRAD.get(z2.dtype, np.empty((0, 0), z2.dtype))
        kernel = _k.softmax_ce_index if z2.dtype in KERNEL_DTYPES else _k.softmax_ce_index_ref
        return kernel(z2, np.ascontiguousarray(labels.reshape(-1)), grad), grad.reshape(
            z.shape
        ) if want_grad else grad

    def forward_from_logits(self, z, y_true):
        return float(self._logits(z, y_true, False)[0])

    def backward_from_logits(self, z, y_true):
        return self._logits(z, y_true, True)[1]


@LOSSES.register
class KLDivergence(Loss):
    name = "kl_divergence"
    description = "Kullback-Leibler divergence from the target distribution to the prediction"
    formula = "L = mean over samples of Σᵢ yᵢ·log(yᵢ / ŷᵢ)"
    when_to_use = "When targets are whole probability distributions (soft labels) rather than single classes."
    task = "classification"
    value_range = (0.0, 1.0)

    def forward(self, y_pred, y_true):
        p, t = _dense(y_pred, y_true, self.name)
        tc, pc = np.clip(t, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return float(np.sum(tc * np.log(tc / pc)) / _rows(p))

    def backward(self, y_pred, y_true):
        p, t = _dense(y_pred, y_true, self.name)
        pc, mask = _clip(p, 1.0)
        grad = -np.clip(t, EPSILON, 1.0) / pc * mask
        return (grad * p.dtype.type(1.0 / _rows(p))).astype(p.dtype, copy=False)


def _hinge_targets(t: np.ndarray) -> np.ndarray:
    """Keras: targets that are all 0 or 1 become -1 or 1."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


class _HingeLoss(_MeanLoss):
    task = "classification"

    def _check_values(self, y, label):
        allowed = (-1.0, 1.0) if np.any(y == -1) else (0.0, 1.0)
        _first_bad(~np.isin(y, allowed), y, f"{label} expects targets in {{-1, 1}} (or {{0, 1}})")


@LOSSES.register
class Hinge(_HingeLoss):
    name = "hinge"
    description = "Margin loss of support vector machines"
    formula = "L = mean(max(1 - y·ŷ, 0)), y ∈ {-1, 1}"
    when_to_use = (
        "Two-class classification with a linear or tanh output scored by its sign, targets -1/1 or 0/1."
    )

    def _value(self, p, t):
        return np.maximum(1.0 - _hinge_targets(t) * p, 0)

    def _grad(self, p, t):
        t = _hinge_targets(t)
        return -t * (1.0 - t * p > 0)


@LOSSES.register
class SquaredHinge(_HingeLoss):
    name = "squared_hinge"
    description = "Squared margin loss: a smooth hinge"
    formula = "L = mean(max(1 - y·ŷ, 0)²), y ∈ {-1, 1}"
    when_to_use = "Like hinge, but punishes large margin violations more and has a smooth gradient."

    def _value(self, p, t):
        return np.square(np.maximum(1.0 - _hinge_targets(t) * p, 0))

    def _grad(self, p, t):
        t = _hinge_targets(t)
        return -2.0 * t * np.maximum(1.0 - t * p, 0)


@LOSSES.register
class Dice(Loss):
    name = "dice"
    description = "1 minus the overlap (dice coefficient) between prediction and target, per sample"
    formula = "L = mean over samples of 1 - 2·Σ y·ŷ / (Σ y + Σ ŷ + ε)"
    when_to_use = "Segmentation-style outputs where the wanted region is small, e.g. pixel masks."
    task = "classification"
    value_range = (0.0, 1.0)

    def _parts(self, y_pred, y_true):
        p, t = _dense(y_pred, y_true, self.name)
        flat = (len(p), p.size // max(len(p), 1))
        p2, t2 = p.reshape(flat), t.reshape(flat)
        union = t2.sum(axis=1, keepdims=True) + p2.sum(axis=1, keepdims=True) + EPSILON
        return p, t2, 2.0 * np.sum(t2 * p2, axis=1, keepdims=True) / union, union

    def forward(self, y_pred, y_true):
        p, _, dice, _ = self._parts(y_pred, y_true)
        return float(np.mean(1.0 - dice)) if len(p) else 0.0

    def backward(self, y_pred, y_true):
        p, t2, dice, union = self._parts(y_pred, y_true)
        grad = -(2.0 * t2 - dice) / union * p.dtype.type(1.0 / max(len(p), 1))
        return grad.reshape(p.shape).astype(p.dtype, copy=False)


def get_loss(name: str, **params: Any) -> Loss:
    """A new loss of the registered type `name` (RegistryError lists the valid names)."""
    return LOSSES.get(name)(**params)
