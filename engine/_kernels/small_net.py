"""Whole chunks of training steps of a small dense network inside one Numba call.

For a chain of Dense layers with elementwise activations and a few units each, PyTorch-style
per-operation dispatch costs far more than the maths (the playground cases of `bench/cases.py`:
docs/performance.md, "Training throughput"). `train_batches` runs many batches: forward, loss, backward
and the optimizer update of each, layer by layer over the batch's rows, with plain loops that
need no BLAS.

Arrays (all C-contiguous, one float dtype unless said):
- params, grads (P,): the model's flat weight and gradient buffers ([W0, b0, W1, b1, ...]).
- slot1, slot2 (P,) or (0,): optimizer state (SGD: momentum buffer, -; Adam: m, v).
- layers (L, 6) int64: weight offset, bias offset (-1: none), fan_in, fan_out, activation code
  (SOFTMAX for a softmax output), column offset of the layer in `z` and `a`.
- alphas (L,): each activation's alpha. x (N, inputs). y_dense (N, outputs); y_index
  (N,) int64; the one a loss does not use is a (1, outputs) / (1,) stand-in. order (N,) int64: the epoch's sample order.
- consts (batches, K): each step's optimizer constants, already rounded to the dtype
  (`Optimizer.constants_table`; SGD: lr, momentum, tiny; Adam: the arguments of `adam_update`
  from b1 to lr_wd, a 0, then tiny: the flush threshold is always the last column).
- z, a (batch size, inputs + sum of units), delta (2, batch size, widest layer or input):
  scratch, a row per sample of the batch; layer columns start after the inputs. preds (N, outputs): each sample's
  output before its step, at its position in `order`. losses (batches,) float64: each batch's
  mean loss.
Returns the number of batches done: all, or up to and including the first non-finite loss.
`train_batches` releases the GIL (nogil), so a GUI thread stays responsive while a chunk runs.
The forward pass, the output loss and inference are `engine._kernels.small_net_forward`'s.

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH
from engine._kernels.activations import LINEAR, RELU, TANH, _act_ref, _derivative_ref, _grad_row, _sigmoid_ref
from engine._kernels.optimizers import adam_update, adam_update_ref, sgd_update, sgd_update_ref
from engine._kernels.small_net_forward import (
    BCE_LOGITS,
    DENSE_CE,
    MSE,
    _forward_rows,
    _output_loss,
    predict_rows,
)

SGD, ADAM = range(2)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def optimizer_update(params, grads, slot1, slot2, opt_code, nesterov, c):
    """One optimizer step over the flat buffers with one row `c` of the constants table
    (`Optimizer.constants_table`: the optimizer's constants, then the flush threshold last)."""
    tiny = c[c.shape[0] - 1]
    if opt_code == SGD:
        sgd_update(params, grads, slot1, c[0], c[1], slot1.shape[0] > 0, nesterov, tiny)
    else:
        adam_update(
            params,
            grads,
            slot1,
            slot2,
            params[:0],
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6],
            c[7],
            False,
            tiny,
        )


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
    z,
    a,
    delta,
    preds,
    losses,
):
    """Run batches first_batch .. first_batch+batch_count-1 of the epoch (see the module doc).

    Each batch goes layer by layer, its rows inside: the layer's weights and shape are read once
    a batch, and the rows' independent chains (tanh above all) overlap in the CPU; that took a
    2-8-8-1 batch-10 step from ~6.2 to ~4.4 us against one sample at a time through every layer.
    Hot loops run over views indexed by loop counters only, so LLVM can vectorize them (offset
    arithmetic inside the index would need wrap-around checks). Row r of `a` holds its sample's
    input in its first columns, then each layer's output; tanh, relu and linear are inlined."""
    count = order.shape[0]
    depth = layers.shape[0]
    inputs = x.shape[1]
    out_units = layers[depth - 1, 3]
    out_col = layers[depth - 1, 5]
    out_code = layers[depth - 1, 4]
    out_alpha = alphas[depth - 1]
    t = params.dtype.type
    zero, one, two = t(0.0), t(1.0), t(2.0)
    per_value = loss_code == MSE or loss_code == BCE_LOGITS  # noqa: PLR1714 (Numba: no `in`)
    for bi in range(batch_count):
        start = (first_batch + bi) * batch_size
        stop = min(start + batch_size, count)
        rows = stop - start
        scale = one / t(rows * out_units if per_value else rows)
        for i in range(grads.shape[0]):
            grads[i] = 0.0
        for r in range(rows):
            s = order[start + r]
            ar = a[r]
            for k in range(inputs):
                ar[k] = x[s, k]
        _forward_rows(params, layers, alphas, z, a, rows, zero, two)
        total = 0.0
        for r in range(rows):
            s = order[start + r]
            t_row = y_dense[min(s, y_dense.shape[0] - 1)]
            label = y_index[min(s, y_index.shape[0] - 1)]
            total += _output_loss(
                z[r, out_col : out_col + out_units],
                a[r, out_col : out_col + out_units],
                t_row,
                label,
                loss_code,
                out_code,
                out_alpha,
                scale,
                delta[0, r, :out_units],
                preds[start + r],
            )
        cur = 0
        for layer in range(depth - 1, -1, -1):
            w_off, b_off, fan_in = layers[layer, 0], layers[layer, 1], layers[layer, 2]
            fan_out = layers[layer, 3]
            src = layers[layer - 1, 5] if layer > 0 else 0
            w = params[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out))
            gw = grads[w_off : w_off + fan_in * fan_out].reshape((fan_in, fan_out))
            code = layers[layer - 1, 4] if layer > 0 else LINEAR
            for r in range(rows):
                d = delta[cur, r, :fan_out]
                inp = a[r, src : src + fan_in]
                for k in range(fan_in):
                    xk = inp[k]
                    for j in range(fan_out):
                        gw[k, j] += xk * d[j]
                if b_off >= 0:
                    gb = grads[b_off : b_off + fan_out]
                    for j in range(fan_out):
                        gb[j] += d[j]
                if layer == 0:
                    continue
                below = delta[1 - cur, r, :fan_in]
                for k in range(fan_in):
                    acc = zero
                    for j in range(fan_out):
                        acc += w[k, j] * d[j]
                    below[k] = acc
                if code == TANH:
                    for k in range(fan_in):
                        v = inp[k]
                        below[k] *= one - v * v
                elif code == RELU:
                    for k in range(fan_in):
                        below[k] *= inp[k] > zero
                elif code != LINEAR:
                    _grad_row(z[r, src : src + fan_in], inp, below, below, code, alphas[layer - 1])
            cur = 1 - cur
        loss = total / (rows * out_units) if per_value else total / rows
        losses[bi] = loss
        optimizer_update(params, grads, slot1, slot2, opt_code, nesterov, consts[bi])
        if not np.isfinite(loss):
            return bi + 1
    return batch_count


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def train_epochs(
    params,
    grads,
    slot1,
    slot2,
    layers,
    alphas,
    x,
    y_dense,
    y_index,
    orders,
    batch_size,
    loss_code,
    opt_code,
    nesterov,
    consts,
    z,
    a,
    delta,
    preds,
    losses,
    x_val,
    val_preds,
    epoch_start,
):
    """Whole epochs in one call, so a small network needs the GIL once per many epochs: for
    each epoch e (orders (E, N)), `train_batches` over all its batches (consts rows
    e*B..(e+1)*B-1, preds[e], losses[e] of shape (E, B)), then the validation outputs of x_val
    (Nv, inputs; may have no rows) into val_preds[e]. epoch_start receives the weights at the
    start of the last epoch begun (to restore them after a non-finite loss). Returns the batches
    done in all: every one, or up to and including the first with a non-finite loss."""
    epochs = orders.shape[0]
    batches = losses.shape[1]
    for e in range(epochs):
        epoch_start[:] = params
        done = train_batches(
            params,
            grads,
            slot1,
            slot2,
            layers,
            alphas,
            x,
            y_dense,
            y_index,
            orders[e],
            0,
            batches,
            batch_size,
            loss_code,
            opt_code,
            nesterov,
            consts[e * batches : (e + 1) * batches],
            z,
            a,
            delta,
            preds[e],
            losses[e],
        )
        if done < batches or not np.isfinite(losses[e, done - 1]):
            return e * batches + done
        if x_val.shape[0] > 0:
            predict_rows(params, layers, alphas, x_val, z, a, val_preds[e])
    return epochs * batches


