"""Pooling kernels over C-contiguous image batches `(N, C, H, W)`.

A window of `kh` × `kw` positions moves by `sh`, `sw`; the input is padded by `pt` rows at the
top and `pl` columns at the left (the bottom/right pads follow from the output size `out`'s
`(N, C, OH, OW)`). Padding is never a value: max pooling ignores it and the average counts only
the real values in each window (Keras "same"; PyTorch count_include_pad=False). Every window
holds at least one real value (window_geometry's "same" pads are smaller than the window).

Max pooling remembers, per output value, the offset `h * W + w` of its maximum in the input
plane (`argmax`, int32); ties go to the first maximum in row-major order and a NaN wins, as in
PyTorch. A 1-D signal `(N, C, L)` is pooled as `(N, C, 1, L)`.

Each kernel has a plain NumPy twin `<name>_ref` with the same signature and maths, for tests and
for dtypes Numba does not compile. Callers check shapes, dtypes and contiguity first.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine._kernels import FASTMATH

_U = np.uint64  # flat arrays read with unsigned indices: Numba then skips its negative-index test


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def max_pool(x, kh, kw, sh, sw, pt, pl, out, argmax):
    """out[n, c, i, j] = max of the window at (i*sh - pt, j*sw - pl); argmax its plane offset."""
    n_count, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    src, dst, where_dst = x.reshape(x.size), out.reshape(out.size), argmax.reshape(argmax.size)
    if sw == 1:
        _max_pool_columns(src, height, width, kh, kw, sh, pt, pl, out_h, out_w, dst, where_dst)
        return
    for p in range(n_count * channels):
        base, out_base = p * height * width, p * out_h * out_w
        for i in range(out_h):
            h0 = i * sh - pt
            h_lo, h_hi = max(h0, 0), min(h0 + kh, height)
            for j in range(out_w):
                w0 = j * sw - pl
                w_lo, w_hi = max(w0, 0), min(w0 + kw, width)
                where = h_lo * width + w_lo
                best = src[_U(base + where)]
                for h in range(h_lo, h_hi):
                    line = base + h * width
                    for w in range(w_lo, w_hi):
                        v = src[_U(line + w)]
                        if v > best or v != v:
                            best = v
                            where = h * width + w
                dst[_U(out_base + i * out_w + j)] = best
                where_dst[_U(out_base + i * out_w + j)] = where


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def _max_pool_columns(src, height, width, kh, kw, sh, pt, pl, out_h, out_w, dst, where_dst):
    """max_pool at column stride 1 over flat arrays: each window row's offset b is one pass over
    a whole output row, contiguous in the input, which the compiler vectorizes (about 4x the
    window-by-window loop). Each window still sees its values in row-major order."""
    t = dst.dtype.type
    for p in range(dst.size // (out_h * out_w)):
        base, out_base = p * height * width, p * out_h * out_w
        for i in range(out_h):
            h0 = i * sh - pt
            h_lo, h_hi = max(h0, 0), min(h0 + kh, height)
            o = out_base + i * out_w
            for j in range(out_w):
                dst[_U(o + j)] = -t(np.inf)
                where_dst[_U(o + j)] = h_lo * width + max(j - pl, 0)
            for h in range(h_lo, h_hi):
                line = base + h * width
                for b in range(kw):
                    off = b - pl  # window column b of output column j reads column j + off
                    for j in range(max(-off, 0), min(width - off, out_w)):
                        v = src[_U(line + j + off)]
                        best = dst[_U(o + j)]
                        take = (v > best) | (v != v)
                        dst[_U(o + j)] = v if take else best
                        where_dst[_U(o + j)] = h * width + j + off if take else where_dst[_U(o + j)]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def max_pool_backward(grad_out, argmax, grad_x):
    """grad_x (N, C, H, W) = each output gradient added at its window's maximum (zeros elsewhere)."""
    n_count, channels, height, width = grad_x.shape
    out_h, out_w = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0.0)
    dst, src, where = (
        grad_x.reshape(grad_x.size),
        grad_out.reshape(grad_out.size),
        argmax.reshape(argmax.size),
    )
    for k in range(grad_x.size):
        dst[_U(k)] = zero
    for p in range(n_count * channels):
        base, out_base = p * height * width, p * out_h * out_w
        for k in range(out_base, out_base + out_h * out_w):
            dst[_U(base + where[_U(k)])] += src[_U(k)]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def avg_pool(x, kh, kw, sh, sw, pt, pl, out):
    """out[n, c, i, j] = mean of the real values in the window at (i*sh - pt, j*sw - pl)."""
    n_count, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    t = out.dtype.type
    src, dst = x.reshape(x.size), out.reshape(out.size)
    for p in range(n_count * channels):
        base, out_base = p * height * width, p * out_h * out_w
        for i in range(out_h):
            h0 = i * sh - pt
            h_lo, h_hi = max(h0, 0), min(h0 + kh, height)
            for j in range(out_w):
                w0 = j * sw - pl
                w_lo, w_hi = max(w0, 0), min(w0 + kw, width)
                total = t(0.0)
                for h in range(h_lo, h_hi):
                    line = base + h * width
                    for w in range(w_lo, w_hi):
                        total += src[_U(line + w)]
                dst[_U(out_base + i * out_w + j)] = total / t((h_hi - h_lo) * (w_hi - w_lo))


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def avg_pool_backward(grad_out, kh, kw, sh, sw, pt, pl, grad_x):
    """grad_x (N, C, H, W): each output gradient spread evenly over its window's real values."""
    n_count, channels, height, width = grad_x.shape
    out_h, out_w = grad_out.shape[2], grad_out.shape[3]
    t = grad_x.dtype.type
    zero = t(0.0)
    dst, src = grad_x.reshape(grad_x.size), grad_out.reshape(grad_out.size)
    for k in range(grad_x.size):
        dst[_U(k)] = zero
    for p in range(n_count * channels):
        base, out_base = p * height * width, p * out_h * out_w
        for i in range(out_h):
            h0 = i * sh - pt
            h_lo, h_hi = max(h0, 0), min(h0 + kh, height)
            for j in range(out_w):
                w0 = j * sw - pl
                w_lo, w_hi = max(w0, 0), min(w0 + kw, width)
                share = src[_U(out_base + i * out_w + j)] / t((h_hi - h_lo) * (w_hi - w_lo))
                for h in range(h_lo, h_hi):
                    line = base + h * width
                    for w in range(w_lo, w_hi):
                        dst[_U(line + w)] += share


