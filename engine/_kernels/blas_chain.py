"""Whole chunks of training steps of a Dense-chain classifier inside one Numba call, with BLAS.

The MNIST MLP's step is mostly matrix products, but between them the general path runs ~20
Python calls (kernels, matmuls, the gather, the optimizer, metrics), each with its dispatch and
argument checks, and holds the GIL for all of them. `train_batches` makes the same calls from
Numba: the batch gather, `np.matmul`'s own BLAS call (`engine._kernels.blas.matmul`), the
kernels `DenseChainStep` uses (`add_bias_act`, `softmax_rows`, the softmax cross-entropy,
`column_sums`, `bias_act_backward`) and the optimizer's update, for many batches per call,
without the GIL. tanh layers use `bias_tanh` (in float64 the fused small-net path's tanh, in
float32 Eigen's vectorizable rational function), since NumPy's SIMD tanh cannot be called from
here. Its NumPy twin is the general path itself: the tests train both and compare
(tests/engine/test_blas_chain.py).

Arrays (C-contiguous, the weights' float dtype unless said):
- params, grads (P,), slot1, slot2, consts, x, y_dense, y_index, order, preds, losses: as in
  `engine._kernels.small_net.train_batches`; the loss is SPARSE_CE or DENSE_CE
  (`engine._kernels.small_net_forward`) here.
- layers (L, 7) int64: weight offset, bias offset (-1: none), fan_in, fan_out, activation code
  (the output layer's is unused: softmax), offset of the layer's units among all layers' units,
  offset of its inputs among all non-first layers' inputs.
- alphas (L,). xb (batch size, inputs), yb_dense (batch size, outputs) or (1, outputs), yb_index
  (batch size,) int64 or (1,): the gathered batch. z, a, grad_z (batch size * all units,),
  grad_x (batch size * all non-first inputs,): scratch, viewed per layer as (rows, units).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH
from engine._kernels.activations import TANH, add_bias_act, bias_act_backward, column_sums, softmax_rows
from engine._kernels.blas import matmul
from engine._kernels.losses import softmax_ce_dense, softmax_ce_index
from engine._kernels.small_net import optimizer_update
from engine._kernels.small_net_forward import SPARSE_CE, fused_tanh

# Eigen's float tanh (generic_fast_tanh_float): a 13/6 rational function of x clamped to +-CLAMP
_TANH32_CLAMP = 7.90531110763549805
_TANH32_A1, _TANH32_A3, _TANH32_A5 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05
_TANH32_A7, _TANH32_A9, _TANH32_A11 = 5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13
_TANH32_A13 = -2.76076847742355e-16
_TANH32_B0, _TANH32_B2 = 4.89352518554385e-03, 2.26843463243900e-03
_TANH32_B4, _TANH32_B6 = 1.18534705686654e-04, 1.19825839466702e-06


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def rational_tanh32(v):
    """tanh of a float32 as Eigen computes it, within 3.5e-7 of the exact value (np.tanh: 1.4
    ulp; this: up to ~6 ulp). It has no exp and no branch (NaN is passed through by a select),
    so a loop over it vectorizes, 8 values per AVX2 instruction: fused_tanh calls a scalar
    exp and computes in float64."""
    t = np.float32
    x = min(max(v, t(-_TANH32_CLAMP)), t(_TANH32_CLAMP))
    x2 = x * x
    p = t(_TANH32_A13)
    p = p * x2 + t(_TANH32_A11)
    p = p * x2 + t(_TANH32_A9)
    p = p * x2 + t(_TANH32_A7)
    p = p * x2 + t(_TANH32_A5)
    p = p * x2 + t(_TANH32_A3)
    p = (p * x2 + t(_TANH32_A1)) * x
    q = t(_TANH32_B6)
    q = q * x2 + t(_TANH32_B4)
    q = q * x2 + t(_TANH32_B2)
    q = q * x2 + t(_TANH32_B0)
    return p / q if v == v else v


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def bias_tanh(z, bias, out):
    """z += bias (none when bias is empty), out = tanh(z): in float32 Eigen's rational tanh
    (vectorized), in float64 the fused small-net path's."""
    two = z.dtype.type(2.0)
    has_bias = bias.shape[0] > 0
    single = z.itemsize == 4
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[i, j] + bias[j] if has_bias else z[i, j]
            z[i, j] = v
            out[i, j] = rational_tanh32(v) if single else fused_tanh(v, two)


