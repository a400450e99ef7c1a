"""Classification losses: binary and categorical cross-entropy (with their fused forms on the
logits), binary focal, kl_divergence, hinge, squared_hinge and dice."""

from __future__ import annotations

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import losses as _k
from engine.activations import get_activation
from engine.losses.base import (
    EPSILON,
    Loss,
    MeanLoss,
    as_float,
    bce_from_logits,
    clip_probs,
    dense_pair,
    index_pair,
    raise_first_bad,
    row_count,
)
from engine.registry import LOSSES, ParamSpec

_SIGMOID = get_activation("sigmoid")
_NO_GRAD = {dtype: np.empty((0, 0), dtype) for dtype in KERNEL_DTYPES}
_TORCH_CROSSENTROPY = """
if logits:
    log_q = torch.log_softmax(output, dim=-1)
else:
    log_q = torch.log(_clip(output / output.sum(dim=-1, keepdim=True)))
return -(target * log_q).sum(dim=-1).mean()
"""


@LOSSES.register
class BinaryCrossentropy(MeanLoss):
    name = "binary_crossentropy"
    torch_loss = "return _bce(output, target, logits).mean()"
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
        pc, mask = clip_probs(p)
        return (pc - t) / (pc * (1.0 - pc)) * mask

    def forward_from_logits(self, z, y_true):
        z, t = dense_pair(z, y_true, self.name)
        return float(np.mean(bce_from_logits(z, t))) if z.size else 0.0

    def backward_from_logits(self, z, y_true):
        z, t = dense_pair(z, y_true, self.name)
        return (_SIGMOID.forward(z) - t) * z.dtype.type(1.0 / max(z.size, 1))


@LOSSES.register
class BinaryFocal(MeanLoss):
    """Keras BinaryFocalCrossentropy: (1 - p_t)^γ · bce, optionally weighted α / 1 - α by class."""

    name = "binary_focal"
    torch_loss = """
    p = torch.sigmoid(output) if logits else output
    u = target * (1 - p) + (1 - target) * p
    weight = 1.0
    if LOSS["apply_class_balancing"]:
        weight = target * LOSS["alpha"] + (1 - target) * (1 - LOSS["alpha"])
    return (weight * u ** LOSS["gamma"] * _bce(output, target, logits)).mean()
    """
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
        pc, mask = clip_probs(p)
        b = -(t * np.log(pc) + (1.0 - t) * np.log1p(-pc))
        db = (pc - t) / (pc * (1.0 - pc)) * mask
        return self._focal(t * (1.0 - p) + (1.0 - t) * p, 1.0 - 2.0 * t, b, db, t)

    def _value(self, p, t):
        return self._parts(p, t)[0]

    def _grad(self, p, t):
        return self._parts(p, t)[1]

    def _logit_parts(self, z, y_true):
        z, t = dense_pair(z, y_true, self.name)
        p, q = _SIGMOID.forward(z), _SIGMOID.forward(-z)  # q = 1 - p without cancellation
        return self._focal(t * q + (1.0 - t) * p, (1.0 - 2.0 * t) * p * q, bce_from_logits(z, t), p - t, t)

    def forward_from_logits(self, z, y_true):
        return float(np.mean(self._logit_parts(z, y_true)[0])) if np.size(z) else 0.0

    def backward_from_logits(self, z, y_true):
        z = as_float(z)
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
        q, _ = clip_probs(p / p.sum(axis=-1, keepdims=True))
        return float(-np.sum(t * np.log(q)) / row_count(p))

    def backward(self, y_pred, y_true):
        p, t = self._onehot(y_pred, y_true)
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        qc, mask = clip_probs(q)
        g = -t / qc * mask  # d/dq, then through q = p / Σp
        grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / total
        return (grad * p.dtype.type(1.0 / row_count(p))).astype(p.dtype, copy=False)


