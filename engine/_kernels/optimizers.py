"""Fused optimizer updates: one pass over a flattened (1-D, C-contiguous) weight array per step.

Every argument array is 1-D, C-contiguous and of the weight's dtype; every scalar is already of
that dtype (the caller computes the constants in float64 once per step and rounds them once, so
nothing here is upcast and float32 stays float32). Slots a setting turns off (no momentum, not
centered, no AMSGrad) are passed as zero-length arrays and never indexed.

Moments are flushed to zero when `abs(x) < tiny` (1e-30 in float32): decaying moments would
otherwise become subnormal late in training and slow every step (docs/performance.md, "Subnormals":
Adam's update 0.080 against 0.047 ms on real MNIST; tests/engine/test_optimizers.py). The
flush is branch-free, `x * (abs(x) >= tiny)`, so the loops still vectorize. A value that small
never matters next to epsilon.

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def sgd_update(w, g, buf, lr, mu, use_momentum, nesterov, tiny):
    """PyTorch SGD: buf = mu*buf + g; w -= lr*(g + mu*buf) (nesterov) or lr*buf; plain w -= lr*g."""
    n = w.shape[0]
    if not use_momentum:
        for i in range(n):
            w[i] -= lr * g[i]
        return
    for i in range(n):
        gi = g[i]
        b = mu * buf[i] + gi
        b = b * (abs(b) >= tiny)
        buf[i] = b
        if nesterov:
            w[i] -= lr * (gi + mu * b)
        else:
            w[i] -= lr * b


def sgd_update_ref(w, g, buf, lr, mu, use_momentum, nesterov, tiny):
    if not use_momentum:
        w -= lr * g
        return
    b = mu * buf + g
    buf[...] = b * (np.abs(b) >= tiny)
    w -= lr * (g + mu * buf) if nesterov else lr * buf


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def rmsprop_update(w, g, vel, avg, mom, lr, rho, one_minus_rho, eps, mu, centered, use_momentum, tiny):
    """Keras RMSprop: vel = rho*vel + (1-rho)*g²; avg likewise with g when centered;
    step = lr*g / sqrt(vel - avg² + eps) (no avg² unless centered); with momentum
    mom = mu*mom + step and w -= mom, else w -= step."""
    for i in range(w.shape[0]):
        gi = g[i]
        v = rho * vel[i] + one_minus_rho * gi * gi
        v = v * (abs(v) >= tiny)
        vel[i] = v
        if centered:
            a = rho * avg[i] + one_minus_rho * gi
            a = a * (abs(a) >= tiny)
            avg[i] = a
            v = v - a * a
        step = lr * gi / np.sqrt(v + eps)
        if use_momentum:
            s = mu * mom[i] + step
            s = s * (abs(s) >= tiny)
            mom[i] = s
            w[i] -= s
        else:
            w[i] -= step


def rmsprop_update_ref(w, g, vel, avg, mom, lr, rho, one_minus_rho, eps, mu, centered, use_momentum, tiny):
    v = rho * vel + one_minus_rho * g * g
    vel[...] = v * (np.abs(v) >= tiny)
    spread = vel
    if centered:
        a = rho * avg + one_minus_rho * g
        avg[...] = a * (np.abs(a) >= tiny)
        spread = vel - avg * avg
    step = lr * g / np.sqrt(spread + eps)
    if use_momentum:
        s = mu * mom + step
        mom[...] = s * (np.abs(s) >= tiny)
        w -= mom
    else:
        w -= step


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def adagrad_update(w, g, acc, lr, eps, tiny):
    """PyTorch Adagrad: acc += g²; w -= lr*g / (sqrt(acc) + eps)."""
    for i in range(w.shape[0]):
        gi = g[i]
        a = acc[i] + gi * gi
        a = a * (abs(a) >= tiny)
        acc[i] = a
        w[i] -= lr * gi / (np.sqrt(a) + eps)


def adagrad_update_ref(w, g, acc, lr, eps, tiny):
    a = acc + g * g
    acc[...] = a * (np.abs(a) >= tiny)
    w -= lr * g / (np.sqrt(acc) + eps)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def adam_update(
    w, g, m, v, vmax, b1, one_minus_b1, b2, one_minus_b2, step_size, sqrt_bc2, eps, lr_wd, amsgrad, tiny
):
    """PyTorch Adam/AdamW: w -= lr_wd*w (decoupled decay, 0 for Adam); m = b1*m + (1-b1)*g;
    v = b2*v + (1-b2)*g²; vmax = max(vmax, v) with AMSGrad;
    w -= step_size*m / (sqrt(v or vmax)/sqrt_bc2 + eps) with step_size = lr/(1-b1^t),
    sqrt_bc2 = sqrt(1-b2^t)."""
    for i in range(w.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        mi = mi * (abs(mi) >= tiny)
        m[i] = mi
        vi = b2 * v[i] + one_minus_b2 * gi * gi
        vi = vi * (abs(vi) >= tiny)
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        wi = w[i]
        w[i] = wi - lr_wd * wi - step_size * mi / (np.sqrt(vi) / sqrt_bc2 + eps)


def adam_update_ref(
    w, g, m, v, vmax, b1, one_minus_b1, b2, one_minus_b2, step_size, sqrt_bc2, eps, lr_wd, amsgrad, tiny
):
    mi = b1 * m + one_minus_b1 * g
    m[...] = mi * (np.abs(mi) >= tiny)
    vi = b2 * v + one_minus_b2 * g * g
    v[...] = vi * (np.abs(vi) >= tiny)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
    second = vmax if amsgrad else v
    w -= lr_wd * w + step_size * m / (np.sqrt(second) / sqrt_bc2 + eps)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def sum_squares(g):
    """Σ g² of a 1-D array, accumulated in float64 (no overflow for float32 gradients)."""
    total = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        total += x * x
    return total


def sum_squares_ref(g):
    x = g.astype(np.float64)
    return float(np.dot(x, x))
