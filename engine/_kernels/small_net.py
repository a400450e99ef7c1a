"""Whole chunks of training steps of a small dense network inside one Numba call.

For a chain of Dense layers with elementwise activations and a few units each, PyTorch-style
per-operation dispatch costs far more than the maths (PERF-NOTES: ≈ 250 µs per step in PyTorch,
≈ 4.5 µs per batch-10 step fused). `train_batches` runs many batches: forward, loss, backward
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
    _derivative_ref,
    _grad_row,
    _sigmoid,
    _sigmoid_ref,
)
from engine._kernels.optimizers import adam_update, adam_update_ref, sgd_update, sgd_update_ref

SOFTMAX = -1  # activation code of a softmax output (only with a cross-entropy loss)
MSE, BCE_LOGITS, SPARSE_CE, DENSE_CE = range(4)
SGD, ADAM = range(2)


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
