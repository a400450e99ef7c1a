"""A convolution and the max pooling that alone reads it, in one pass over each chunk.

Run apart, a convolution writes its whole activated output `(N, F, H, W)` to memory, the pooling
reads it back, and in backward the pooling writes a gradient of that size (mostly zeros) that
the convolution reads again with the output: four passes over the largest arrays of a CNN's
step (conv 1 of mnist_cnn: 5.5 MiB each), none of which the cache holds. Here each chunk's
products, in cache (engine/_kernels/conv.py says the layout), are biased, activated and pooled
at once, and only the pooled output and its argmax leave the chunk. Backward builds the chunk's
pre-activation gradient straight from the pooled gradient: zero but at each window's maximum,
where it is the pooled gradient times the activation's derivative, taken from the output there,
which is the pooled value (so only activations in DERIVATIVE_FROM_OUTPUT qualify).

The pooling sees exactly the values the two layers apart see, in the same order, so the pooled
output and argmax are bit for bit theirs, and so are the gradients where windows do not overlap
(where they do, g1*d + g2*d here against (g1 + g2)*d apart).

Arguments as in engine/_kernels/conv.py (`forward_range`, `backward_range`), and: pooled (n, F,
OH, OW), argmax (n, F, OH, OW) int32 (the window maximum's offset in its (H, W) plane, as
engine/_kernels/pooling.py keeps it); pool_buf, where_buf: flat scratch of at least F *
chunk*OH*OW values (pooled's dtype, int32); the pooling window pkh, pkw, psh, psw, ppt, ppl,
or `pairs` for 2 x 2 windows at stride 2 without padding before. Only where `blas.AVAILABLE`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH
from engine._kernels import conv as _conv
from engine._kernels import pooling as _pool
from engine._kernels.activations import LINEAR, _act_ref, _act_row, _derivative_ref, _grad_row
from engine._kernels.blas import matmul


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def _bias_act_rows(z, bias, act_code, alpha):
    """z (F, m) = act(z + bias[f]) in place, row by row ((0,) bias: none)."""
    has_bias = bias.shape[0] > 0
    for f in range(z.shape[0]):
        row = z[f]
        if has_bias:
            b = bias[f]
            for p in range(row.shape[0]):
                row[p] += b
        if act_code != LINEAR:
            _act_row(row, act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def pooled_forward_range(x, kernel, bias, pooled, argmax, cols_buf, z_buf, pool_buf, where_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pkh, pkw, psh, psw, ppt, ppl, pairs):  # fmt: skip
    """pooled, argmax = max_pool(act(kernel @ im2col(x) + bias)) for images x (n, C, H, W)."""
    samples, filters = x.shape[0], kernel.shape[0]
    pooled_h, pooled_w = pooled.shape[2], pooled.shape[3]
    for start in range(0, samples, chunk):
        end = min(start + chunk, samples)
        n = end - start
        cols, z = _conv._chunk_views(cols_buf, z_buf, kernel.shape[1], filters, n * oh * ow)
        _conv.im2col(x[start:end], cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
        matmul(kernel, cols, z, False, False)
        _bias_act_rows(z, bias, act_code, alpha)
        planes = z.reshape((filters, n, oh, ow))  # filter-major: each (f, m) plane contiguous
        size = filters * n * pooled_h * pooled_w
        best = pool_buf[:size].reshape((filters, n, pooled_h, pooled_w))
        where = where_buf[:size].reshape((filters, n, pooled_h, pooled_w))
        if pairs:
            _pool.max_pool_2x2(planes, best, where)
        else:
            _pool.max_pool(planes, pkh, pkw, psh, psw, ppt, ppl, best, where)
        for f in range(filters):
            for m in range(n):
                pooled[start + m, f] = best[f, m]
                argmax[start + m, f] = where[f, m]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def pooled_backward_range(x, pooled, argmax, grad_pooled, kernel, grad_x, kernel_sum, chunk_kernel, bias_sum, cols_buf, z_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):  # fmt: skip
    """The gradients of pooled_forward_range from grad_pooled (n, F, OH, OW), as
    `engine._kernels.conv.backward_range` returns them (kernel_sum transposed, bias_sum added
    to, grad_x (0, C, H, W): not wanted)."""
    samples, filters, positions = x.shape[0], kernel.shape[0], oh * ow
    pooled_positions = pooled.shape[2] * pooled.shape[3]
    want_bias = bias_sum.shape[0] > 0
    scaled = np.empty(pooled_positions, pooled.dtype)
    for start in range(0, samples, chunk):
        end = min(start + chunk, samples)
        n = end - start
        cols, grad_z = _conv._chunk_views(cols_buf, z_buf, kernel.shape[1], filters, n * positions)
        grad_z[...] = 0.0
        for f in range(filters):
            total = grad_z.dtype.type(0.0)
            for m in range(n):
                value = pooled[start + m, f].reshape(pooled_positions)
                where = argmax[start + m, f].reshape(pooled_positions)
                _grad_row(
                    value, value, grad_pooled[start + m, f].reshape(pooled_positions), scaled, act_code, alpha
                )
                row = grad_z[f, m * positions : (m + 1) * positions]
                for o in range(pooled_positions):
                    row[where[o]] += scaled[o]
                if want_bias:  # in position order, as act_grad_to_rows sums
                    for p in range(positions):
                        total += row[p]
            if want_bias:
                bias_sum[f] += total
        _conv.chunk_gradients(x[start:end], grad_z, cols, kernel, start == 0, kernel_sum, chunk_kernel, grad_x[start:end], kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)  # fmt: skip


# ---------------------------------------------------------------- NumPy twins
def pooled_forward_range_ref(x, kernel, bias, pooled, argmax, cols_buf, z_buf, pool_buf, where_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pkh, pkw, psh, psw, ppt, ppl, pairs):  # fmt: skip
    filters, samples = kernel.shape[0], x.shape[0]
    cols = np.empty((kernel.shape[1], samples * oh * ow), x.dtype)
    _conv.im2col_ref(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    z = kernel @ cols + (bias[:, None] if bias.shape[0] > 0 else 0)
    images = _act_ref(z, act_code, alpha).reshape(filters, samples, oh, ow).transpose(1, 0, 2, 3)
    window = (2, 2, 2, 2, 0, 0) if pairs else (pkh, pkw, psh, psw, ppt, ppl)
    _pool.max_pool_ref(np.ascontiguousarray(images), *window, pooled, argmax)


def pooled_backward_range_ref(x, pooled, argmax, grad_pooled, kernel, grad_x, kernel_sum, chunk_kernel, bias_sum, cols_buf, z_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):  # fmt: skip
    samples, filters = x.shape[0], kernel.shape[0]
    grad_a = np.empty((samples, filters, oh, ow), x.dtype)
    _pool.max_pool_backward_ref(
        grad_pooled * _derivative_ref(pooled, pooled, act_code, alpha), argmax, grad_a
    )
    grad_z = grad_a.transpose(1, 0, 2, 3).reshape(filters, -1)
    cols = np.empty((kernel.shape[1], samples * oh * ow), x.dtype)
    _conv.im2col_ref(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    kernel_sum[...] = cols @ grad_z.T
    if bias_sum.shape[0] > 0:
        bias_sum += grad_z.sum(axis=1)
    if grad_x.shape[0] > 0:
        _conv.col2im_ref(kernel.T @ grad_z, grad_x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
