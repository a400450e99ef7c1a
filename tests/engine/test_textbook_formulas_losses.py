"""Every loss and its gradient against the textbook (Keras) formula, written out here in float64,
sharing nothing with the engine (no constant, table or helper of it).

Each formula below is the Keras definition the engine claims (engine/losses: Keras' reductions,
probabilities clipped to [1e-7, 1 - 1e-7] so the gradient is zero beyond the clip, categorical
probabilities renormalized to sum to 1, 0/1 hinge targets read as -1/1). The gradient is checked
twice: against the derivative of the formula written here, taken by complex-step
differentiation (f'(x) = Im f(x + ih) / h, exact to rounding, so no finite-difference error), and,
for the losses whose gradient textbooks print, against that printed gradient.
The `*_from_logits` forms are checked against the formula applied to sigmoid(z) or softmax(z).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.losses import get_loss
from engine.registry import LOSSES

TOL = 1e-12
CLIP = 1e-7  # Keras' backend epsilon, written out here on purpose


# ------------------------------------------------------------------------ complex-safe helpers
def _clip(x, lo, hi):
    """clip that keeps x (and so its imaginary part) inside [lo, hi] and a constant outside."""
    return np.where(x.real < lo, lo, np.where(x.real > hi, hi, x))


def _abs(x):
    return np.where(x.real < 0, -x, x)


def _relu(x):
    return np.where(x.real > 0, x, 0.0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softplus(z):
    return np.log(1.0 + np.exp(z))


def _softmax(z):
    e = np.exp(z - z.real.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _onehot(labels, classes):
    return (labels[..., None] == np.arange(classes)).astype(np.float64)


# ------------------------------------------------------------------- textbook formulas (Keras)
def mse(p, t):
    return np.mean((p - t) ** 2)


def mae(p, t):
    return np.mean(_abs(p - t))


def huber(p, t, delta=1.0):
    e = p - t
    return np.mean(np.where(_abs(e).real <= delta, 0.5 * e**2, delta * _abs(e) - 0.5 * delta**2))


def log_cosh(p, t):
    return np.mean(np.log(np.cosh(p - t)))


def _bce(p, t):
    p = _clip(p, CLIP, 1 - CLIP)
    return -(t * np.log(p) + (1 - t) * np.log1p(-p))  # log(1 - p), without cancellation near p = 0


def binary_crossentropy(p, t):
    return np.mean(_bce(p, t))


def _focal(p, t, bce, gamma=2.0, alpha=0.25, apply_class_balancing=False):
    """Keras BinaryFocalCrossentropy: p_t = t*p + (1-t)*(1-p), (1 - p_t)^gamma * bce, with
    balancing weighted alpha for positives and 1 - alpha for negatives."""
    one_minus_p_t = t * (1 - p) + (1 - t) * p  # 1 - p_t, without cancellation where p_t ~ 1
    weight = t * alpha + (1 - t) * (1 - alpha) if apply_class_balancing else 1.0
    return np.mean(weight * one_minus_p_t**gamma * bce)


def binary_focal(p, t, **params):
    return _focal(p, t, _bce(p, t), **params)


def categorical_crossentropy(p, t):
    q = _clip(p / p.sum(axis=-1, keepdims=True), CLIP, 1 - CLIP)
    return np.mean(-np.sum(t * np.log(q), axis=-1))


def sparse_categorical_crossentropy(p, labels):
    return categorical_crossentropy(p, _onehot(labels, p.shape[-1]))


def kl_divergence(p, t):
    t, p = np.clip(t, CLIP, 1), _clip(p, CLIP, 1)
    return np.mean(np.sum(t * np.log(t / p), axis=-1))


def _signed(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def hinge(p, t):
    return np.mean(_relu(1 - _signed(t) * p))


def squared_hinge(p, t):
    return np.mean(_relu(1 - _signed(t) * p) ** 2)


def dice(p, t):
    p2, t2 = p.reshape(len(p), -1), t.reshape(len(t), -1)
    return np.mean(1 - 2 * np.sum(t2 * p2, axis=1) / (t2.sum(axis=1) + p2.sum(axis=1) + CLIP))


def sparsemax_loss(p, labels):
    """On probabilities (Martins & Astudillo 2016, the loss when the class is in the support)."""
    return np.mean(0.5 * np.sum((p - _onehot(labels, p.shape[-1])) ** 2, axis=-1))


def _sparsemax_parts(z):
    """Martins & Astudillo's Algorithm 1: sort, support size k(z) = max{k : 1 + k·z_(k) > Σ_{j≤k}
    z_(j)}, τ = (Σ_{j≤k(z)} z_(j) - 1) / k(z); the support taken from the real parts."""
    ordered = np.take_along_axis(z, np.argsort(-z.real, axis=-1), axis=-1)
    ranks = np.arange(1, z.shape[-1] + 1)
    cumulative = np.cumsum(ordered, axis=-1)
    size = np.sum(1 + ranks * ordered.real > cumulative.real, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, size - 1, axis=-1) - 1) / size
    return tau, z.real > tau.real


def _sparsemax(z):
    tau, support = _sparsemax_parts(z)
    return np.where(support, z - tau, 0.0)


def _sparsemax_logits_loss(z, labels):
    """L(z, y) = -z_y + ½·Σ_{j∈S} (z_j² - τ²) + ½."""
    tau, support = _sparsemax_parts(z)
    squares = np.sum(np.where(support, z**2 - tau**2, 0.0), axis=-1)
    return np.mean(-np.sum(z * _onehot(labels, z.shape[-1]), axis=-1) + 0.5 * squares + 0.5)


TEXTBOOK = {
    "mse": mse,
    "mae": mae,
    "huber": huber,
    "log_cosh": log_cosh,
    "binary_crossentropy": binary_crossentropy,
    "binary_focal": binary_focal,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "kl_divergence": kl_divergence,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "dice": dice,
    "sparsemax_loss": sparsemax_loss,
}


# Gradients as printed in textbooks, for the losses that have a short one (n = values averaged).
PRINTED = ("mse", "mae", "huber", "log_cosh", "binary_crossentropy", "hinge", "squared_hinge")


def _printed_gradient(name, p, t, params):
    n, e = p.size, p - t
    if name == "mse":
        return 2 * e / n
    if name == "mae":
        return np.sign(e) / n
    if name == "huber":
        delta = params.get("delta", 1.0)
        return np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / n
    if name == "log_cosh":
        return np.tanh(e) / n
    if name == "binary_crossentropy":
        inside = (p >= CLIP) & (p <= 1 - CLIP)
        pc = np.clip(p, CLIP, 1 - CLIP)
        return (pc - t) / (pc * (1 - pc)) * inside / n
    if name in ("hinge", "squared_hinge"):
        s = _signed(t)
        margin = np.maximum(1 - s * p, 0)
        return (-s * (margin > 0) if name == "hinge" else -2 * s * margin) / n
    raise AssertionError(f"no printed gradient for {name}")


# ----------------------------------------------------------------------------------- the data
def _rng(seed):
    return np.random.default_rng(seed)


def _regression(shape=(6, 3)):
    rng = _rng(0)
    return rng.normal(size=shape) * 2, rng.normal(size=shape)


def _probabilities(soft=True):
    """Sigmoid outputs with values at and beyond the clip (0, 1, 1e-9, 1 - 1e-9)."""
    rng = _rng(1)
    p = rng.uniform(0.01, 0.99, size=(6, 3))
    p[0, 0], p[1, 1], p[2, 2], p[3, 0] = 0.0, 1.0, 1e-9, 1 - 1e-9
    t = rng.uniform(size=p.shape) if soft else rng.integers(0, 2, size=p.shape).astype(np.float64)
    return p, t


def _class_scores(shape=(6, 4)):
    """Positive scores that do not sum to 1 (Keras renormalizes), one far below the clip."""
    rng = _rng(2)
    p = rng.uniform(0.05, 1.0, size=shape)
    p[(0,) * (len(shape) - 1) + (1,)] = 1e-12
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    labels[(0,) * (len(shape) - 1)] = 1  # a target on the clipped score
    return p, labels


def _distributions(shape=(6, 4)):
    rng = _rng(3)
    t = rng.uniform(size=shape)
    t[0, 0] = 0.0  # clipped to epsilon in the formula
    return _class_scores(shape)[0] / 2, t / t.sum(axis=-1, keepdims=True)


def _margins(zero_one):
    rng = _rng(4)
    t = rng.integers(0, 2, size=(6, 3)).astype(np.float64)
    return rng.normal(size=t.shape) * 1.5, t if zero_one else 2 * t - 1


def _masks():
    rng = _rng(5)
    return rng.uniform(size=(4, 2, 3)), rng.integers(0, 2, size=(4, 2, 3)).astype(np.float64)


CASES = [
    ("mse", {}, _regression),
    ("mse", {}, lambda: _regression((3, 2, 4))),
    ("mae", {}, _regression),
    ("huber", {}, _regression),
    ("huber", {"delta": 0.3}, _regression),
    ("huber", {"delta": 2.5}, lambda: _regression((3, 2, 4))),
    ("log_cosh", {}, _regression),
    ("binary_crossentropy", {}, _probabilities),
    ("binary_crossentropy", {}, lambda: _probabilities(soft=False)),
    ("binary_focal", {}, _probabilities),
    ("binary_focal", {"gamma": 0.5}, lambda: _probabilities(soft=False)),
    ("binary_focal", {"gamma": 0.0}, _probabilities),
    ("binary_focal", {"gamma": 3.0, "alpha": 0.3, "apply_class_balancing": True}, _probabilities),
    ("categorical_crossentropy", {}, lambda: (_class_scores()[0], _distributions()[1])),
    ("categorical_crossentropy", {}, lambda: (lambda p, y: (p, _onehot(y, 4)))(*_class_scores((3, 2, 4)))),
    ("sparse_categorical_crossentropy", {}, _class_scores),
    ("sparse_categorical_crossentropy", {}, lambda: _class_scores((3, 2, 5))),
    ("kl_divergence", {}, _distributions),
    ("hinge", {}, lambda: _margins(zero_one=True)),
    ("hinge", {}, lambda: _margins(zero_one=False)),
    ("squared_hinge", {}, lambda: _margins(zero_one=True)),
    ("squared_hinge", {}, lambda: _margins(zero_one=False)),
    ("dice", {}, _masks),
    ("sparsemax_loss", {}, _class_scores),
]
IDS = [
    f"{name}-{i}" + "".join(f"-{k}={v}" for k, v in params.items())
    for i, (name, params, _) in enumerate(CASES)
]


def _complex_step_gradient(f, p, h=1e-30):
    grad = np.empty_like(p)
    for index in np.ndindex(p.shape):
        shifted = p.astype(np.complex128)
        shifted[index] += 1j * h
        grad[index] = np.imag(f(shifted)) / h
    return grad


@pytest.mark.parametrize(("name", "params", "data"), CASES, ids=IDS)
def test_loss_value_follows_the_textbook_formula(name, params, data):
    p, t = data()
    expected = TEXTBOOK[name](p, t, **params)
    assert get_loss(name, **params).forward(p, t) == pytest.approx(expected, rel=TOL, abs=TOL)


@pytest.mark.parametrize(("name", "params", "data"), CASES, ids=IDS)
def test_loss_gradient_is_the_derivative_of_the_textbook_formula(name, params, data):
    p, t = data()
    expected = _complex_step_gradient(lambda x: TEXTBOOK[name](x, t, **params), p)
    np.testing.assert_allclose(get_loss(name, **params).backward(p, t), expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(
    ("name", "params", "data"),
    [case for case in CASES if case[0] in PRINTED],
    ids=[i for i, case in zip(IDS, CASES, strict=True) if case[0] in PRINTED],
)
def test_loss_gradient_follows_the_printed_gradient(name, params, data):
    p, t = data()
    expected = _printed_gradient(name, p, t, params)
    np.testing.assert_allclose(get_loss(name, **params).backward(p, t), expected, rtol=TOL, atol=TOL)


# ------------------------------------------------------------------ the from-logits forms
def _logits_formula(name, z, t, params):
    """The loss of sigmoid(z) or softmax(z) without clipping (the logit form needs none):
    -log sigmoid(z) = softplus(-z), -log softmax(z)_i = log sum exp(z) - z_i."""
    if name in ("binary_crossentropy", "binary_focal"):
        bce = t * _softplus(-z) + (1 - t) * _softplus(z)
        return np.mean(bce) if name == "binary_crossentropy" else _focal(_sigmoid(z), t, bce, **params)
    if name == "sparsemax_loss":
        return _sparsemax_logits_loss(z, t)
    if name == "sparse_categorical_crossentropy":
        t = _onehot(t, z.shape[-1])
    log_softmax = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return np.mean(-np.sum(t * log_softmax, axis=-1))


def _logit_data(name):
    rng = _rng(6)
    if name.startswith("binary"):
        z = rng.normal(size=(6, 3)) * 3
        return z, rng.uniform(size=z.shape)
    z = rng.normal(size=(3, 2, 5)) * 3
    labels = rng.integers(0, 5, size=z.shape[:-1])
    return z, (labels if name.startswith("sparse") else _softmax(rng.normal(size=z.shape)))


LOGIT_CASES = [
    ("binary_crossentropy", {}),
    ("binary_focal", {}),
    ("binary_focal", {"gamma": 0.5, "alpha": 0.7, "apply_class_balancing": True}),
    ("categorical_crossentropy", {}),
    ("sparse_categorical_crossentropy", {}),
    ("sparsemax_loss", {}),
]
LOGIT_IDS = [name + "".join(f"-{k}={v}" for k, v in params.items()) for name, params in LOGIT_CASES]


@pytest.mark.parametrize(("name", "params"), LOGIT_CASES, ids=LOGIT_IDS)
def test_from_logits_follows_the_formula_of_the_activated_output(name, params):
    z, t = _logit_data(name)
    loss = get_loss(name, **params)
    expected = _logits_formula(name, z, t, params)
    assert loss.forward_from_logits(z, t) == pytest.approx(expected, rel=TOL, abs=TOL)
    derivative = _complex_step_gradient(lambda x: _logits_formula(name, x, t, params), z)
    np.testing.assert_allclose(loss.backward_from_logits(z, t), derivative, rtol=TOL, atol=TOL)
    if name != "binary_focal":  # printed: (activation(z) - target) / values averaged over
        onehot = _onehot(t, z.shape[-1]) if name.startswith("sparse") else t
        activated, count = (
            (_sigmoid(z), z.size) if name.startswith("binary") else (_softmax(z), z.size // z.shape[-1])
        )
        if name == "sparsemax_loss":
            activated = _sparsemax(z)
        np.testing.assert_allclose(
            loss.backward_from_logits(z, t), (activated - onehot) / count, rtol=TOL, atol=TOL
        )


def test_every_registered_loss_has_a_textbook_formula():
    assert sorted(LOSSES.names()) == sorted(TEXTBOOK)
    assert {name for name, _, _ in CASES} == set(TEXTBOOK)
    fused = {name for name, cls in LOSSES.items() if cls.fused_activation is not None}
    assert {name for name, _ in LOGIT_CASES} == fused