@LOSSES.register
class CategoricalCrossentropy(_Crossentropy):
    name = "categorical_crossentropy"
    torch_loss = _TORCH_CROSSENTROPY
    description = "Cross-entropy between a one-hot (or probability) target and softmax outputs"
    formula = "L = -mean over samples of Σᵢ yᵢ·log ŷᵢ"
    when_to_use = "Multi-class classification with a softmax output and one-hot target vectors."
    value_range = (0.0, 1.0)

    def _onehot(self, y_pred, y_true):
        return dense_pair(y_pred, y_true, self.name)

    def _logits(self, z, y_true, want_grad: bool) -> tuple[float, np.ndarray]:
        z, t = dense_pair(z, y_true, self.name)
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
    torch_loss = "target = F.one_hot(target, output.shape[-1]).to(output.dtype)\n" + _TORCH_CROSSENTROPY
    description = "Categorical cross-entropy with integer class ids as targets"
    formula = "L = -mean(log ŷ[y]), y = the class id"
    when_to_use = (
        "Multi-class classification with a softmax output and targets given as class numbers 0..C-1."
    )
    target = "index"

    def _onehot(self, y_pred, y_true):
        p, labels = index_pair(y_pred, y_true, self.name)
        return p, (labels[..., None] == np.arange(p.shape[-1])).astype(p.dtype)

    def _logits(self, z, y_true, want_grad: bool) -> tuple[float, np.ndarray]:
        z, labels = index_pair(z, y_true, self.name)
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
    torch_loss = """
    t, p = target.clamp(EPSILON, 1.0), output.clamp(EPSILON, 1.0)
    return (t * torch.log(t / p)).sum(dim=-1).mean()
    """
    description = "Kullback-Leibler divergence from the target distribution to the prediction"
    formula = "L = mean over samples of Σᵢ yᵢ·log(yᵢ / ŷᵢ)"
    when_to_use = "When targets are whole probability distributions (soft labels) rather than single classes."
    task = "classification"
    value_range = (0.0, 1.0)

    def forward(self, y_pred, y_true):
        p, t = dense_pair(y_pred, y_true, self.name)
        tc, pc = np.clip(t, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return float(np.sum(tc * np.log(tc / pc)) / row_count(p))

    def backward(self, y_pred, y_true):
        p, t = dense_pair(y_pred, y_true, self.name)
        pc, mask = clip_probs(p, 1.0)
        grad = -np.clip(t, EPSILON, 1.0) / pc * mask
        return (grad * p.dtype.type(1.0 / row_count(p))).astype(p.dtype, copy=False)


def _hinge_targets(t: np.ndarray) -> np.ndarray:
    """Keras: targets that are all 0 or 1 become -1 or 1."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


class _HingeLoss(MeanLoss):
    task = "classification"

    def _check_values(self, y, label):
        allowed = (-1.0, 1.0) if np.any(y == -1) else (0.0, 1.0)
        raise_first_bad(~np.isin(y, allowed), y, f"{label} expects targets in {{-1, 1}} (or {{0, 1}})")


@LOSSES.register
class Hinge(_HingeLoss):
    name = "hinge"
    torch_loss = "return F.relu(1 - _hinge_targets(target) * output).mean()"
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
    torch_loss = "return F.relu(1 - _hinge_targets(target) * output).square().mean()"
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
    torch_loss = """
    p, t = output.reshape(len(output), -1), target.reshape(len(target), -1)
    return (1 - 2 * (t * p).sum(1) / (t.sum(1) + p.sum(1) + EPSILON)).mean()
    """
    description = "1 minus the overlap (dice coefficient) between prediction and target, per sample"
    formula = "L = mean over samples of 1 - 2·Σ y·ŷ / (Σ y + Σ ŷ + ε)"
    when_to_use = "Segmentation-style outputs where the wanted region is small, e.g. pixel masks."
    task = "classification"
    value_range = (0.0, 1.0)

    def _parts(self, y_pred, y_true):
        p, t = dense_pair(y_pred, y_true, self.name)
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
