"""Convolution kernels: im2col / col2im and the fused bias + activation around the matrix products.

Layout: the layer works through its batch in chunks of a few samples, small enough that a chunk's
columns and products stay in the core's cache (engine/layers/conv.py). A chunk `x` `(n, C, H, W)`
becomes the columns `cols` `(C*kh*kw, n*oh*ow)` (row `(c*kh + i)*kw + j` holds, for every sample
and output position, the input value under kernel tap (c, i, j), 0 in the padding). The forward is
then `z = kernel (F, C*kh*kw) @ cols` -> `(F, n*oh*ow)`; the kernel gradient
`grad_z (F, n*oh*ow) @ cols.T`; the columns' gradient `kernel.T @ grad_z`, which col2im adds back
onto the input positions. The fused kernels here move between that filter-major layout and the
channels-first `(n, F, oh*ow)` the layer keeps and the next layer reads, adding the bias and
applying the activation (or its derivative) in the same pass, with contiguous runs of `oh*ow`
values. Padding and dilation are handled in the index arithmetic (no padded copy).

Geometry arguments, in order: kh, kw (kernel), sh, sw (strides), dh, dw (dilation), pt, pl (zeros
before the first row / column; the ones after follow from the output size), oh, ow (output size).
The public caller (engine/layers/conv.py) checks every shape first: Numba does not bounds-check.
Each kernel has a plain NumPy twin `<name>_ref` with the same signature, for tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH
from engine._kernels.activations import LINEAR, _act_ref, _act_row, _derivative_ref, _grad_row
from engine._kernels.blas import matmul


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _valid_range(size, start, stride, out):
    """The output positions o in [lo, hi) whose input index start + o*stride lies in [0, size)."""
    lo = 0
    if start < 0:
        lo = (-start + stride - 1) // stride
    hi = out
    last = size - 1 - start  # o*stride <= last
    if last < 0:
        hi = 0
    elif last // stride + 1 < out:
        hi = last // stride + 1
    if hi < lo:
        hi = lo
    return lo, hi


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def im2col(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    """cols (C*kh*kw, n*oh*ow) from x (n, C, H, W): cols[(c*kh+i)*kw+j, (m*oh+y)*ow+q] =
    x[m, c, y*sh + i*dh - pt, q*sw + j*dw - pl], 0 outside the input. Both C-contiguous: they are
    read as flat arrays with unsigned indices (a signed index makes Numba test for negative
    indices on every element, which keeps the copy loops scalar: 7x slower)."""
    samples, channels, height, width = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    zero = cols.dtype.type(0.0)
    src = x.reshape(x.size)
    dst = cols.reshape(cols.size)
    for c in range(channels):
        for i in range(kh):
            y_lo, y_hi = _valid_range(height, i * dh - pt, sh, oh)
            for j in range(kw):
                row = ((c * kh + i) * kw + j) * cols.shape[1]
                x0 = j * dw - pl
                q_lo, q_hi = _valid_range(width, x0, sw, ow)
                for n in range(samples):
                    for y in range(oh):
                        d = np.uint64(row + (n * oh + y) * ow)
                        if y < y_lo or y >= y_hi:
                            for q in range(ow):
                                dst[d + np.uint64(q)] = zero
                            continue
                        line = np.int64(((n * channels + c) * height + y * sh + i * dh - pt) * width + x0)
                        for q in range(q_lo):
                            dst[d + np.uint64(q)] = zero
                        for q in range(q_lo, q_hi):
                            dst[d + np.uint64(q)] = src[np.uint64(line + q * sw)]
                        for q in range(q_hi, ow):
                            dst[d + np.uint64(q)] = zero


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def col2im(cols, gx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    """gx (n, C, H, W) = the sum, over every kernel tap and output position, of the column value
    at the input position it was read from (the transpose of im2col; padding drops out). Flat
    unsigned indexing as in im2col."""
    samples, channels, height, width = gx.shape[0], gx.shape[1], gx.shape[2], gx.shape[3]
    src = cols.reshape(cols.size)
    dst = gx.reshape(gx.size)
    for k in range(gx.size):
        dst[k] = 0.0
    for c in range(channels):
        for i in range(kh):
            y_lo, y_hi = _valid_range(height, i * dh - pt, sh, oh)
            for j in range(kw):
                row = ((c * kh + i) * kw + j) * cols.shape[1]
                x0 = j * dw - pl
                q_lo, q_hi = _valid_range(width, x0, sw, ow)
                for n in range(samples):
                    for y in range(y_lo, y_hi):
                        d = np.uint64(row + (n * oh + y) * ow)
                        line = np.int64(((n * channels + c) * height + y * sh + i * dh - pt) * width + x0)
                        for q in range(q_lo, q_hi):
                            dst[np.uint64(line + q * sw)] += src[d + np.uint64(q)]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def bias_act_to_images(z, bias, pre, out, act_code, alpha):
    """out (n, F, P) = act(z + bias) moved to channels-first: out[m, f, p] = act(z[f, m*P + p] +
    bias[f]), from the products z (F, n*P) (read only); bias (F,) or (0,): none. pre (n, F, P)
    keeps the biased pre-activation z + bias, or is (0, F, P): not kept."""
    samples, filters, positions = out.shape[0], out.shape[1], out.shape[2]
    has_bias, keep = bias.shape[0] > 0, pre.shape[0] > 0
    for f in range(filters):
        b = bias[f] if has_bias else z.dtype.type(0.0)
        for n in range(samples):
            src = z[f, n * positions : (n + 1) * positions]
            dst = out[n, f]
            for p in range(positions):
                dst[p] = src[p] + b
            if keep:
                kept = pre[n, f]
                for p in range(positions):
                    kept[p] = dst[p]
            if act_code != LINEAR:
                _act_row(dst, act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def act_grad_to_rows(pre, a, grad_a, grad_z, grad_bias, act_code, alpha):
    """grad_z (F, n*P) = grad_a (n, F, P) * act'(pre) moved to the filter-major layout, with pre
    (n, F, P) the biased pre-activation and a (n, F, P) = act(pre) (both unread when act_code is
    LINEAR); grad_bias (F,) += each filter's sum over these samples ((0,): not wanted)."""
    samples, filters, positions = grad_a.shape[0], grad_a.shape[1], grad_a.shape[2]
    want_bias = grad_bias.shape[0] > 0
    for f in range(filters):
        total = grad_z.dtype.type(0.0)
        for n in range(samples):
            lo = n * positions
            gz = grad_z[f, lo : lo + positions]
            if act_code == LINEAR:
                _grad_row(grad_a[n, f], grad_a[n, f], grad_a[n, f], gz, LINEAR, alpha)
            else:
                _grad_row(pre[n, f], a[n, f], grad_a[n, f], gz, act_code, alpha)
            if want_bias:  # summed while the row is still in cache
                for p in range(positions):
                    total += gz[p]
        if want_bias:
            grad_bias[f] += total


