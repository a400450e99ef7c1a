"""Batch normalization over the channels of C-contiguous image batches, viewed as `(N, C, S)`
(S: the positions of one channel, H * W for an image).

Statistics are per channel over N and S, summed in float64 whatever the array's dtype. A
zero-length `gamma` / `beta` means "no scale" / "no offset" (scale / center off). Each kernel has
a plain NumPy twin `<name>_ref` with the same signature; callers check shapes and dtypes first.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def moments(x, mean, var):
    """mean[c], var[c] (C,) = the mean and the (biased) variance of x[:, c, :] (two passes)."""
    n_count, channels, size = x.shape
    count = n_count * size
    for c in range(channels):
        total = 0.0
        for n in range(n_count):
            row = x[n, c]
            for s in range(size):
                total += row[s]
        m = total / count
        spread = 0.0
        for n in range(n_count):
            row = x[n, c]
            for s in range(size):
                d = row[s] - m
                spread += d * d
        mean[c] = m
        var[c] = spread / count


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def normalize(x, mean, inv_std, gamma, beta, out):
    """out = (x - mean[c]) * inv_std[c] * gamma[c] + beta[c] for every channel c."""
    n_count, channels, size = x.shape
    t = out.dtype.type
    for c in range(channels):
        m = mean[c]
        scale = inv_std[c] * (gamma[c] if gamma.shape[0] else t(1.0))
        shift = beta[c] if beta.shape[0] else t(0.0)
        for n in range(n_count):
            row, dest = x[n, c], out[n, c]
            for s in range(size):
                dest[s] = (row[s] - m) * scale + shift


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def backward_sums(x, g, mean, inv_std, sum_g, sum_gx):
    """sum_g[c] = Σ g[:, c, :] (beta's gradient), sum_gx[c] = Σ g * x_hat (gamma's), where
    x_hat = (x - mean[c]) * inv_std[c]."""
    n_count, channels, size = x.shape
    for c in range(channels):
        m, k = mean[c], inv_std[c]
        total, weighted = 0.0, 0.0
        for n in range(n_count):
            row, grad = x[n, c], g[n, c]
            for s in range(size):
                total += grad[s]
                weighted += grad[s] * ((row[s] - m) * k)
        sum_g[c] = total
        sum_gx[c] = weighted


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def backward_input(x, g, mean, inv_std, gamma, sum_g, sum_gx, grad_x):
    """grad_x = gamma[c] * inv_std[c] * (g - sum_g[c] / M - x_hat * sum_gx[c] / M), M = N * S:
    the input gradient through the batch statistics."""
    n_count, channels, size = x.shape
    t = grad_x.dtype.type
    count = n_count * size
    for c in range(channels):
        m, k = mean[c], inv_std[c]
        scale = k * (gamma[c] if gamma.shape[0] else t(1.0))
        mean_g = t(sum_g[c] / count)
        mean_gx = t(sum_gx[c] / count)
        for n in range(n_count):
            row, grad, dest = x[n, c], g[n, c], grad_x[n, c]
            for s in range(size):
                dest[s] = scale * (grad[s] - mean_g - (row[s] - m) * k * mean_gx)


# ----------------------------------------------------------------------- NumPy twins
def _per_channel(v, like):
    return np.asarray(v, dtype=like.dtype).reshape(1, -1, 1)


def moments_ref(x, mean, var):
    wide = x.astype(np.float64)
    mean[...] = wide.mean(axis=(0, 2))
    var[...] = wide.var(axis=(0, 2))


def normalize_ref(x, mean, inv_std, gamma, beta, out):
    y = (x - _per_channel(mean, x)) * _per_channel(inv_std, x)
    if gamma.shape[0]:
        y = y * _per_channel(gamma, x)
    if beta.shape[0]:
        y = y + _per_channel(beta, x)
    out[...] = y


def backward_sums_ref(x, g, mean, inv_std, sum_g, sum_gx):
    x_hat = (x.astype(np.float64) - _per_channel(mean, x)) * _per_channel(inv_std, x)
    sum_g[...] = g.astype(np.float64).sum(axis=(0, 2))
    sum_gx[...] = (g * x_hat).sum(axis=(0, 2))


def backward_input_ref(x, g, mean, inv_std, gamma, sum_g, sum_gx, grad_x):
    count = x.shape[0] * x.shape[2]
    x_hat = (x - _per_channel(mean, x)) * _per_channel(inv_std, x)
    scale = _per_channel(inv_std, x) * (_per_channel(gamma, x) if gamma.shape[0] else 1)
    grad_x[...] = scale * (g - _per_channel(sum_g / count, x) - x_hat * _per_channel(sum_gx / count, x))