def train_batches_ref(
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
    z,
    a,
    delta,
    preds,
    losses,
):
    """NumPy twin of `train_batches`, batched (z, a and delta are not used)."""
    count, depth = order.shape[0], layers.shape[0]
    dtype = params.dtype.type
    for bi in range(batch_count):
        idx = order[(first_batch + bi) * batch_size : min((first_batch + bi + 1) * batch_size, count)]
        acts, pre = [x[idx]], []
        for w_off, b_off, fan_in, fan_out, code, _ in layers:
            zl = acts[-1] @ params[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
            if b_off >= 0:
                zl = zl + params[b_off : b_off + fan_out]
            pre.append(zl)
            acts.append(_act_ref(zl, code, alphas[len(pre) - 1]) if code >= 0 else zl)
        zl, al, rows = pre[-1], acts[-1], len(idx)
        if loss_code == MSE:
            t = y_dense[idx]
            value = float(np.sum((al - t).astype(np.float64) ** 2)) / al.size
            out = al
            d = (dtype(2.0) * (al - t) * dtype(1.0 / al.size)) * _derivative_ref(
                zl, al, layers[-1, 4], alphas[-1]
            )
        elif loss_code == BCE_LOGITS:
            t = y_dense[idx]
            value = float(np.mean(np.maximum(zl, 0) - zl * t + np.log1p(np.exp(-np.abs(zl)))))
            out = _sigmoid_ref(zl)
            d = (out - t) * dtype(1.0 / zl.size)
        else:
            t = y_dense[idx] if loss_code == DENSE_CE else np.eye(zl.shape[1], dtype=zl.dtype)[y_index[idx]]
            e = np.exp(zl - zl.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
            log_s = np.log(e.sum(axis=1, keepdims=True))
            value = float(np.sum(t * ((zl.max(axis=1, keepdims=True) - zl) + log_s))) / rows
            d = (out * t.sum(axis=1, keepdims=True) - t) * dtype(1.0 / rows)
        preds[(first_batch + bi) * batch_size :][:rows] = out
        for layer in range(depth - 1, -1, -1):
            w_off, b_off, fan_in, fan_out, _, _ = layers[layer]
            grads[w_off : w_off + fan_in * fan_out] = (acts[layer].T @ d).reshape(-1)
            if b_off >= 0:
                grads[b_off : b_off + fan_out] = d.sum(axis=0)
            if layer > 0:
                w = params[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
                d = (d @ w.T) * _derivative_ref(
                    pre[layer - 1], acts[layer], layers[layer - 1, 4], alphas[layer - 1]
                )
        losses[bi] = value
        c = consts[bi]
        if opt_code == SGD:
            sgd_update_ref(params, grads, slot1, c[0], c[1], slot1.shape[0] > 0, nesterov, c[-1])
        else:
            adam_update_ref(params, grads, slot1, slot2, params[:0], *c[:8], False, c[-1])
        if not np.isfinite(value):
            return bi + 1
    return batch_count