# ------------------------------------------------ a range of samples, chunk by chunk, in one call
# Each chunk from Python cost three kernel calls and a product, each with its dispatch, and held
# the GIL between them while the other core waited for it: ~18 us a chunk, 0.4 ms of conv 2's
# forward of 4.6 on one core (docs/performance.md). These make the same calls from Numba, the
# products through NumPy's own BLAS (`engine._kernels.blas`, only where `blas.AVAILABLE`).
# `chunk` samples at a time; cols_buf, z_buf: flat scratch of at least C*kh*kw * chunk*oh*ow and
# F * chunk*oh*ow values. The Python twins below (`forward_range_steps`, ...) make the same
# calls one by one, with the kernels given: the compiled ones where NumPy's BLAS is not
# reachable from Numba, the NumPy twins for tests and for dtypes Numba does not compile.


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def _chunk_views(cols_buf, z_buf, taps, filters, rows):
    return cols_buf[: taps * rows].reshape((taps, rows)), z_buf[: filters * rows].reshape((filters, rows))


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def forward_range(
    x, kernel, bias, pre, out, cols_buf, z_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow
):
    """bias_act_to_images(kernel (F, C*kh*kw) @ im2col(x), bias, pre, out) for images x (n, C,
    H, W), chunk by chunk; pre as there ((0, F, P): not kept)."""
    samples, keep = x.shape[0], pre.shape[0] > 0
    for start in range(0, samples, chunk):
        end = min(start + chunk, samples)
        cols, z = _chunk_views(cols_buf, z_buf, kernel.shape[1], kernel.shape[0], (end - start) * oh * ow)
        im2col(x[start:end], cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
        matmul(kernel, cols, z, False, False)
        bias_act_to_images(z, bias, pre[start:end] if keep else pre, out[start:end], act_code, alpha)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def backward_range(x, pre, a, grad_a, kernel, grad_x, kernel_sum, chunk_kernel, bias_sum, cols_buf, z_buf, chunk, act_code, alpha, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):  # fmt: skip
    """The gradients of forward_range over images x (n, C, H, W) from grad_a (n, F, P):
    kernel_sum (C*kh*kw, F) = the kernel gradient, transposed (chunk_kernel: scratch of its
    shape); bias_sum (F,) += the bias gradient ((0,): not wanted); grad_x (n, C, H, W) = the
    input gradient ((0, C, H, W): not wanted). pre, a and act_code as in act_grad_to_rows."""
    samples = x.shape[0]
    for start in range(0, samples, chunk):
        end = min(start + chunk, samples)
        cols, grad_z = _chunk_views(
            cols_buf, z_buf, kernel.shape[1], kernel.shape[0], (end - start) * oh * ow
        )
        act_grad_to_rows(pre[start:end], a[start:end], grad_a[start:end], grad_z, bias_sum, act_code, alpha)
        chunk_gradients(x[start:end], grad_z, cols, kernel, start == 0, kernel_sum, chunk_kernel, grad_x[start:end], kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def chunk_gradients(x, grad_z, cols, kernel, first, kernel_sum, chunk_kernel, grad_x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):  # fmt: skip
    """A chunk's share of the kernel and input gradients from its pre-activation gradient grad_z
    (F, n*P): the columns of x (n, C, H, W) again into cols, then kernel_sum = (first chunk) or
    += cols @ grad_z.T, and unless grad_x has no samples, grad_x = col2im(kernel.T @ grad_z)."""
    im2col(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    if first:
        matmul(cols, grad_z, kernel_sum, False, True)
    else:
        matmul(cols, grad_z, chunk_kernel, False, True)
        kernel_sum += chunk_kernel
    if grad_x.shape[0] > 0:  # the columns' gradient, over the columns just read
        matmul(kernel, grad_z, cols, True, False)
        col2im(cols, grad_x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)


# ---------------------------------------------------------------- NumPy twins
def _tap_indices(size, kernel, stride, dilation, pad, out):
    """(kernel, out) input indices of every tap and output position, and whether each is inside."""
    idx = np.arange(kernel)[:, None] * dilation + np.arange(out)[None, :] * stride - pad
    return idx, (idx >= 0) & (idx < size)


def im2col_ref(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    n_batch, channels, height, width = x.shape
    ys, y_in = _tap_indices(height, kh, sh, dh, pt, oh)
    xs, x_in = _tap_indices(width, kw, sw, dw, pl, ow)
    # (n, C, kh, oh, kw, ow) gathered with clipped indices, then zeroed outside
    g = x[:, :, np.clip(ys, 0, height - 1)][:, :, :, :, np.clip(xs, 0, width - 1)]
    g = g * (y_in[:, :, None, None] & x_in[None, None, :, :])
    cols[...] = g.transpose(1, 2, 4, 0, 3, 5).reshape(cols.shape)


def col2im_ref(cols, gx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    n_batch, channels, height, width = gx.shape
    ys, y_in = _tap_indices(height, kh, sh, dh, pt, oh)
    xs, x_in = _tap_indices(width, kw, sw, dw, pl, ow)
    g = cols.reshape(channels, kh, kw, n_batch, oh, ow).transpose(3, 0, 1, 4, 2, 5)
    g = g * (y_in[:, :, None, None] & x_in[None, None, :, :])
    padded = np.zeros((n_batch, channels, height + 1, width + 1), gx.dtype)  # row/col H, W: sink
    yy = np.where(y_in, ys, height)[:, :, None, None]
    xx = np.where(x_in, xs, width)[None, None, :, :]
    np.add.at(padded, (slice(None), slice(None), yy, xx), g)
    gx[...] = padded[:, :, :height, :width]


def bias_act_to_images_ref(z, bias, pre, out, act_code, alpha):
    n_batch, filters, positions = out.shape
    z = z + bias[:, None] if bias.shape[0] > 0 else z
    if pre.shape[0] > 0:
        pre[...] = z.reshape(filters, n_batch, positions).transpose(1, 0, 2)
    out[...] = _act_ref(z, act_code, alpha).reshape(filters, n_batch, positions).transpose(1, 0, 2)


def act_grad_to_rows_ref(pre, a, grad_a, grad_z, grad_bias, act_code, alpha):
    n_batch, filters, positions = grad_a.shape
    g = grad_a.transpose(1, 0, 2).reshape(filters, -1)
    if act_code != LINEAR:
        z = pre.transpose(1, 0, 2).reshape(filters, -1)
        g = g * _derivative_ref(z, a.transpose(1, 0, 2).reshape(filters, -1), act_code, alpha)
    grad_z[...] = g
    if grad_bias.shape[0] > 0:
        grad_bias += grad_z.sum(axis=1)


def _range_steps(im2col_kernel, col2im_kernel, bias_act_kernel, act_grad_kernel):
    """forward_range and backward_range as Python loops over the kernels given."""

    def views(cols_buf, z_buf, kernel, rows):
        taps, filters = kernel.shape[1], kernel.shape[0]
        return cols_buf[: taps * rows].reshape(taps, rows), z_buf[: filters * rows].reshape(filters, rows)

    def forward(x, kernel, bias, pre, out, cols_buf, z_buf, chunk, act_code, alpha, *geometry):
        keep = pre.shape[0] > 0
        for start in range(0, x.shape[0], chunk):
            end = min(start + chunk, x.shape[0])
            cols, z = views(cols_buf, z_buf, kernel, (end - start) * geometry[-2] * geometry[-1])
            im2col_kernel(x[start:end], cols, *geometry)
            np.matmul(kernel, cols, out=z)
            bias_act_kernel(z, bias, pre[start:end] if keep else pre, out[start:end], act_code, alpha)

    def backward(
        x,
        pre,
        a,
        grad_a,
        kernel,
        grad_x,
        kernel_sum,
        chunk_kernel,
        bias_sum,
        cols_buf,
        z_buf,
        chunk,
        act_code,
        alpha,
        *geometry,
    ):
        for start in range(0, x.shape[0], chunk):
            end = min(start + chunk, x.shape[0])
            cols, grad_z = views(cols_buf, z_buf, kernel, (end - start) * geometry[-2] * geometry[-1])
            act_grad_kernel(
                pre[start:end], a[start:end], grad_a[start:end], grad_z, bias_sum, act_code, alpha
            )
            im2col_kernel(x[start:end], cols, *geometry)
            np.matmul(cols, grad_z.T, out=kernel_sum if start == 0 else chunk_kernel)
            if start > 0:
                kernel_sum += chunk_kernel
            if grad_x.shape[0] > 0:
                np.matmul(kernel.T, grad_z, out=cols)
                col2im_kernel(cols, grad_x[start:end], *geometry)

    return forward, backward


forward_range_steps, backward_range_steps = _range_steps(im2col, col2im, bias_act_to_images, act_grad_to_rows)
forward_range_ref, backward_range_ref = _range_steps(
    im2col_ref, col2im_ref, bias_act_to_images_ref, act_grad_to_rows_ref
)
