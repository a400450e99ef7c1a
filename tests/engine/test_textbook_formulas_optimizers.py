"""Every optimizer against its textbook update, written out here in float64 from the PyTorch and
Keras documentation, sharing nothing with the engine (no constant, table or helper of it).

What the engine claims (engine/optimizers/__init__.py): SGD, Adagrad, Adam and AdamW follow
`torch.optim` (epsilon outside the square root), RMSprop follows Keras (epsilon inside it, the
momentum buffer accumulating steps that include the learning rate), AdamW decays decoupled,
`w -= lr * weight_decay * w`, only where the decay mask says so, and `clip_by_global_norm`
scales all gradients together by `max_norm / global_norm` (TensorFlow). The learning rate
changes from step to step here, as a schedule or the GUI changes it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.optimizers import clip_by_global_norm, get_optimizer
from engine.registry import OPTIMIZERS

SHAPES = [(4, 3), (3,), (2, 1, 5)]
STEPS = 6
RATES = [0.05, 0.05, 0.02, 0.1, 0.0, 0.03]  # this step's learning rate (0 = a paused schedule)
MASK = [True, False, True]  # decay on the "kernels", not on the "bias"
TOL = 1e-12


# ------------------------------------------------------------------ textbook updates (float64)
def sgd(w, g, s, t, lr, decay, momentum=0.0, nesterov=False):
    """torch.optim.SGD: b = mu*b + g (b = g at t = 1); w -= lr*(g + mu*b) (Nesterov) or lr*b."""
    if momentum == 0.0:
        return w - lr * g
    b = g.copy() if t == 1 else momentum * s["b"] + g
    s["b"] = b
    return w - lr * (g + momentum * b if nesterov else b)


def rmsprop(w, g, s, t, lr, decay, rho=0.9, epsilon=1e-7, momentum=0.0, centered=False):
    """keras.optimizers.RMSprop: v = rho*v + (1-rho)*g^2; centered: a = rho*a + (1-rho)*g and
    v - a^2 below the root; increment = lr*g/sqrt(denominator + eps); with momentum
    m = momentum*m + increment, w -= m."""
    v = rho * s.get("v", 0.0) + (1 - rho) * g**2
    s["v"] = v
    denominator = v
    if centered:
        a = rho * s.get("a", 0.0) + (1 - rho) * g
        s["a"] = a
        denominator = v - a**2
    increment = lr * g / np.sqrt(denominator + epsilon)
    if momentum > 0:
        s["m"] = momentum * s.get("m", 0.0) + increment
        return w - s["m"]
    return w - increment


def adagrad(w, g, s, t, lr, decay, initial_accumulator_value=0.1, epsilon=1e-7):
    """torch.optim.Adagrad (lr_decay 0): state_sum += g^2; w -= lr*g/(sqrt(state_sum) + eps)."""
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return w - lr * g / (np.sqrt(s["sum"]) + epsilon)


def adam(w, g, s, t, lr, decay, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None):
    """torch.optim.Adam / AdamW: (AdamW) w *= 1 - lr*wd; m = b1*m + (1-b1)*g;
    v = b2*v + (1-b2)*g^2; m_hat = m/(1 - b1^t), v_hat = v/(1 - b2^t) with t = 1 at the first
    step; AMSGrad keeps v_max = max(v_max, v) and uses it in v_hat;
    w -= lr*m_hat/(sqrt(v_hat) + eps)."""
    if weight_decay is not None and decay:
        w = w * (1 - lr * weight_decay)
    m = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    v = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g * g
    s["m"], s["v"] = m, v
    if amsgrad:
        v = s["v_max"] = np.maximum(s.get("v_max", 0.0), v)
    m_hat = m / (1 - beta_1**t)
    v_hat = v / (1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon)


def adamw(w, g, s, t, lr, decay, weight_decay=0.01, **params):
    return adam(w, g, s, t, lr, decay, weight_decay=weight_decay, **params)


TEXTBOOK = {"sgd": sgd, "rmsprop": rmsprop, "adagrad": adagrad, "adam": adam, "adamw": adamw}

# Defaults, then settings that switch every option on; large epsilons make where epsilon sits
# (inside or outside the root) matter far beyond the tolerance.
CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("rmsprop", {}),
    ("rmsprop", {"rho": 0.8, "epsilon": 0.1}),
    ("rmsprop", {"momentum": 0.7}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "epsilon": 0.05}),
    ("adagrad", {}),
    ("adagrad", {"initial_accumulator_value": 0.0, "epsilon": 0.1}),
    ("adam", {}),
    ("adam", {"beta_1": 0.5, "beta_2": 0.7, "epsilon": 0.1}),
    ("adam", {"amsgrad": True, "beta_2": 0.6}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.3, "beta_1": 0.6, "epsilon": 0.05}),
    ("adamw", {"amsgrad": True, "weight_decay": 0.2, "beta_2": 0.5}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in params.items()) for name, params in CASES]
# Separate arrays (one kernel call each) and views of one flat buffer (one call for the whole
# model, as the Model's buffers get), each with the Numba kernels and with their NumPy twins.
LAYOUTS = ["arrays", "flat-buffer", "arrays-numpy-twin", "flat-buffer-numpy-twin"]


def _arrays(layout: str, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=shape) for shape in SHAPES]
    if not layout.startswith("flat-buffer"):
        return values
    flat = np.concatenate([v.reshape(-1) for v in values])
    views, start = [], 0
    for v in values:
        views.append(flat[start : start + v.size].reshape(v.shape))
        start += v.size
    return views


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_optimizer_follows_the_textbook_update(name, params, layout):
    weights = _arrays(layout, seed=0)
    grads = _arrays(layout, seed=1)
    expected = [w.copy() for w in weights]
    states: list[dict] = [{} for _ in weights]
    optimizer = get_optimizer(name, learning_rate=0.5, **params)
    optimizer.reference = layout.endswith("numpy-twin")
    rng = np.random.default_rng(2)
    for t in range(1, STEPS + 1):
        for g in grads:
            g[...] = rng.normal(size=g.shape) * (0.5 + t)  # gradients of changing size
        lr = RATES[t - 1]
        optimizer.step(weights, grads, lr, decay_mask=MASK)
        for i, g in enumerate(grads):
            expected[i] = TEXTBOOK[name](expected[i], g.copy(), states[i], t, lr, MASK[i], **params)
        for i, (w, e) in enumerate(zip(weights, expected, strict=True)):
            np.testing.assert_allclose(w, e, rtol=TOL, atol=TOL, err_msg=f"step {t}, weight {i}")


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_weight_decay_is_decoupled_and_only_where_the_mask_says(name):
    """The same gradients with and without decay: the difference is exactly the decoupled
    shrink lr*wd*w of the masked weights at each step (none for Adam)."""
    rng = np.random.default_rng(3)
    start = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(STEPS)]
    decay = 0.2 if name == "adamw" else None
    plain, decayed = get_optimizer("adam"), get_optimizer(name, **({"weight_decay": decay} if decay else {}))
    w_plain, w_decayed, expected = start.copy(), start.copy(), start.copy()
    state: dict = {}
    for t, g in enumerate(grads, 1):
        plain.step([w_plain], [g.copy()], 0.1)
        decayed.step([w_decayed], [g.copy()], 0.1, decay_mask=[True])
        expected = adam(expected, g, state, t, 0.1, True, weight_decay=decay)
    np.testing.assert_allclose(w_decayed, expected, rtol=TOL, atol=TOL)
    if name == "adam":
        np.testing.assert_array_equal(w_decayed, w_plain)
    else:
        assert np.abs(w_decayed - w_plain).max() > 1e-3


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_by_global_norm_is_tensorflows(max_norm):
    """global_norm = sqrt(sum of every gradient's squares); if it exceeds max_norm every
    gradient is multiplied by max_norm / global_norm (one factor for all, unlike per-array
    clipnorm); the norm before clipping is returned."""
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=shape) for shape in SHAPES]
    original = [g.copy() for g in grads]
    global_norm = math.sqrt(sum(float(np.sum(g * g)) for g in original))
    returned = clip_by_global_norm(grads, max_norm)
    assert returned == pytest.approx(global_norm, rel=TOL)
    factor = max_norm / global_norm if global_norm > max_norm else 1.0
    for g, o in zip(grads, original, strict=True):
        np.testing.assert_allclose(g, o * factor, rtol=TOL, atol=TOL)


def test_every_registered_optimizer_has_a_textbook_formula():
    assert sorted(OPTIMIZERS.names()) == sorted(TEXTBOOK)
    assert {name for name, _ in CASES} == set(TEXTBOOK)
