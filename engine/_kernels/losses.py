"""Fused softmax + cross-entropy over C-contiguous 2-D logits `(rows, classes)`.

One pass per row computes the max, the exponentials and log-sum-exp, the row's loss and, unless
`grad_out` has zero rows, the gradient w.r.t. the logits of the mean loss. The loss of a row is
formed as (max - z) + log Σ e^(z - max), never as a difference of two large numbers, so logits of
±1000 stay exact. Loss sums are accumulated in float64; the gradient keeps the logits' dtype.

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def softmax_ce_index(z, labels, grad_out):
    """Mean over rows of -log softmax(z)[label] for z (rows, C) and integer labels (rows,).

    grad_out (rows, C) receives (softmax(z) - onehot(labels)) / rows; pass a (0, 0) array to skip.
    """
    rows, cols = z.shape
    want_grad = grad_out.shape[0] > 0
    inv = grad_out.dtype.type(1.0 / max(rows, 1))
    total = 0.0
    for i in range(rows):
        m = z[i, 0]
        for j in range(1, cols):
            m = max(m, z[i, j])
        s = z.dtype.type(0.0)
        for j in range(cols):
            e = np.exp(z[i, j] - m)
            s += e
            if want_grad:
                grad_out[i, j] = e
        label = labels[i]
        if label < 0 or label >= cols:  # the one index no shape check covers (public Loss methods)
            raise IndexError("softmax_ce_index: a class id is outside [0, number of columns)")
        total += np.float64((m - z[i, label]) + np.log(s))
        if want_grad:
            r = inv / s
            for j in range(cols):
                grad_out[i, j] *= r
            grad_out[i, label] -= inv
    return total / max(rows, 1)


def softmax_ce_index_ref(z, labels, grad_out):
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    picked = np.take_along_axis(z, labels[:, None], axis=1)
    loss = ((m - picked) + np.log(s)).astype(np.float64)
    rows = max(len(z), 1)
    if grad_out.shape[0] > 0:
        grad = e / s
        grad[np.arange(len(z)), labels] -= 1.0
        grad_out[...] = grad / z.dtype.type(rows)
    return float(loss.sum() / rows)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def softmax_ce_dense(z, targets, grad_out):
    """Mean over rows of Σⱼ tⱼ·(log Σ e^z - zⱼ) for z and targets (rows, C) (one-hot or
    probabilities). grad_out (rows, C) receives (softmax(z)·Σt - t) / rows; (0, 0) skips it."""
    rows, cols = z.shape
    want_grad = grad_out.shape[0] > 0
    inv = grad_out.dtype.type(1.0 / max(rows, 1))
    total = 0.0
    for i in range(rows):
        m = z[i, 0]
        for j in range(1, cols):
            m = max(m, z[i, j])
        s = z.dtype.type(0.0)
        t_sum = z.dtype.type(0.0)
        for j in range(cols):
            e = np.exp(z[i, j] - m)
            s += e
            t_sum += targets[i, j]
            if want_grad:
                grad_out[i, j] = e
        log_s = np.log(s)
        row_loss = z.dtype.type(0.0)
        for j in range(cols):
            row_loss += targets[i, j] * ((m - z[i, j]) + log_s)
        total += np.float64(row_loss)
        if want_grad:
            r = t_sum / s
            for j in range(cols):
                grad_out[i, j] = (grad_out[i, j] * r - targets[i, j]) * inv
    return total / max(rows, 1)


def softmax_ce_dense_ref(z, targets, grad_out):
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    loss = (targets * ((m - z) + np.log(s))).sum(axis=1).astype(np.float64)
    rows = max(len(z), 1)
    if grad_out.shape[0] > 0:
        grad_out[...] = (e / s * targets.sum(axis=1, keepdims=True) - targets) / z.dtype.type(rows)
    return float(loss.sum() / rows)