# The usual 2 x 2 window at stride 2: the fixed geometry lets the compiler unroll and vectorize
# what the general kernels above loop over (20-40x faster). Without a top/left pad the windows
# start at (2i, 2j); "same" on an odd size adds one output row / column whose windows hold one
# real row / column (the pad below / right of the image), handled after the full windows.
@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def max_pool_2x2(x, out, argmax):
    """max_pool with 2 x 2 windows at stride 2 starting at (2i, 2j): OH <= ceil(H / 2), OW <=
    ceil(W / 2) (a last window past the image keeps its real values only)."""
    n_count, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    full_h, full_w = min(out_h, height // 2), min(out_w, width // 2)
    for n in range(n_count):
        for c in range(channels):
            for i in range(full_h):
                top, bottom = x[n, c, 2 * i], x[n, c, 2 * i + 1]
                row, where_row = out[n, c, i], argmax[n, c, i]
                base = 2 * i * width
                for j in range(full_w):
                    best = top[2 * j]
                    where = base + 2 * j
                    v = top[2 * j + 1]
                    if v > best or v != v:
                        best = v
                        where = base + 2 * j + 1
                    v = bottom[2 * j]
                    if v > best or v != v:
                        best = v
                        where = base + width + 2 * j
                    v = bottom[2 * j + 1]
                    if v > best or v != v:
                        best = v
                        where = base + width + 2 * j + 1
                    row[j] = best
                    where_row[j] = where
                for j in range(full_w, out_w):  # the last column alone
                    best, where = top[2 * j], base + 2 * j
                    v = bottom[2 * j]
                    if v > best or v != v:
                        best, where = v, base + width + 2 * j
                    row[j] = best
                    where_row[j] = where
            for i in range(full_h, out_h):  # the last row alone
                top = x[n, c, 2 * i]
                row, where_row = out[n, c, i], argmax[n, c, i]
                base = 2 * i * width
                for j in range(out_w):
                    best, where = top[2 * j], base + 2 * j
                    if 2 * j + 1 < width:
                        v = top[2 * j + 1]
                        if v > best or v != v:
                            best, where = v, base + 2 * j + 1
                    row[j] = best
                    where_row[j] = where


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def avg_pool_2x2(x, out):
    """avg_pool with 2 x 2 windows at stride 2 starting at (2i, 2j), as max_pool_2x2."""
    n_count, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    full_h, full_w = min(out_h, height // 2), min(out_w, width // 2)
    t = out.dtype.type
    quarter, half = t(0.25), t(0.5)
    for n in range(n_count):
        for c in range(channels):
            for i in range(full_h):
                top, bottom = x[n, c, 2 * i], x[n, c, 2 * i + 1]
                row = out[n, c, i]
                for j in range(full_w):
                    row[j] = (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]) * quarter
                for j in range(full_w, out_w):
                    row[j] = (top[2 * j] + bottom[2 * j]) * half
            for i in range(full_h, out_h):
                top = x[n, c, 2 * i]
                row = out[n, c, i]
                for j in range(full_w):
                    row[j] = (top[2 * j] + top[2 * j + 1]) * half
                for j in range(full_w, out_w):
                    row[j] = top[2 * j]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def avg_pool_2x2_backward(grad_out, grad_x):
    """avg_pool_backward with 2 x 2 windows at stride 2 starting at (2i, 2j), as max_pool_2x2."""
    n_count, channels, height, width = grad_x.shape
    out_h, out_w = grad_out.shape[2], grad_out.shape[3]
    full_h, full_w = min(out_h, height // 2), min(out_w, width // 2)
    t = grad_x.dtype.type
    quarter, half, zero = t(0.25), t(0.5), t(0.0)
    for n in range(n_count):
        for c in range(channels):
            plane = grad_x[n, c]
            for h in range(min(2 * out_h, height), height):  # a row / column no window reaches
                for w in range(width):
                    plane[h, w] = zero
            for h in range(min(2 * out_h, height)):
                for w in range(min(2 * out_w, width), width):
                    plane[h, w] = zero
            for i in range(full_h):
                g = grad_out[n, c, i]
                top, bottom = plane[2 * i], plane[2 * i + 1]
                for j in range(full_w):
                    share = g[j] * quarter
                    top[2 * j] = share
                    top[2 * j + 1] = share
                    bottom[2 * j] = share
                    bottom[2 * j + 1] = share
                for j in range(full_w, out_w):
                    top[2 * j] = g[j] * half
                    bottom[2 * j] = g[j] * half
            for i in range(full_h, out_h):
                g = grad_out[n, c, i]
                top = plane[2 * i]
                for j in range(full_w):
                    top[2 * j] = g[j] * half
                    top[2 * j + 1] = g[j] * half
                for j in range(full_w, out_w):
                    top[2 * j] = g[j]


# ----------------------------------------------------------------------- NumPy twins
def _window_offsets(kh, kw, sh, sw, pt, pl, x_shape, out_shape):
    """For each window offset (a, b): the output rows/cols whose window position is real, as
    slices of the output and of the input."""
    height, width = x_shape[2], x_shape[3]
    out_h, out_w = out_shape[2], out_shape[3]
    for a in range(kh):
        rows = [i for i in range(out_h) if 0 <= i * sh - pt + a < height]
        for b in range(kw):
            cols = [j for j in range(out_w) if 0 <= j * sw - pl + b < width]
            if rows and cols:
                yield (
                    slice(rows[0], rows[-1] + 1),
                    slice(cols[0], cols[-1] + 1),
                    slice(rows[0] * sh - pt + a, rows[-1] * sh - pt + a + 1, sh),
                    slice(cols[0] * sw - pl + b, cols[-1] * sw - pl + b + 1, sw),
                )


def max_pool_ref(x, kh, kw, sh, sw, pt, pl, out, argmax):
    width = x.shape[3]
    best = np.full(out.shape, -np.inf, dtype=x.dtype)
    where = np.full(out.shape, -1, dtype=np.int64)
    h_idx = np.arange(x.shape[2])[:, None] * width
    w_idx = np.arange(width)[None, :]
    plane_index = np.broadcast_to(h_idx + w_idx, x.shape)
    for out_i, out_j, in_i, in_j in _window_offsets(kh, kw, sh, sw, pt, pl, x.shape, out.shape):
        v = x[:, :, in_i, in_j]
        b = best[:, :, out_i, out_j]
        w = where[:, :, out_i, out_j]
        take = (v > b) | np.isnan(v) | (w < 0)
        b[take] = v[take]
        w[take] = plane_index[:, :, in_i, in_j][take]
    out[...] = best
    argmax[...] = where


def max_pool_backward_ref(grad_out, argmax, grad_x):
    n_count, channels, height, width = grad_x.shape
    flat = np.zeros((n_count * channels, height * width), dtype=grad_x.dtype)
    rows = np.repeat(np.arange(n_count * channels), grad_out[0, 0].size)
    np.add.at(flat, (rows, argmax.reshape(-1)), grad_out.reshape(-1))
    grad_x[...] = flat.reshape(grad_x.shape)


def _counts(kh, kw, sh, sw, pt, pl, x_shape, out_shape):
    ones = np.ones((1, 1, *x_shape[2:]))
    counts = np.zeros((1, 1, *out_shape[2:]))
    for out_i, out_j, in_i, in_j in _window_offsets(kh, kw, sh, sw, pt, pl, x_shape, out_shape):
        counts[:, :, out_i, out_j] += ones[:, :, in_i, in_j]
    return counts


def avg_pool_ref(x, kh, kw, sh, sw, pt, pl, out):
    total = np.zeros(out.shape, dtype=np.float64)
    for out_i, out_j, in_i, in_j in _window_offsets(kh, kw, sh, sw, pt, pl, x.shape, out.shape):
        total[:, :, out_i, out_j] += x[:, :, in_i, in_j]
    out[...] = total / _counts(kh, kw, sh, sw, pt, pl, x.shape, out.shape)


def avg_pool_backward_ref(grad_out, kh, kw, sh, sw, pt, pl, grad_x):
    share = grad_out / _counts(kh, kw, sh, sw, pt, pl, grad_x.shape, grad_out.shape)
    total = np.zeros(grad_x.shape, dtype=np.float64)
    for out_i, out_j, in_i, in_j in _window_offsets(kh, kw, sh, sw, pt, pl, grad_x.shape, grad_out.shape):
        total[:, :, in_i, in_j] += share[:, :, out_i, out_j]
    grad_x[...] = total


def max_pool_2x2_ref(x, out, argmax):
    max_pool_ref(x, 2, 2, 2, 2, 0, 0, out, argmax)


def avg_pool_2x2_ref(x, out):
    avg_pool_ref(x, 2, 2, 2, 2, 0, 0, out)


def avg_pool_2x2_backward_ref(grad_out, grad_x):
    avg_pool_backward_ref(grad_out, 2, 2, 2, 2, 0, 0, grad_x)
