"""The loss contract (`Loss`), the helpers its types share, and `get_loss`.

Losses follow Keras' definitions and reductions, with their gradients and target checks.

`y_pred` is `(N, ...)`; `y_true` has the same shape, or holds integer class ids `(N,)` when
`target == "index"`. `forward` returns the mean loss of the batch as a float; `backward` its
gradient w.r.t. `y_pred` in `y_pred`'s dtype. Reductions follow Keras: mse, mae, huber, log_cosh,
the binary losses and hinges average over the last axis and then over samples; categorical losses
and kl_divergence sum over the last (class) axis; dice is 1 - dice coefficient per sample.

Probabilities are clipped to [1e-7, 1 - 1e-7] like Keras, so the gradient is zero beyond the clip.
When the output layer's activation equals `fused_activation`, the trainer calls the
`*_from_logits` methods instead: they work on the pre-activation with log-sum-exp / log-sigmoid,
stay finite for any logit size, and give the simple gradients (softmax(z) - onehot) / N.

Each type also carries its PyTorch form (`torch_loss`), which the PyTorch export writes into
train.py, so a new loss is written in one class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from engine.errors import ConfigError, DataError
from engine.registry import LOSSES, ParamSpec, resolve_params

EPSILON = 1e-7


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
    # The body of train.py's `loss_value(output, target, logits)` in PyTorch: the mean loss of a
    # batch, `output` holding logits when `logits` is True (the loss is fused with the output
    # activation). It may read LOSS (the settings, e.g. LOSS["delta"]), EPSILON, F, torch, math
    # and the template's _clip, _bce and _hinge_targets. Empty: the loss has no PyTorch form.
    torch_loss: ClassVar[str] = ""

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
        raise_first_bad(~np.isfinite(y), y, f"{label} expects finite targets")
        self._check_values(y, label)

    def _check_values(self, y: np.ndarray, label: str) -> None:
        if self.value_range is not None:
            lo, hi = self.value_range
            raise_first_bad((y < lo) | (y > hi), y, f"{label} expects targets in [{lo:g}, {hi:g}]")


def _shape(shape: tuple[int, ...], batch: bool = False) -> str:
    """(10,) or, with batch, (N, 10) as people write them."""
    dims = ["N", *map(str, shape)] if batch else list(map(str, shape))
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _fmt(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def raise_first_bad(bad: np.ndarray, y: np.ndarray, message: str) -> None:
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
    raise_first_bad(bad, y, f"{label} expects integer class ids in [0, {classes})")


def as_float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def dense_pair(y_pred: Any, y_true: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """y_pred as floats and y_true in its dtype and shape (a (N,) target fits a (N, 1) output)."""
    p = as_float(y_pred)
    t = np.asarray(y_true, dtype=p.dtype)
    if t.shape != p.shape:
        if t.size != p.size or len(t) != len(p):
            raise DataError(
                f"loss '{name}' expects targets shaped like the predictions {p.shape}, got {t.shape}"
            )
        t = t.reshape(p.shape)
    return p, t


def index_pair(y_pred: Any, y_true: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """y_pred as floats (N, ..., C) and y_true as integer ids of shape (N, ...)."""
    p = as_float(y_pred)
    t = np.asarray(y_true)
    if t.size != p.size // max(p.shape[-1], 1):
        raise DataError(
            f"loss '{name}' expects one class id per sample for predictions {p.shape}, got {t.shape}"
        )
    return p, t.reshape(p.shape[:-1]).astype(np.intp)


def row_count(p: np.ndarray) -> int:
    """Number of samples times positions: what the class-summing losses average over."""
    return max(p.size // max(p.shape[-1], 1), 1)


def clip_probs(p: np.ndarray, hi: float = 1.0 - EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """p clipped to [eps, hi] and the mask where the clip lets the gradient through."""
    return np.clip(p, EPSILON, hi), (p >= EPSILON) & (p <= hi)


def bce_from_logits(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-(t·log σ(z) + (1-t)·log(1-σ(z))) without overflow."""
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


class MeanLoss(Loss):
    """Elementwise loss averaged over every value (= Keras' mean over the last axis, then samples)."""

    @abstractmethod
    def _value(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grad(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        p, t = dense_pair(y_pred, y_true, self.name)
        return float(np.mean(self._value(p, t))) if p.size else 0.0

    def forward_each(self, y_preds: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """One elementwise pass over the whole stack (a Python-level `forward` per epoch cost
        ~50 us, a third of the spiral example's bookkeeping per epoch); each row's mean is
        the same pairwise sum `forward` takes, so the values are equal."""
        if len(y_preds) == 0 or y_preds[0].size == 0:
            return super().forward_each(y_preds, y_true)
        _, t = dense_pair(y_preds[0], y_true, self.name)
        values = self._value(as_float(y_preds), t)
        return values.reshape(len(y_preds), -1).mean(axis=1).astype(np.float64)

    def backward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        p, t = dense_pair(y_pred, y_true, self.name)
        return (self._grad(p, t) * p.dtype.type(1.0 / max(p.size, 1))).astype(p.dtype, copy=False)


def get_loss(name: str, **params: Any) -> Loss:
    """A new loss of the registered type `name` (RegistryError lists the valid names)."""
    return LOSSES.get(name)(**params)
