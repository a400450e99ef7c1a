"""The forward pass of a small dense network over a batch's rows inside Numba, its output loss
and inference (`predict_rows`); `engine._kernels.small_net` trains with them.

The arrays are laid out as `engine._kernels.small_net` describes: params (P,) the model's flat
weights; layers (L, 6) int64 (weight offset, bias offset or -1, fan_in, fan_out, activation code
(SOFTMAX for a softmax output), column offset of the layer in `z` and `a`); alphas (L,); z, a
(rows, inputs + sum of units) scratch, a row per sample; out (N, outputs).

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH
from engine._kernels.activations import (
    LINEAR,
    RELU,
    TANH,
    _act_ref,
    _act_row,
    _grad_row,
    _sigmoid,
)

SOFTMAX = -1  # activation code of a softmax output (only with a cross-entropy loss)
MSE, BCE_LOGITS, SPARSE_CE, DENSE_CE = range(4)


# tanh's Taylor coefficients after x (x - x³/3 + 2x⁵/15 - 17x⁷/315 + 62x⁹/2835) and where
# `fused_tanh` switches from the series to exp: below it the next term is < 1e-14 of the value, above
# it 1 - e loses at most a few ulps.
_TANH_C3, _TANH_C5, _TANH_C7, _TANH_C9 = -1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0, 62.0 / 2835.0
_TANH_SERIES_BELOW = 0.0625


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def fused_tanh(v, two):
    """tanh without the range branches of glibc's tanh/expm1, whose cost (14-25 ns a call here)
    rose as training spread the pre-activations: the series below |v| = 1/16, else
    (1 - e)/(1 + e) with e = exp(-2|v|), both computed and one selected. Accurate to 1e-14 in
    float64 (a few ulps in float32). `two` is 2 in v's dtype, so exp runs in v's precision."""
    x = abs(v)
    e = np.float64(np.exp(-two * x))
    exp_form = (1.0 - e) / (1.0 + e)
    x2 = np.float64(x) * x
    series = x * (1.0 + x2 * (_TANH_C3 + x2 * (_TANH_C5 + x2 * (_TANH_C7 + x2 * _TANH_C9))))
    r = series if x < _TANH_SERIES_BELOW else exp_form
    return r if v >= 0 else -r


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _output_loss(z, a, t_row, label, loss_code, code, alpha, scale, delta, pred):
    """Loss of one sample (float64, not yet averaged) and its d(loss)/d(pre-activation) into
    `delta`; `pred` receives the network's output. `scale` is 1/(values averaged over)."""
    one = z.dtype.type(1.0)
    zero = z.dtype.type(0.0)
    n = z.shape[0]
    total = 0.0
    if loss_code == MSE:
        two = z.dtype.type(2.0)
        for j in range(n):
            diff = a[j] - t_row[j]
            total += np.float64(diff * diff)
            pred[j] = a[j]
            delta[j] = two * diff * scale
        _grad_row(z, a, delta, delta, code, alpha)
    elif loss_code == BCE_LOGITS:
        for j in range(n):
            zj = z[j]
            total += np.float64(max(zj, zero) - zj * t_row[j] + np.log1p(np.exp(-abs(zj))))
            p = _sigmoid(zj, one)
            pred[j] = p
            delta[j] = (p - t_row[j]) * scale
    else:
        m = z[0]
        for j in range(1, n):
            m = max(m, z[j])
        s = zero
        for j in range(n):
            e = np.exp(z[j] - m)
            s += e
            delta[j] = e
        log_s = np.log(s)
        r = one / s
        for j in range(n):
            pred[j] = delta[j] * r
        if loss_code == SPARSE_CE:
            total = np.float64((m - z[label]) + log_s)
            r = scale / s
            for j in range(n):
                delta[j] *= r
            delta[label] -= scale
        else:
            t_sum = zero
            row_loss = zero
            for j in range(n):
                t_sum += t_row[j]
                row_loss += t_row[j] * ((m - z[j]) + log_s)
            total = np.float64(row_loss)
            r = t_sum / s
            for j in range(n):
                delta[j] = (delta[j] * r - t_row[j]) * scale
    return total


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _forward_rows(params, layers, alphas, z, a, rows, zero, two):
    """Forward pass of rows 0..rows-1, layer by layer with the rows inside: each row's input is in
    a[r, :inputs]; each layer's pre-activation and output go to its columns of z and a (a
    softmax output is left as logits in both)."""
    src = 0
    for layer in range(layers.shape[0]):
        w_off, b_off, fan_in = layers[layer, 0], layers[layer, 1], layers[layer, 2]
        fan_out, code, col = layers[layer, 3], layers[layer, 4], layers[layer, 5]
        w = params[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out))
        for r in range(rows):
            inp = a[r, src : src + fan_in]
            zl = z[r, col : col + fan_out]
            al = a[r, col : col + fan_out]
            if b_off >= 0:
                for j in range(fan_out):
                    zl[j] = params[b_off + j]
            else:
                for j in range(fan_out):
                    zl[j] = zero
            for k in range(fan_in):
                xk = inp[k]
                for j in range(fan_out):
                    zl[j] += xk * w[k, j]
            if code == TANH:
                for j in range(fan_out):
                    al[j] = fused_tanh(zl[j], two)
            elif code == RELU:
                for j in range(fan_out):
                    v = zl[j]
                    al[j] = zero if v < zero else v
            else:
                for j in range(fan_out):
                    al[j] = zl[j]
                if code > LINEAR:
                    _act_row(al, code, alphas[layer])
        src = col


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def predict_rows(params, layers, alphas, x, z, a, out):
    """Inference: each row of x through the network into `out` (N, outputs), a softmax output
    as probabilities, in blocks of as many rows as the scratch z and a hold. Releases the GIL,
    like `train_batches`."""
    depth = layers.shape[0]
    inputs = x.shape[1]
    out_units, out_code, out_col = layers[depth - 1, 3], layers[depth - 1, 4], layers[depth - 1, 5]
    t = params.dtype.type
    zero, two = t(0.0), t(2.0)
    block = z.shape[0]
    for start in range(0, x.shape[0], block):
        rows = min(block, x.shape[0] - start)
        for r in range(rows):
            for k in range(inputs):
                a[r, k] = x[start + r, k]
        _forward_rows(params, layers, alphas, z, a, rows, zero, two)
        for r in range(rows):
            row = out[start + r]
            if out_code == SOFTMAX:
                m = z[r, out_col]
                for j in range(1, out_units):
                    m = max(m, z[r, out_col + j])
                total = zero
                for j in range(out_units):
                    row[j] = np.exp(z[r, out_col + j] - m)
                    total += row[j]
                for j in range(out_units):
                    row[j] /= total
            else:
                for j in range(out_units):
                    row[j] = a[r, out_col + j]


def predict_rows_ref(params, layers, alphas, x, z, a, out):
    """NumPy twin of `predict_rows`."""
    act = x
    for (w_off, b_off, fan_in, fan_out, code, _), alpha in zip(layers, alphas, strict=True):
        zl = act @ params[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
        if b_off >= 0:
            zl = zl + params[b_off : b_off + fan_out]
        act = _act_ref(zl, code, alpha) if code >= 0 else zl
    if layers[-1, 4] == SOFTMAX:
        e = np.exp(act - act.max(axis=1, keepdims=True))
        act = e / e.sum(axis=1, keepdims=True)
    out[...] = act