@njit(cache=True, nogil=True)
def gather_rows(src, rows, dst):
    """dst[r] = src[rows[r]] for each r, copied element by element: Numba's row assignment
    `dst[r] = src[k]` ran ~2x slower (an MNIST batch's 128 rows: 0.045 against 0.025 ms)."""
    cols = src.shape[1]
    for r in range(rows.shape[0]):
        source, target = src[rows[r]], dst[r]
        for j in range(cols):
            target[j] = source[j]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def train_batches(
    params,
    grads,
    slot1,
    slot2,
    layers,
    alphas,
    x,
    y_dense,
    y_index,
    order,
    first_batch,
    batch_count,
    batch_size,
    loss_code,
    opt_code,
    nesterov,
    consts,
    xb,
    yb_dense,
    yb_index,
    z,
    a,
    grad_z,
    grad_x,
    preds,
    losses,
):
    """Run batches first_batch .. first_batch+batch_count-1 of the epoch; returns the number
    done: all, or up to and including the first with a non-finite loss."""
    count = order.shape[0]
    depth = layers.shape[0]
    last = depth - 1
    outputs = layers[last, 3]
    for bi in range(batch_count):
        start = (first_batch + bi) * batch_size
        rows = min(start + batch_size, count) - start
        x_rows = xb[:rows]
        gather_rows(x, order[start : start + rows], x_rows)
        if loss_code == SPARSE_CE:
            for r in range(rows):
                yb_index[r] = y_index[order[start + r]]
        else:
            gather_rows(y_dense, order[start : start + rows], yb_dense[:rows])
        inputs = x_rows
        for i in range(depth):
            w_off, b_off, fan_in, fan_out = layers[i, 0], layers[i, 1], layers[i, 2], layers[i, 3]
            at = layers[i, 5] * batch_size
            w = params[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out))
            bias = params[b_off : b_off + fan_out] if b_off >= 0 else params[:0]
            zi = z[at : at + rows * fan_out].reshape((rows, fan_out))
            ai = a[at : at + rows * fan_out].reshape((rows, fan_out))
            matmul(inputs, w, zi, False, False)
            if i < last and layers[i, 4] == TANH:
                bias_tanh(zi, bias, ai)
                inputs = ai
            elif i < last:
                add_bias_act(zi, bias, ai, layers[i, 4], alphas[i])
                inputs = ai
            else:
                if b_off >= 0:
                    for r in range(rows):
                        for j in range(fan_out):
                            zi[r, j] += bias[j]
                softmax_rows(zi, ai)
                for r in range(rows):
                    for j in range(fan_out):
                        preds[start + r, j] = ai[r, j]
        at = layers[last, 5] * batch_size
        logits = z[at : at + rows * outputs].reshape((rows, outputs))
        grad_out = grad_z[at : at + rows * outputs].reshape((rows, outputs))
        if loss_code == SPARSE_CE:
            loss = softmax_ce_index(logits, yb_index[:rows], grad_out)
        else:
            loss = softmax_ce_dense(logits, yb_dense[:rows], grad_out)
        for i in range(last, -1, -1):
            w_off, b_off, fan_in, fan_out = layers[i, 0], layers[i, 1], layers[i, 2], layers[i, 3]
            at = layers[i, 5] * batch_size
            gz = grad_z[at : at + rows * fan_out].reshape((rows, fan_out))
            if i == 0:
                below = x_rows
            else:
                below_at = layers[i - 1, 5] * batch_size
                below = a[below_at : below_at + rows * fan_in].reshape((rows, fan_in))
            matmul(below, gz, grads[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out)), True, False)
            if b_off >= 0:
                column_sums(gz, grads[b_off : b_off + fan_out])
            if i > 0:
                gx_at = layers[i, 6] * batch_size
                gx = grad_x[gx_at : gx_at + rows * fan_in].reshape((rows, fan_in))
                w = params[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out))
                matmul(gz, w, gx, False, True)
                below_at = layers[i - 1, 5] * batch_size
                z_below = z[below_at : below_at + rows * fan_in].reshape((rows, fan_in))
                gz_below = grad_z[below_at : below_at + rows * fan_in].reshape((rows, fan_in))
                bias_act_backward(z_below, below, gx, gz_below, layers[i - 1, 4], alphas[i - 1])
        losses[bi] = loss
        optimizer_update(params, grads, slot1, slot2, opt_code, nesterov, consts[bi])
        if not np.isfinite(loss):
            return bi + 1
    return batch_count
