"""Fused bias + elementwise activation kernels over C-contiguous 2-D arrays `(rows, units)`.

An activation is chosen by an integer code (`ACT_CODES`), so a Dense layer can add its bias and
apply the non-linearity in one call. The code is dispatched once per row, never per element, so
each inner loop is a plain contiguous loop that vectorizes. Constants are made in the array's
dtype (`out.dtype.type(...)`) so float32 stays float32; `alpha` arrives already in that dtype.
A zero-length `bias` means "no bias" (the convention of the optimizer kernels for unused slots).

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests and
for dtypes Numba does not compile (float16).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine._kernels import FASTMATH

LINEAR, SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SELU, GELU, SILU, SOFTPLUS, SOFTSIGN, HARD_SIGMOID = range(12)

ACT_CODES: dict[str, int] = {
    "linear": LINEAR,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "selu": SELU,
    "gelu": GELU,
    "silu": SILU,
    "swish": SILU,
    "softplus": SOFTPLUS,
    "softsign": SOFTSIGN,
    "hard_sigmoid": HARD_SIGMOID,
}

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _sigmoid(x, one):
    """Stable logistic: e = exp(-|x|) never overflows; e/(1+e) keeps precision for x < 0."""
    e = np.exp(-abs(x))
    r = one / (one + e)
    return r if x >= 0 else e * r


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _act_row(row, code, alpha):
    """Apply activation `code` in place to the 1-D contiguous `row`."""
    t = row.dtype.type
    zero, one, three, six = t(0.0), t(1.0), t(3.0), t(6.0)
    n = row.shape[0]
    if code == SIGMOID:
        for j in range(n):
            row[j] = _sigmoid(row[j], one)
    elif code == TANH:
        for j in range(n):
            row[j] = np.tanh(row[j])
    elif code == RELU:
        for j in range(n):
            x = row[j]
            row[j] = zero if x < zero else x
    elif code == LEAKY_RELU:
        for j in range(n):
            x = row[j]
            row[j] = x if x > zero else alpha * x
    elif code == ELU:
        for j in range(n):
            x = row[j]
            row[j] = x if x > zero else alpha * np.expm1(min(x, zero))
    elif code == SELU:
        scale, scale_alpha = t(SELU_SCALE), t(SELU_SCALE * SELU_ALPHA)
        for j in range(n):
            x = row[j]
            row[j] = scale * x if x > zero else scale_alpha * np.expm1(min(x, zero))
    elif code == GELU:
        half, inv_sqrt2 = t(0.5), t(INV_SQRT2)
        for j in range(n):
            x = row[j]
            row[j] = half * x * math.erfc(-x * inv_sqrt2)
    elif code == SILU:
        for j in range(n):
            x = row[j]
            row[j] = x * _sigmoid(x, one)
    elif code == SOFTPLUS:
        for j in range(n):
            x = row[j]
            row[j] = max(x, zero) + np.log1p(np.exp(-abs(x)))
    elif code == SOFTSIGN:
        for j in range(n):
            x = row[j]
            row[j] = x / (one + abs(x))
    elif code == HARD_SIGMOID:
        for j in range(n):
            row[j] = min(max(row[j] + three, zero), six) / six


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def bias_act_forward(z_in, bias, out, act_code, alpha):
    """out = act(z_in + bias) for z_in, out (rows, units) and bias (units,) or (0,) for none."""
    rows, cols = z_in.shape
    has_bias = bias.shape[0] > 0
    for i in range(rows):
        if has_bias:
            for j in range(cols):
                out[i, j] = z_in[i, j] + bias[j]
        else:
            for j in range(cols):
                out[i, j] = z_in[i, j]
        if act_code != LINEAR:
            _act_row(out[i], act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def add_bias_act(z, bias, out, act_code, alpha):
    """z += bias in place (z then holds the biased pre-activation) and out = act(z), for z, out
    (rows, units) and bias (units,) or (0,) for none. Lets a Dense layer keep z for backward."""
    rows, cols = z.shape
    has_bias = bias.shape[0] > 0
    for i in range(rows):
        if has_bias:
            for j in range(cols):
                z[i, j] += bias[j]
        for j in range(cols):
            out[i, j] = z[i, j]
        if act_code != LINEAR:
            _act_row(out[i], act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def column_sums(g, out):
    """out[j] = Σᵢ g[i, j] for g (rows, cols) and out (cols,): a bias gradient, rows added in order."""
    rows, cols = g.shape
    for j in range(cols):
        out[j] = 0.0
    for i in range(rows):
        for j in range(cols):
            out[j] += g[i, j]


DERIVATIVE_FROM_OUTPUT = (LINEAR, SIGMOID, TANH, RELU)
"""The codes whose derivative `_grad_row` takes from the output alone (it never reads z): a layer
need not keep their pre-activation for backward."""


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _grad_row(z, a, g, gz, code, alpha):
    """gz = g * act'(z) over one row; uses the output `a` where that is cheaper than z."""
    t = gz.dtype.type
    zero, one, half, three = t(0.0), t(1.0), t(0.5), t(3.0)
    n = gz.shape[0]
    if code == LINEAR:
        for j in range(n):
            gz[j] = g[j]
    elif code == SIGMOID:
        for j in range(n):
            gz[j] = g[j] * a[j] * (one - a[j])
    elif code == TANH:
        for j in range(n):
            gz[j] = g[j] * (one - a[j] * a[j])
    elif code == RELU:
        for j in range(n):
            gz[j] = g[j] * (a[j] > zero)
    elif code == LEAKY_RELU:
        for j in range(n):
            gz[j] = g[j] * (one if z[j] > zero else alpha)
    elif code == ELU:
        for j in range(n):
            gz[j] = g[j] * (one if z[j] > zero else a[j] + alpha)
    elif code == SELU:
        scale, scale_alpha = t(SELU_SCALE), t(SELU_SCALE * SELU_ALPHA)
        for j in range(n):
            gz[j] = g[j] * (scale if z[j] > zero else a[j] + scale_alpha)
    elif code == GELU:
        inv_sqrt2, inv_sqrt_2pi = t(INV_SQRT2), t(INV_SQRT_2PI)
        for j in range(n):
            x = z[j]
            gz[j] = g[j] * (half * math.erfc(-x * inv_sqrt2) + x * np.exp(-half * x * x) * inv_sqrt_2pi)
    elif code == SILU:
        for j in range(n):
            s = _sigmoid(z[j], one)
            gz[j] = g[j] * s * (one + z[j] * (one - s))
    elif code == SOFTPLUS:
        for j in range(n):
            gz[j] = g[j] * _sigmoid(z[j], one)
    elif code == SOFTSIGN:
        for j in range(n):
            d = one + abs(z[j])
            gz[j] = g[j] / (d * d)
    elif code == HARD_SIGMOID:
        sixth = t(1.0 / 6.0)
        for j in range(n):
            gz[j] = g[j] * sixth * ((z[j] > -three) & (z[j] < three))


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def bias_act_backward(z, a, grad_a, grad_z, act_code, alpha):
    """grad_z = grad_a * act'(z) for (rows, units) arrays; z is the biased pre-activation, a = act(z)."""
    for i in range(z.shape[0]):
        _grad_row(z[i], a[i], grad_a[i], grad_z[i], act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def softmax_rows(z, out):
    """out = softmax of each row of z (rows, classes), from max-subtracted values so nothing
    overflows; one pass per row instead of NumPy's five temporaries (a classifier's every batch)."""
    for i in range(z.shape[0]):
        row, dst = z[i], out[i]
        m = row[0]
        for j in range(1, row.shape[0]):
            m = max(m, row[j])
        total = dst.dtype.type(0.0)
        for j in range(row.shape[0]):
            e = np.exp(row[j] - m)
            dst[j] = e
            total += e
        inv = dst.dtype.type(1.0) / total
        for j in range(row.shape[0]):
            dst[j] *= inv


def softmax_rows_ref(z, out):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid_ref(x):
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def _act_ref(x, code, alpha):
    t = x.dtype.type
    if code == LINEAR:
        return x
    if code == SIGMOID:
        return _sigmoid_ref(x)
    if code == TANH:
        return np.tanh(x)
    if code == RELU:
        return np.where(x < 0, t(0), x)
    if code == LEAKY_RELU:
        return np.where(x > 0, x, alpha * x)
    if code == ELU:
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    if code == SELU:
        return np.where(x > 0, t(SELU_SCALE) * x, t(SELU_SCALE * SELU_ALPHA) * np.expm1(np.minimum(x, 0)))
    if code == GELU:
        return 0.5 * x * _erfc(-x * t(INV_SQRT2)).astype(x.dtype)
    if code == SILU:
        return x * _sigmoid_ref(x)
    if code == SOFTPLUS:
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    if code == SOFTSIGN:
        return x / (1.0 + np.abs(x))
    if code == HARD_SIGMOID:
        return np.minimum(np.maximum(x + 3.0, 0), 6.0) / 6.0
    raise ValueError(f"unknown activation code {code}")


def bias_act_forward_ref(z_in, bias, out, act_code, alpha):
    x = z_in + bias if bias.shape[0] > 0 else z_in
    out[...] = _act_ref(x, act_code, alpha)


def add_bias_act_ref(z, bias, out, act_code, alpha):
    if bias.shape[0] > 0:
        z += bias
    out[...] = _act_ref(z, act_code, alpha)


def column_sums_ref(g, out):
    out[...] = g.sum(axis=0)


def _derivative_ref(z, a, code, alpha):
    t = z.dtype.type
    if code == LINEAR:
        return np.ones_like(z)
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return (a > 0).astype(z.dtype)
    if code == LEAKY_RELU:
        return np.where(z > 0, t(1), alpha)
    if code == ELU:
        return np.where(z > 0, t(1), a + alpha)
    if code == SELU:
        return np.where(z > 0, t(SELU_SCALE), a + t(SELU_SCALE * SELU_ALPHA))
    if code == GELU:
        return 0.5 * _erfc(-z * t(INV_SQRT2)).astype(z.dtype) + z * np.exp(-0.5 * z * z) * t(INV_SQRT_2PI)
    if code == SILU:
        s = _sigmoid_ref(z)
        return s * (1.0 + z * (1.0 - s))
    if code == SOFTPLUS:
        return _sigmoid_ref(z)
    if code == SOFTSIGN:
        return 1.0 / np.square(1.0 + np.abs(z))
    if code == HARD_SIGMOID:
        return ((z > -3.0) & (z < 3.0)) * t(1.0 / 6.0)
    raise ValueError(f"unknown activation code {code}")


def bias_act_backward_ref(z, a, grad_a, grad_z, act_code, alpha):
    grad_z[...] = grad_a * _derivative_ref(z, a, act_code, alpha)
