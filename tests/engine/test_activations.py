"""Activations: gradients against central differences, kernels against their NumPy twins, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import engine  # noqa: F401  (fills the registries)
from engine._kernels import activations as K
from engine.activations import Activation, get_activation
from engine.errors import ConfigError, RegistryError
from engine.registry import ACTIVATIONS
from tests.engine.gradcheck import STEP, numeric_gradient, relative_error

ACT_CODES = K.ACT_CODES
NAMES = ACTIVATIONS.names()
ELEMENTWISE = [name for name in NAMES if ACTIVATIONS.get(name).kernel_code is not None]
KINKS = (0.0, -3.0, 3.0)  # relu family at 0, hard_sigmoid at ±3


def test_every_expected_activation_is_registered_with_its_texts():
    expected = {
        "linear",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "softplus",
        "softsign",
        "hard_sigmoid",
        "softmax",
    }
    assert expected <= set(NAMES)
    for name in NAMES:
        cls = ACTIVATIONS.get(name)
        assert issubclass(cls, Activation) and cls.group == "Activation"
        assert cls.description and cls.formula and "\n" not in cls.description
    assert ACTIVATIONS.get("softmax").kernel_code is None
    assert {ACT_CODES[n] for n in ELEMENTWISE} == set(range(12))
    assert all(ACTIVATIONS.get(n).kernel_code == ACT_CODES[n] for n in ELEMENTWISE)


def smooth_points(act: Activation, count: int = 20, seed: int = 0) -> np.ndarray:
    """Points in [-2.9, 2.9] away from kinks and from where f' crosses zero (relative error there
    measures rounding noise, not the gradient); f' == 0 exactly (relu's flat side) is kept."""
    candidates = np.random.default_rng(seed).uniform(-2.9, 2.9, size=400)
    d = act.derivative(candidates.reshape(1, -1)).reshape(-1) if act.kernel_code is not None else None
    keep = np.min(np.abs(candidates[:, None] - np.array(KINKS)), axis=1) > 0.05
    if d is not None:
        keep &= (np.abs(d) > 1e-2) | (d == 0)
    return candidates[keep][:count].reshape(4, count // 4).copy()


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    act = get_activation(name)
    z = smooth_points(act)
    rng = np.random.default_rng(1)
    probe = rng.uniform(0.5, 1.5, size=z.shape) * rng.choice([-1.0, 1.0], size=z.shape)

    def value() -> float:
        return float(np.sum(act.forward(z) * probe))

    analytic = act.backward(z, act.forward(z), probe)
    assert analytic.shape == z.shape
    assert relative_error(analytic, numeric_gradient(value, z)) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_derivative_is_the_diagonal_of_the_numeric_jacobian(name):
    act = get_activation(name)
    z = smooth_points(act, seed=2)
    diagonal = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += STEP
        down[idx] -= STEP
        diagonal[idx] = (act.forward(up)[idx] - act.forward(down)[idx]) / (2 * STEP)
    assert relative_error(act.derivative(z), diagonal) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_curve_gives_values_and_slopes_of_the_input_length(name):
    act = get_activation(name)
    x = np.linspace(-5, 5, 41)
    a, da = act.curve(x)
    assert a.shape == da.shape == (41,)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(da))
    if name == "softmax":  # logit of one class against a second class at 0: a sigmoid
        sig, dsig = get_activation("sigmoid").curve(x)
        np.testing.assert_allclose(a, sig, rtol=1e-12)
        np.testing.assert_allclose(da, dsig, rtol=1e-12)
    elif name == "sparsemax":  # the same pair: p = clip((x + 1) / 2, 0, 1), slope ½ inside
        np.testing.assert_allclose(a, np.clip((x + 1) / 2, 0, 1), rtol=1e-12)
        np.testing.assert_array_equal(da, np.where(np.abs(x) < 1, 0.5, 0.0))
    else:
        np.testing.assert_array_equal(a, act.forward(x.reshape(1, -1)).reshape(-1))
        np.testing.assert_array_equal(da, act.derivative(x.reshape(1, -1)).reshape(-1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("name", NAMES)
def test_results_keep_the_input_dtype_and_any_shape(name, dtype):
    act = get_activation(name)
    z = np.random.default_rng(3).normal(size=(2, 3, 4)).astype(dtype)
    a = act.forward(z)
    assert a.dtype == dtype and a.shape == z.shape
    assert act.backward(z, a, np.ones_like(z)).dtype == dtype
    assert act.derivative(z).dtype == dtype
    assert act.curve(np.linspace(-1, 1, 5).astype(dtype))[0].dtype == dtype
    reference = get_activation(name).forward(z.astype(np.float64))
    tolerance = {np.float16: 5e-3, np.float32: 1e-6, np.float64: 1e-15}[dtype]
    np.testing.assert_allclose(a, reference, rtol=tolerance * 10, atol=tolerance)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_strided_and_1d_inputs_give_the_same_values(name):
    act = get_activation(name)
    z = np.random.default_rng(4).normal(size=(5, 6))
    expected = act.forward(z)
    np.testing.assert_array_equal(act.forward(np.asfortranarray(z)), expected)
    np.testing.assert_array_equal(act.forward(z.T.copy()).T, expected)
    np.testing.assert_array_equal(act.forward(z[:, 0]), expected[:, 0])
    g = np.ones_like(z)
    np.testing.assert_array_equal(act.backward(z.T, expected.T, g.T), act.backward(z, expected, g).T)


def extreme_inputs(dtype, shape=(9, 17), seed=5) -> np.ndarray:
    z = np.random.default_rng(seed).normal(scale=3.0, size=shape)
    z.reshape(-1)[:8] = [1000.0, -1000.0, 80.0, -80.0, 30.0, -30.0, 0.0, 3.0]
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", sorted(set(ACT_CODES.values())))
def test_kernels_match_their_numpy_twins(code, dtype):
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    rng = np.random.default_rng(code)
    z = extreme_inputs(dtype, seed=code)
    alpha = dtype(0.3)
    for bias in (rng.normal(size=z.shape[1]).astype(dtype), np.empty(0, dtype)):
        out, ref = np.empty_like(z), np.empty_like(z)
        K.bias_act_forward(z, bias, out, code, alpha)
        K.bias_act_forward_ref(z, bias, ref, code, alpha)
        assert out.dtype == dtype and np.all(np.isfinite(out))
        np.testing.assert_allclose(out, ref, **tol)
    g = rng.normal(size=z.shape).astype(dtype)
    a = np.empty_like(z)
    K.bias_act_forward(z, np.empty(0, dtype), a, code, alpha)
    grad, grad_ref = np.empty_like(z), np.empty_like(z)
    K.bias_act_backward(z, a, g, grad, code, alpha)
    K.bias_act_backward_ref(z, a, g, grad_ref, code, alpha)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, grad_ref, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_the_fused_bias_kernel_matches_forward_of_the_biased_values(name, dtype):
    """add_bias_act, a Dense layer's fused step: z += bias, out = f(z)."""
    act = get_activation(name)
    rng = np.random.default_rng(6)
    z, b = rng.normal(size=(7, 3)).astype(dtype), rng.normal(size=3).astype(dtype)
    expected_z = z + b
    out = np.empty_like(z)
    K.add_bias_act(z, b, out, act.kernel_code, dtype(act.alpha))
    assert out.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(out, act.forward(expected_z), rtol=tol)
    np.testing.assert_allclose(z, expected_z, rtol=tol)


