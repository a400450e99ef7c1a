"""The convolution kernels against their NumPy twins, in float32 and float64, over strides,
paddings (including an odd total pad) and dilations."""

from __future__ import annotations

import numpy as np
import pytest

from engine._kernels import activations as act
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


def _args(shape, kernel, strides, dilation, padding):
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
    args = _args(*geometry)
    kh, kw, *_, oh, ow = args
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, *shape)).astype(dtype)
    cols, cols_ref = (np.full((shape[0] * kh * kw, 3 * oh * ow), np.nan, dtype) for _ in range(2))
    k.im2col(x, cols, 0, 3, *args)
    k.im2col_ref(x, cols_ref, 0, 3, *args)
    assert np.array_equal(cols, cols_ref)
    grad_cols = rng.normal(size=cols.shape).astype(dtype)
    gx, gx_ref = np.full_like(x, np.nan), np.full_like(x, np.nan)
    k.col2im(grad_cols, gx, 0, 3, *args)
    k.col2im_ref(grad_cols, gx_ref, 0, 3, *args)
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
    z_ref = z.copy()
    out, out_ref = np.empty((n, f, p), dtype), np.empty((n, f, p), dtype)
    k.bias_act_to_images(z, bias, out, code, alpha, 0, n)
    k.bias_act_to_images_ref(z_ref, bias, out_ref, code, alpha, 0, n)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(z, z_ref, rtol=rtol)
    np.testing.assert_allclose(out, out_ref, rtol=rtol, atol=rtol)
    grad_a = rng.normal(size=(n, f, p)).astype(dtype)
    grad_z, grad_z_ref = np.empty((f, n * p), dtype), np.empty((f, n * p), dtype)
    grad_bias, grad_bias_ref = (np.empty(f if with_bias else 0, dtype) for _ in range(2))
    k.act_grad_to_rows(z, out, grad_a, grad_z, grad_bias, code, alpha, 0, n)
    k.act_grad_to_rows_ref(z, out, grad_a, grad_z_ref, grad_bias_ref, code, alpha, 0, n)
    np.testing.assert_allclose(grad_z, grad_z_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad_bias, grad_bias_ref, rtol=10 * rtol, atol=10 * rtol)
    in_place = z.copy()  # the layer writes the gradient over z: each value is read first
    k.act_grad_to_rows(in_place, out, grad_a, in_place, grad_bias, code, alpha, 0, n)
    np.testing.assert_array_equal(in_place, grad_z)
    if code == act.LINEAR:  # the layout move alone
        np.testing.assert_array_equal(grad_z.reshape(f, n, p).transpose(1, 0, 2), grad_a)


@pytest.mark.parametrize("compiled", [True, False])
def test_the_kernels_run_in_parts_give_what_one_run_gives(compiled):
    """Each kernel on disjoint ranges (of samples or filters, as the layer splits them over the
    cores) writes exactly what one run over everything writes, and nothing outside its range."""
    pick = (lambda name: getattr(k, name)) if compiled else (lambda name: getattr(k, name + "_ref"))
    geometry = ((3, 7, 6), (3, 2), (2, 1), (1, 2), "same")
    args = _args(*geometry)
    kh, kw, *_, oh, ow = args
    rng = np.random.default_rng(2)
    n, f = 5, 4
    x = rng.normal(size=(n, *geometry[0])).astype(np.float32)
    whole, parted = (np.full((3 * kh * kw, n * oh * ow), np.nan, np.float32) for _ in range(2))
    pick("im2col")(x, whole, 0, n, *args)
    for lo, hi in ((0, 2), (2, 3), (3, 5)):
        pick("im2col")(x, parted, lo, hi, *args)
    assert np.array_equal(whole, parted)
    gx_whole, gx_parted = np.full_like(x, np.nan), np.full_like(x, np.nan)
    pick("col2im")(whole, gx_whole, 0, n, *args)
    pick("col2im")(whole, gx_parted, 0, 2, *args)
    assert np.isnan(gx_parted[2:]).all()  # the other samples untouched
    pick("col2im")(whole, gx_parted, 2, n, *args)
    assert np.array_equal(gx_whole, gx_parted)
    p = oh * ow
    bias = rng.normal(size=f).astype(np.float32)
    z = rng.normal(size=(f, n * p)).astype(np.float32)
    z_whole, z_parted = z.copy(), z.copy()
    out_whole, out_parted = np.full((n, f, p), np.nan, np.float32), np.full((n, f, p), np.nan, np.float32)
    pick("bias_act_to_images")(z_whole, bias, out_whole, act.RELU, np.float32(0), 0, n)
    pick("bias_act_to_images")(z_parted, bias, out_parted, act.RELU, np.float32(0), 0, 2)
    assert np.isnan(out_parted[2:]).all() and np.array_equal(z_parted[:, 2 * p :], z[:, 2 * p :])
    pick("bias_act_to_images")(z_parted, bias, out_parted, act.RELU, np.float32(0), 2, n)
    assert np.array_equal(z_whole, z_parted) and np.array_equal(out_whole, out_parted)
    grad_a = rng.normal(size=(n, f, p)).astype(np.float32)
    grad_whole, grad_parted = (np.full((f, n * p), np.nan, np.float32) for _ in range(2))
    bias_whole = np.full(f, np.nan, np.float32)
    pick("act_grad_to_rows")(
        z_whole, out_whole, grad_a, grad_whole, bias_whole, act.RELU, np.float32(0), 0, n
    )
    bias_sums = []
    for lo, hi in ((0, 3), (3, n)):
        bias_sums.append(np.full(f, np.nan, np.float32))
        pick("act_grad_to_rows")(
            z_whole, out_whole, grad_a, grad_parted, bias_sums[-1], act.RELU, np.float32(0), lo, hi
        )
    assert np.array_equal(grad_whole, grad_parted)
    np.testing.assert_allclose(bias_sums[0] + bias_sums[1], bias_whole, rtol=1e-5, atol=1e-5)  # shares
