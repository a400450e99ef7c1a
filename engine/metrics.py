"""Metrics reported while training: a batch value from `(y_pred, y_true)`.

`y_pred` is `(N, ...)`; `y_true` has the same shape or, for class ids, `(N,)` (one id per
prediction vector). A metric with `batch_weighted = True` is a mean over samples, so the epoch value
is the batch values averaged with the batch sizes as weights; rmse and r2 are not such means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

import engine.losses  # noqa: F401  (fills LOSSES, read by default_metrics)
from engine.registry import LOSSES, METRICS, ParamSpec, resolve_params

THRESHOLD = 0.5


class Metric(ABC):
    """Base of every metric: call it with a batch to get a float."""

    name = ""
    group = "Metric"
    description = ""
    param_specs: tuple[ParamSpec, ...] = ()
    task = "classification"  # or "regression"
    batch_weighted = True

    def __init__(self, **params: Any):
        self.params = resolve_params(type(self), params, f"metric '{self.name}'")

    def __call__(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """The metric over one batch."""
        p, t = np.asarray(y_pred), np.asarray(y_true)
        return self.compute(p, t) if p.size else 0.0

    @abstractmethod
    def compute(self, p: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def each(self, y_preds: np.ndarray, y_trues: np.ndarray) -> np.ndarray:
        """The metric of each batch of a stack, (k,) float64: `y_preds` (k, N, ...), `y_trues`
        (k, N, ...) or (k, N). The fused path scores each epoch of a multi-epoch call with it."""
        return np.array([self(p, t) for p, t in zip(y_preds, y_trues, strict=True)], dtype=np.float64)


class HitRate(Metric):
    """A metric that is the share of right answers: `hits` marks each; `each` then scores a
    whole stack in one pass (equal to `compute` on each batch: the same counts and sizes)."""

    @abstractmethod
    def hits(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def compute(self, p, t):
        return _fraction_true(self.hits(p, t))

    def each(self, y_preds, y_trues):
        p, t = np.asarray(y_preds), np.asarray(y_trues)
        if p.ndim < 3:  # batches of 1-D predictions: stacked they would read as class scores
            return super().each(p, t)
        if p.size == 0:
            return np.zeros(len(p))
        hits = self.hits(p, t).reshape(len(p), -1)
        return np.count_nonzero(hits, axis=1) / hits.shape[1]


def _same_shape(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """t reshaped like p (a (N,) target fits a (N, 1) prediction)."""
    return t if t.shape == p.shape else t.reshape(p.shape)


def _fraction_true(hits: np.ndarray) -> float:
    """Share of True values; count_nonzero is ~4x faster than mean on a bool array, which matters
    once per training batch."""
    return np.count_nonzero(hits) / hits.size


def _binary(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (p > THRESHOLD) == (_same_shape(p, t) > THRESHOLD)


def _categorical(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.argmax(p, axis=-1) == np.argmax(_same_shape(p, t), axis=-1)


def _sparse(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.argmax(p, axis=-1) == t.reshape(p.shape[:-1])


@METRICS.register
class Accuracy(HitRate):
    """Keras' "accuracy", chosen from the shapes: one output value -> thresholded at 0.5; one class
    id per prediction vector -> argmax against the id; otherwise argmax against argmax."""

    name = "accuracy"
    description = "Fraction of samples classified correctly (picks the right comparison itself)"

    def hits(self, p, t):
        if p.ndim == 1 or p.shape[-1] == 1:
            return _binary(p, t)
        if t.shape != p.shape and t.size * p.shape[-1] == p.size:
            return _sparse(p, t)
        return _categorical(p, t)


@METRICS.register
class BinaryAccuracy(HitRate):
    name = "binary_accuracy"
    description = "Fraction of values on the right side of 0.5 (yes/no and multi-label outputs)"

    def hits(self, p, t):
        return _binary(p, t)


@METRICS.register
class CategoricalAccuracy(HitRate):
    name = "categorical_accuracy"
    description = "Fraction of samples whose largest output matches the one-hot target's class"

    def hits(self, p, t):
        return _categorical(p, t)


@METRICS.register
class SparseCategoricalAccuracy(HitRate):
    name = "sparse_categorical_accuracy"
    description = "Fraction of samples whose largest output is the target class id"

    def hits(self, p, t):
        return _sparse(p, t)


@METRICS.register
class HingeAccuracy(Metric):
    """For hinge losses: a prediction is right when its sign matches the target (0/1 read as -1/1)."""

    name = "hinge_accuracy"
    description = "Fraction of outputs whose sign matches the target (targets -1/1 or 0/1)"

    def compute(self, p, t):
        t = _same_shape(p, t)
        if np.all((t == 0) | (t == 1)):
            t = 2.0 * t - 1.0
        return _fraction_true((p > 0) == (t > 0))


@METRICS.register
class MeanAbsoluteError(Metric):
    name = "mae"
    description = "Mean absolute error: the average distance from the target"
    task = "regression"

    def compute(self, p, t):
        return float(np.mean(np.abs(p - _same_shape(p, t))))


@METRICS.register
class RootMeanSquaredError(Metric):
    name = "rmse"
    description = "Root mean squared error, in the units of the target"
    task = "regression"
    batch_weighted = False

    def compute(self, p, t):
        return float(np.sqrt(np.mean(np.square(p - _same_shape(p, t)))))


@METRICS.register
class R2(Metric):
    """Coefficient of determination per output value, averaged (Keras R2Score "uniform_average").

    An output whose targets are constant scores 1 when predicted exactly and 0 otherwise (as sklearn).
    """

    name = "r2"
    description = "Share of the target's variance the network explains (1 = perfect, 0 = the mean)"
    task = "regression"
    batch_weighted = False

    def compute(self, p, t):
        p2 = p.reshape(len(p), -1).astype(np.float64)
        t2 = _same_shape(p, t).reshape(p2.shape).astype(np.float64)
        ss_res = np.sum(np.square(t2 - p2), axis=0)
        ss_tot = np.sum(np.square(t2 - t2.mean(axis=0)), axis=0)
        constant = ss_tot == 0
        scores = np.where(
            constant, (ss_res == 0).astype(np.float64), 1.0 - ss_res / np.where(constant, 1.0, ss_tot)
        )
        return float(np.mean(scores))


_SPECIAL_DEFAULTS = {
    "hinge": ["hinge_accuracy"],
    "squared_hinge": ["hinge_accuracy"],
    "dice": ["binary_accuracy"],
}


def default_metrics(loss_name: str) -> list[str]:
    """Metric names that suit a loss: accuracy for classification, mae for regression."""
    loss = LOSSES.get(loss_name)
    if loss_name in _SPECIAL_DEFAULTS:
        return list(_SPECIAL_DEFAULTS[loss_name])
    return ["accuracy"] if loss.task == "classification" else ["mae"]


def get_metric(name: str, **params: Any) -> Metric:
    """A new metric of the registered type `name` (RegistryError lists the valid names)."""
    return METRICS.get(name)(**params)