def test_softmax_is_stable_sums_to_one_and_works_over_the_last_axis():
    sm = get_activation("softmax")
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=np.float32)
    s = sm.forward(z)
    assert s.dtype == np.float32 and np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    grad = sm.backward(z, s, np.ones_like(z))
    assert np.all(np.isfinite(grad)) and np.allclose(grad, 0, atol=1e-6)
    cube = np.random.default_rng(7).normal(size=(2, 3, 4))
    np.testing.assert_allclose(sm.forward(cube).sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(sm.forward(cube)[1, 2], sm.forward(cube[1, 2][None])[0], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernel_matches_its_numpy_twin(dtype):
    z = (np.random.default_rng(3).normal(size=(33, 7)) * 30).astype(dtype)
    z[0] = [800.0, -800.0, 0, 0, 0, 0, 0]  # exp would overflow without the max shift
    fused, twin = np.empty_like(z), np.empty_like(z)
    K.softmax_rows(z, fused)
    K.softmax_rows_ref(z, twin)
    np.testing.assert_allclose(fused, twin, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-30)
    assert np.all(np.isfinite(fused))


def test_known_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 4.0]])
    np.testing.assert_allclose(
        get_activation("hard_sigmoid").forward(x), [[1 / 6, 2.5 / 6, 0.5, 3.5 / 6, 1.0]]
    )
    np.testing.assert_allclose(get_activation("leaky_relu", alpha=0.2).forward(x), [[-0.4, -0.1, 0, 0.5, 4]])
    np.testing.assert_allclose(get_activation("elu", alpha=2.0).forward(x)[0, 0], 2 * np.expm1(-2.0))
    np.testing.assert_allclose(
        get_activation("softplus").forward(np.array([[1000.0, -1000.0]])), [[1000.0, 0.0]]
    )
    np.testing.assert_allclose(get_activation("gelu").forward(np.array([[1.0]])), [[0.8413447460685429]])
    swish, silu = get_activation("swish"), get_activation("silu")
    np.testing.assert_array_equal(swish.forward(x), silu.forward(x))
    assert swish.kernel_code == silu.kernel_code


