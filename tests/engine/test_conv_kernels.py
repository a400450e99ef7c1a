"""The convolution kernels against their NumPy twins, in float32 and float64, over strides,
paddings (including an odd total pad) and dilations."""

from __future__ import annotations

import numpy as np
import pytest

from engine._kernels import activations as act
from engine._kernels import blas
from engine._kernels import conv as k
from engine.layers.window_geometry import windows

# (input (C, H, W), kernel (kh, kw), strides, dilation, padding)
GEOMETRIES = [
    ((2, 7, 6), (3, 3), (1, 1), (1, 1), "valid"),
    ((2, 7, 6), (3, 2), (2, 1), (1, 2), "same"),
    ((1, 8, 9), (2, 3), (2, 2), (2, 1), "same"),  # odd total pads: the extra row/column after
    ((3, 5, 5), (1, 1), (3, 2), (1, 1), "valid"),
    ((2, 6, 7), (3, 3), (1, 2), (2, 2), "same"),
    ((1, 3, 4), (4, 5), (1, 1), (1, 1), "same"),  # window larger than the image
]


def kernel_geometry(shape, kernel, strides, dilation, padding):
    """The kernels' geometry arguments (kh, kw, sh, sw, dh, dw, pt, pl, oh, ow) of a convolution."""
    h, w = windows(shape[1:], kernel, strides, dilation, padding, "test")
    return (
        h.kernel,
        w.kernel,
        h.stride,
        w.stride,
        h.dilation,
        w.dilation,
        h.pad_before,
        w.pad_before,
        h.out,
        w.out,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_im2col_and_col2im_match_their_twins(geometry, dtype):
    shape = geometry[0]
    args = kernel_geometry(*geometry)
    kh, kw, *_, oh, ow = args
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, *shape)).astype(dtype)
    cols, cols_ref = (np.full((shape[0] * kh * kw, 3 * oh * ow), np.nan, dtype) for _ in range(2))
    k.im2col(x, cols, *args)
    k.im2col_ref(x, cols_ref, *args)
    assert np.array_equal(cols, cols_ref)
    grad_cols = rng.normal(size=cols.shape).astype(dtype)
    gx, gx_ref = np.full_like(x, np.nan), np.full_like(x, np.nan)
    k.col2im(grad_cols, gx, *args)
    k.col2im_ref(grad_cols, gx_ref, *args)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(gx, gx_ref, rtol=rtol, atol=rtol)
    # col2im is im2col's transpose: <im2col(x), c> == <x, col2im(c)>
    assert np.isclose(
        np.vdot(cols.astype(np.float64), grad_cols), np.vdot(x.astype(np.float64), gx), rtol=1e-5
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", [act.LINEAR, act.RELU, act.TANH, act.ELU, act.SIGMOID])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_activation_kernels_match_their_twins(code, dtype, with_bias):
    rng = np.random.default_rng(1)
    n, f, p = 3, 4, 5
    alpha = dtype(0.7)
    bias = rng.normal(size=f).astype(dtype) if with_bias else np.empty(0, dtype)
    z = rng.normal(size=(f, n * p)).astype(dtype)
    z_before = z.copy()
    pre, pre_ref = (np.full((n, f, p), np.nan, dtype) for _ in range(2))
    out, out_ref = (np.full((n, f, p), np.nan, dtype) for _ in range(2))
    k.bias_act_to_images(z, bias, pre, out, code, alpha)
    k.bias_act_to_images_ref(z, bias, pre_ref, out_ref, code, alpha)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_array_equal(z, z_before)  # the products are only read
    np.testing.assert_allclose(pre, pre_ref, rtol=rtol)
    np.testing.assert_allclose(out, out_ref, rtol=rtol, atol=rtol)
    expected_pre = (z + (bias[:, None] if with_bias else 0)).reshape(f, n, p).transpose(1, 0, 2)
    np.testing.assert_allclose(pre, expected_pre, rtol=rtol)
    not_kept, out_alone = np.empty((0, f, p), dtype), np.full((n, f, p), np.nan, dtype)
    k.bias_act_to_images(z, bias, not_kept, out_alone, code, alpha)
    np.testing.assert_array_equal(out_alone, out)
    grad_a = rng.normal(size=(n, f, p)).astype(dtype)
    grad_z, grad_z_ref = np.empty((f, n * p), dtype), np.empty((f, n * p), dtype)
    start = rng.normal(size=f if with_bias else 0).astype(dtype)  # the kernel adds to it
    grad_bias, grad_bias_ref = start.copy(), start.copy()
    k.act_grad_to_rows(pre, out, grad_a, grad_z, grad_bias, code, alpha)
    k.act_grad_to_rows_ref(pre, out, grad_a, grad_z_ref, grad_bias_ref, code, alpha)
    np.testing.assert_allclose(grad_z, grad_z_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad_bias, grad_bias_ref, rtol=10 * rtol, atol=10 * rtol)
    if with_bias:
        np.testing.assert_allclose(grad_bias - start, grad_z.sum(axis=1), rtol=10 * rtol, atol=10 * rtol)
    if code in act.DERIVATIVE_FROM_OUTPUT:  # the layer may pass anything as pre: it is unread
        from_output = np.empty_like(grad_z)
        k.act_grad_to_rows(np.full_like(pre, np.nan), out, grad_a, from_output, start.copy(), code, alpha)
        np.testing.assert_array_equal(from_output, grad_z)
    if code == act.LINEAR:  # the layout move alone
        np.testing.assert_array_equal(grad_z.reshape(f, n, p).transpose(1, 0, 2), grad_a)


def test_derivative_from_output_lists_exactly_the_codes_that_never_read_z():
    """A code listed reads only the output (NaN pre-activations change nothing); every code
    left out reads z (the derivative moves with it), so the list is neither too long nor short."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(1, 2, 6))
    alpha = np.float64(0.3)
    for code in act.ACT_CODES.values():
        out = act._act_ref(z, code, alpha)
        grad_a = rng.normal(size=z.shape)
        real, other = np.empty((2, 6)), np.empty((2, 6))
        k.act_grad_to_rows(z, out, grad_a, real, np.empty(0), code, alpha)
        k.act_grad_to_rows(np.full_like(z, np.nan), out, grad_a, other, np.empty(0), code, alpha)
        reads_z = not np.array_equal(real, other)
        assert reads_z == (code not in act.DERIVATIVE_FROM_OUTPUT), code


def _range_variants():
    """The compiled range kernels (where NumPy's BLAS is reachable from Numba) and the Python
    loops over the compiled kernels that stand in for them elsewhere."""
    variants = [pytest.param((k.forward_range_steps, k.backward_range_steps), id="steps")]
    if blas.AVAILABLE:
        variants.append(pytest.param((k.forward_range, k.backward_range), id="compiled"))
    return variants


@pytest.mark.parametrize("kernels", _range_variants())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize(("chunk", "with_bias", "keep_pre", "want_x"), [(2, True, True, True), (1, False, False, False), (5, True, False, True)])  # fmt: skip
def test_range_kernels_match_their_twins(kernels, dtype, geometry, chunk, with_bias, keep_pre, want_x):
    """A range of 5 samples chunk by chunk (the last chunk shorter, or one chunk for all):
    forward output and pre-activation, then the kernel, bias and input gradients."""
    forward, backward = kernels
    shape, args = geometry[0], kernel_geometry(*geometry)
    kh, kw, *_, oh, ow = args
    taps, filters, samples, positions = shape[0] * kh * kw, 3, 5, oh * ow
    rng = np.random.default_rng(4)
    x = rng.normal(size=(samples, *shape)).astype(dtype)
    kernel = rng.normal(size=(filters, taps)).astype(dtype)
    bias = rng.normal(size=filters).astype(dtype) if with_bias else np.empty(0, dtype)
    alpha, code = dtype(0.2), act.LEAKY_RELU
    rtol = 1e-5 if dtype == np.float32 else 1e-12

    def run(forward, backward):
        cols, z = (
            np.full(taps * chunk * positions, np.nan, dtype),
            np.full(filters * chunk * positions, np.nan, dtype),
        )
        pre = np.full((samples if keep_pre else 0, filters, positions), np.nan, dtype)
        out = np.full((samples, filters, positions), np.nan, dtype)
        forward(x, kernel, bias, pre, out, cols, z, chunk, code, alpha, *args)
        grad_a = np.random.default_rng(5).normal(size=out.shape).astype(dtype)
        kernel_sum, chunk_kernel = np.full((taps, filters), np.nan, dtype), np.empty((taps, filters), dtype)
        bias_sum = np.ones(filters if with_bias else 0, dtype)  # added to
        grad_x = np.full((samples if want_x else 0, *shape), np.nan, dtype)
        backward(x, pre if keep_pre else out, out, grad_a, kernel, grad_x, kernel_sum, chunk_kernel, bias_sum, cols, z, chunk, code, alpha, *args)  # fmt: skip
        return pre, out, kernel_sum, bias_sum, grad_x

    for got, expected in zip(
        run(forward, backward), run(k.forward_range_ref, k.backward_range_ref), strict=True
    ):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
    _, out, kernel_sum, bias_sum, _ = run(k.forward_range_ref, k.backward_range_ref)
    columns = np.empty((taps, samples * positions), dtype)  # one chunk of everything, by hand
    k.im2col_ref(x, columns, *args)
    z = kernel @ columns + (bias[:, None] if with_bias else 0)
    expected_out = np.where(z > 0, z, alpha * z).reshape(filters, samples, positions).transpose(1, 0, 2)
    np.testing.assert_allclose(out, expected_out, rtol=rtol, atol=rtol)
    grad_a = np.random.default_rng(5).normal(size=out.shape).astype(dtype)  # as run() draws it
    grad_z = (grad_a * np.where(out > 0, 1, alpha)).transpose(1, 0, 2).reshape(filters, -1)
    np.testing.assert_allclose(kernel_sum, (grad_z @ columns.T).T, rtol=rtol, atol=10 * rtol)
    if with_bias:
        np.testing.assert_allclose(bias_sum, 1 + grad_z.sum(axis=1), rtol=rtol, atol=10 * rtol)