def _torch_sparsemax(z):
    """Martins & Astudillo's Algorithm 1 in torch (support size first, then τ), autograd's
    gradient through it."""
    import torch

    ordered = torch.sort(z, dim=-1, descending=True).values
    ranks = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cumulative = ordered.cumsum(-1)
    size = (1 + ranks * ordered > cumulative).sum(-1, keepdim=True)
    tau = (cumulative.gather(-1, size - 1) - 1) / size
    return torch.relu(z - tau)


def test_matches_torch_where_installed():
    torch = pytest.importorskip("torch", reason="torch not installed: comparison skipped")
    F = torch.nn.functional
    reference = {
        "linear": lambda t: t,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
        "elu": F.elu,
        "selu": F.selu,
        "gelu": F.gelu,
        "silu": F.silu,
        "swish": F.silu,
        "softplus": F.softplus,
        "softsign": F.softsign,
        "hard_sigmoid": lambda t: F.relu6(t + 3) / 6,
        "softmax": lambda t: torch.softmax(t, dim=-1),
        "sparsemax": _torch_sparsemax,
    }
    assert set(reference) == set(NAMES)
    z = np.random.default_rng(8).normal(scale=3.0, size=(6, 5))
    for name, fn in reference.items():
        act = get_activation(name)
        zt = torch.tensor(z, requires_grad=True)
        out = fn(zt)
        probe = np.random.default_rng(9).normal(size=z.shape)
        out.backward(torch.tensor(probe))
        np.testing.assert_allclose(act.forward(z), out.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
        grad = act.backward(z, act.forward(z), probe)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


def test_unknown_names_and_bad_parameters_are_reported():
    with pytest.raises(RegistryError, match="unknown activation 'rleu'; valid choices: linear"):
        get_activation("rleu")
    with pytest.raises(ConfigError, match="activation 'leaky_relu': parameter 'alpha' must be at least 0"):
        get_activation("leaky_relu", alpha=-1.0)
    with pytest.raises(ConfigError, match="activation 'relu': unknown parameter"):
        get_activation("relu", alpha=0.1)
    assert get_activation("elu").params == {"alpha": 1.0}
