"""Optimizers: kernels against their NumPy twins, descent, state round trips, subnormal flushing,
gradient clipping, and one-to-one comparison with torch.optim where torch is installed."""

from __future__ import annotations

import io

import numpy as np
import pytest

from engine._kernels import optimizers as K
from engine.errors import ConfigError
from engine.optimizers import Optimizer, clip_by_global_norm, get_optimizer
from engine.registry import OPTIMIZERS

# Every registry entry with its defaults, plus settings that switch on each optional slot.
VARIANTS = [(name, {}) for name in OPTIMIZERS.names()] + [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True, "momentum": 0.5}),
    ("adagrad", {"initial_accumulator_value": 0.0}),
    ("adam", {"amsgrad": True}),
    ("adamw", {"amsgrad": True, "weight_decay": 0.1}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in params.items()) for name, params in VARIANTS]
# Variants that keep per-weight state arrays (sgd only with momentum).
STATEFUL = [(n, p) for n, p in VARIANTS if n != "sgd" or p.get("momentum")]
STATEFUL_IDS = [i for i, (n, p) in zip(IDS, VARIANTS, strict=True) if (n, p) in STATEFUL]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-6, np.float64: 1e-12}
SHAPES = [(4, 3), (3,), (2, 1, 5)]
MASK = [True, False, True]


def _weights(dtype, seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in SHAPES]


def _grads(weights, step, seed=1) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, step])
    return [rng.normal(size=w.shape).astype(w.dtype) for w in weights]


def _close(actual, expected, rtol):
    """Relative to each array's scale, so an entry near zero after cancellation still compares."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * float(np.abs(expected).max()))


def test_registry_entries_have_the_contract():
    defaults = {"sgd": 0.01, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001}
    assert set(OPTIMIZERS.names()) == set(defaults)
    assert OPTIMIZERS.names() == ["sgd", "rmsprop", "adagrad", "adam", "adamw"]  # the settings page's order
    for name, cls in OPTIMIZERS.items():
        assert issubclass(cls, Optimizer) and cls.name == name and cls.group == "Optimizer"
        assert cls.description
        first = cls.param_specs[0]
        assert (first.name, first.kind, first.default) == ("learning_rate", "float", defaults[name])
        assert get_optimizer(name).params["learning_rate"] == defaults[name]
    assert get_optimizer("adamw").params["weight_decay"] == 0.01


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
def test_kernel_matches_numpy_twin(name, params, dtype):
    fast, ref = get_optimizer(name, **params), get_optimizer(name, **params)
    ref.reference = True
    w_fast, w_ref = _weights(dtype), _weights(dtype)
    for step in range(6):
        lr = 0.01 * (1 + 0.5 * step)  # the rate may change every step
        fast.step(w_fast, _grads(w_fast, step), lr, MASK)
        ref.step(w_ref, _grads(w_ref, step), lr, MASK)
        for a, b in zip(w_fast, w_ref, strict=True):
            assert a.dtype == dtype
            _close(a, b, TOL[dtype])
    s_fast, s_ref = fast.state(), ref.state()
    assert s_fast.keys() == s_ref.keys()
    for key in s_fast:
        _close(s_fast[key], s_ref[key], TOL[dtype])


def test_sum_squares_matches_numpy_twin():
    x = np.random.default_rng(3).normal(size=1001)
    for dtype in DTYPES:
        xs = x.astype(dtype)
        assert K.sum_squares(xs) == pytest.approx(K.sum_squares_ref(xs), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
def test_steps_go_down_a_quadratic_bowl(name, params, dtype):
    opt = get_optimizer(name, **params)
    weights = _weights(dtype)
    curvature = [np.linspace(0.5, 2.0, w.size).reshape(w.shape).astype(dtype) for w in weights]

    def loss():
        return sum(0.5 * float(np.sum(a * w * w)) for a, w in zip(curvature, weights, strict=True))

    start = loss()
    for _ in range(100):
        opt.step(
            weights, [a * w for a, w in zip(curvature, weights, strict=True)], opt.params["learning_rate"]
        )
    assert loss() < 0.95 * start


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
def test_state_round_trip_continues_bit_identically(name, params, dtype):
    original = get_optimizer(name, **params)
    weights = _weights(dtype)
    for step in range(3):
        original.step(weights, _grads(weights, step), 0.01, MASK)
    buffer = io.BytesIO()
    np.savez(buffer, **original.state())  # as engine.io stores it: .npz without pickle
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        state = dict(saved)
    copy = [w.copy() for w in weights]
    restored = get_optimizer(name, **params)
    restored.load_state(state, copy)
    assert restored.iterations == original.iterations == 3
    for step in range(3, 7):
        original.step(weights, _grads(weights, step), 0.01, MASK)
        restored.step(copy, _grads(copy, step), 0.01, MASK)
    for a, b in zip(weights, copy, strict=True):
        assert np.array_equal(a, b)
    after_a, after_b = original.state(), restored.state()
    assert after_a.keys() == after_b.keys()
    assert all(np.array_equal(after_a[k], after_b[k]) for k in after_a)


def test_state_loaded_between_steps_on_the_same_arrays_takes_effect():
    """A training loop passes the same arrays every step (their checks are skipped then); a
    state loaded in between must still be the one the next step uses."""
    opt = get_optimizer("adam")
    weights = _weights(np.float64)
    grads = [np.ones_like(w) for w in weights]
    opt.step(weights, grads, 0.01)
    after_one, state = [w.copy() for w in weights], opt.state()
    opt.step(weights, grads, 0.01)
    after_two = [w.copy() for w in weights]
    opt.step(weights, grads, 0.01)
    for w, saved in zip(weights, after_one, strict=True):
        w[...] = saved
    opt.load_state(state, weights)  # back to after step 1: the next step is step 2 again
    opt.step(weights, grads, 0.01)
    assert all(np.array_equal(w, e) for w, e in zip(weights, after_two, strict=True))
    opt.load_state({"iterations": np.array(0)}, weights)  # a fresh start rebuilds the state
    opt.step(weights, grads, 0.01)
    assert opt.iterations == 1 and np.all(opt.state()["m.0"] == pytest.approx(0.1))


@pytest.mark.parametrize(("name", "params"), STATEFUL, ids=STATEFUL_IDS)
def test_load_state_rejects_mismatches(name, params):
    opt = get_optimizer(name, **params)
    weights = _weights(np.float32)
    opt.step(weights, _grads(weights, 0), 0.01)
    good = opt.state()
    key = next(k for k in good if k.endswith(".1"))  # belongs to weight 1, shape (3,)

    fresh = get_optimizer(name, **params)
    bad_shape = {**good, key: np.zeros((4,), np.float32)}
    with pytest.raises(ConfigError, match=rf"'{key}' has shape \(4,\), but weight 1 has shape \(3,\)"):
        fresh.load_state(bad_shape, weights)
    bad_dtype = {**good, key: good[key].astype(np.float64)}
    with pytest.raises(ConfigError, match=rf"'{key}' has dtype float64, but weight 1 is float32"):
        fresh.load_state(bad_dtype, weights)
    missing = {k: v for k, v in good.items() if k != key}
    with pytest.raises(ConfigError, match="is missing"):
        fresh.load_state(missing, weights)
    with pytest.raises(ConfigError, match="unexpected entry 'bogus.0'"):
        fresh.load_state({**good, "bogus.0": good[key]}, weights)
    with pytest.raises(ConfigError, match="unexpected entry"):
        fresh.load_state(good, weights[:1])  # entries for weights 1 and 2 have no weight
    with pytest.raises(ConfigError, match="'iterations' is missing"):
        fresh.load_state({k: v for k, v in good.items() if k != "iterations"}, weights)
    if fresh.required_slots:  # sgd's momentum buffer may start at zero (momentum switched on)
        with pytest.raises(ConfigError, match="after 1 steps it must hold"):
            fresh.load_state({"iterations": good["iterations"]}, weights)
    # A failed load leaves the optimizer as it was (fresh).
    assert fresh.iterations == 0 and fresh.state().keys() == {"iterations"}


def test_step_rejects_bad_inputs():
    opt = get_optimizer("adam")
    weights = _weights(np.float32)
    grads = _grads(weights, 0)
    with pytest.raises(ConfigError, match="learning rate"):
        opt.step(weights, grads, -1.0)
    with pytest.raises(ConfigError, match="learning rate"):
        opt.step(weights, grads, "fast")
    with pytest.raises(ConfigError, match="gradient 1 is float64"):
        opt.step(weights, [grads[0], grads[1].astype(np.float64), grads[2]], 0.1)
    with pytest.raises(ConfigError, match="C-contiguous"):
        opt.step([weights[0].T, *weights[1:]], [grads[0].T, *grads[1:]], 0.1)
    with pytest.raises(ConfigError, match="float32 or float64"):
        opt.step([w.astype(np.int64) for w in weights], grads, 0.1)
    with pytest.raises(ConfigError, match="decay_mask"):
        opt.step(weights, grads, 0.1, [True])
    opt.step(weights, grads, 0.1)
    with pytest.raises(ConfigError, match="built for 3 weights, got 2"):
        opt.step(weights[:2], grads[:2], 0.1)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
def test_float32_stays_float32_and_updates_in_place(name, params):
    opt = get_optimizer(name, **params)
    weights = _weights(np.float32)
    originals = list(weights)
    before = [w.copy() for w in weights]
    for step in range(3):
        opt.step(weights, _grads(weights, step), 0.01)
    for w, orig, old in zip(weights, originals, before, strict=True):
        assert w is orig and w.dtype == np.float32 and not np.array_equal(w, old)
    for key, value in opt.state().items():
        if key != "iterations":
            assert value.dtype == np.float32, key


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=IDS)
def test_moments_never_become_subnormal(name, params):
    """Tiny gradients (1e-8 down to 1e-22), then none: the decaying moments would pass through
    float32 subnormals (below 1.18e-38) without the flush; every stored value must be 0 or
    at least 1e-30 after every step."""
    opt = get_optimizer(name, **params)
    weights = [np.ones(64, np.float32)]
    rng = np.random.default_rng(0)
    scales = np.logspace(-8, -22, 64)
    for step in range(3000):
        grad = rng.normal(size=64) * scales if step < 10 else np.zeros(64)
        opt.step(weights, [grad.astype(np.float32)], 1e-3)
        for key, value in opt.state().items():
            if key != "iterations":
                magnitude = np.abs(value)
                assert not np.any((magnitude > 0) & (magnitude < 1e-30)), (key, step)


def test_without_the_flush_adam_moments_do_become_subnormal():
    """The previous test has teeth: the same kernel with the threshold at 0 leaves subnormals."""
    w, m, v = np.ones(64, np.float32), np.full(64, 1e-20, np.float32), np.zeros(64, np.float32)
    g, empty = np.zeros(64, np.float32), np.empty(0, np.float32)
    c = [np.float32(x) for x in (0.9, 0.1, 0.999, 0.001, 1e-3, 1.0, 1e-7, 0.0)]
    seen_subnormal = False  # 1e-20 * 0.9**n is subnormal for n in about 394..480
    for _ in range(450):
        K.adam_update(w, g, m, v, empty, *c, False, np.float32(0.0))
        seen_subnormal |= bool(np.any((m != 0) & (np.abs(m) < np.finfo(np.float32).tiny)))
    assert seen_subnormal
    m[:] = 1e-20
    for _ in range(450):
        K.adam_update(w, g, m, v, empty, *c, False, np.float32(1e-30))
        assert np.all((m == 0) | (np.abs(m) >= 1e-30))


def test_adamw_decay_follows_the_mask():
    weights = {key: _weights(np.float64) for key in ("adam", "adamw_off", "adamw_on")}
    adam, off, on = (
        get_optimizer("adam"),
        get_optimizer("adamw", weight_decay=0.1),
        get_optimizer("adamw", weight_decay=0.1),
    )
    grads = _grads(weights["adam"], 0)
    adam.step(weights["adam"], grads, 0.01)
    off.step(weights["adamw_off"], grads, 0.01, [False, False, False])
    on.step(weights["adamw_on"], grads, 0.01, [True, False, True])
    for a, b in zip(weights["adam"], weights["adamw_off"], strict=True):
        assert np.array_equal(a, b)  # no decay at all: exactly Adam
    start = _weights(np.float64)
    for i in (0, 2):  # decayed: Adam's result minus lr * wd * w (to rounding)
        _close(weights["adamw_on"][i], weights["adam"][i] - 0.01 * 0.1 * start[i], 1e-12)
    assert np.array_equal(weights["adamw_on"][1], weights["adam"][1])


def test_changed_settings_and_precision_continue_from_the_state():
    weights = _weights(np.float32)
    plain = get_optimizer("sgd")
    plain.step(weights, _grads(weights, 0), 0.1)
    with_momentum = get_optimizer("sgd", momentum=0.9)
    with_momentum.load_state(plain.state(), weights)  # the momentum buffer starts at zero
    assert with_momentum.iterations == 1
    assert np.array_equal(with_momentum.state()["momentum.0"], np.zeros((4, 3), np.float32))

    adam = get_optimizer("adam")
    adam.step(weights, _grads(weights, 0), 0.01)
    as64 = [w.astype(np.float64) for w in weights]
    adam.step(as64, _grads(as64, 1), 0.01)  # the network switched to float64
    assert all(v.dtype == np.float64 for k, v in adam.state().items() if k != "iterations")


def test_fresh_state_round_trips_to_lazy_allocation():
    opt = get_optimizer("adam")
    assert opt.state().keys() == {"iterations"} and int(opt.state()["iterations"]) == 0
    other = get_optimizer("adam")
    weights = _weights(np.float64)
    other.load_state(opt.state(), weights)
    other.step(weights, _grads(weights, 0), 0.01)
    assert other.iterations == 1 and "m.2" in other.state()


def test_clip_by_global_norm_scales_to_the_limit():
    grads = [np.array([3.0, 0.0], np.float32), np.array([[4.0]], np.float32)]
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(5.0)
    assert grads[0].dtype == np.float32
    np.testing.assert_allclose(grads[0], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(grads[1], [[0.8]], rtol=1e-6)
    total = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    assert total == pytest.approx(1.0, rel=1e-6)


def test_clip_by_global_norm_leaves_small_or_broken_gradients():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(5, 5)), rng.normal(size=5)]
    before = [g.copy() for g in grads]
    expected = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert clip_by_global_norm(grads, 100.0) == pytest.approx(expected, rel=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(grads, before, strict=True))
    broken = [np.array([np.inf, 1.0])]
    assert clip_by_global_norm(broken, 1.0) == np.inf
    assert broken[0][1] == 1.0
    with pytest.raises(ConfigError, match="max_norm"):
        clip_by_global_norm(grads, 0.0)
    with pytest.raises(ConfigError, match="gradient 0"):
        clip_by_global_norm([np.array([1, 2])], 1.0)


# ------------------------------------------------------------------------------------- torch
RMSPROP_EPS = 1e-12  # epsilon's place differs (Keras: sqrt(v + eps), torch: sqrt(v) + eps);
# with |g| >= 0.5 an epsilon this small changes a step by < 1e-11 relative, below the tolerance.
TORCH_CASES = [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"learning_rate": 0.01, "epsilon": RMSPROP_EPS}),
    ("rmsprop", {"learning_rate": 0.01, "epsilon": RMSPROP_EPS, "momentum": 0.9}),
    ("rmsprop", {"learning_rate": 0.01, "epsilon": RMSPROP_EPS, "centered": True, "momentum": 0.5}),
    ("rmsprop", {"learning_rate": 0.01}),
    ("adagrad", {"learning_rate": 0.1}),
    ("adam", {"learning_rate": 0.01}),
    ("adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


def _torch_optimizer(torch, name, p, tensors):
    """The optimizer the exported train.py builds (`make_optimizer`, written from the optimizer
    class's own PyTorch form), over a module holding `tensors`; `MASK`'s kernels are its DECAYED."""
    from engine.export.pytorch_export import type_block

    module = torch.nn.Module()
    for i, tensor in enumerate(tensors):
        module.register_parameter(f"w{i}", torch.nn.Parameter(tensor.detach(), requires_grad=True))
    namespace = {
        "torch": torch,
        "OPTIMIZER": dict(p),
        "DECAYED": tuple(f"w{i}" for i, decayed in enumerate(MASK) if decayed),
    }
    exec(type_block("OPTIMIZER", OPTIMIZERS.get(name)), namespace)
    tensors[:] = list(module.parameters())
    return namespace["make_optimizer"](module, p["learning_rate"])


@pytest.mark.parametrize(
    ("name", "params"),
    TORCH_CASES,
    ids=[n + "".join(f"-{k}={v}" for k, v in p.items()) for n, p in TORCH_CASES],
)
def test_matches_torch_for_five_steps(name, params):
    torch = pytest.importorskip("torch")
    opt = get_optimizer(name, **params)
    if name == "rmsprop" and opt.params["epsilon"] > RMSPROP_EPS:
        pytest.skip(
            "rmsprop uses Keras' sqrt(v + epsilon), torch uses sqrt(v) + epsilon: "
            "they differ by up to epsilon/sqrt(v) relative at the default epsilon"
        )
    weights = _weights(np.float64)
    tensors = [torch.tensor(w.copy(), requires_grad=True) for w in weights]
    reference = _torch_optimizer(torch, name, opt.params, tensors)
    rng = np.random.default_rng(5)
    for _ in range(5):
        # magnitudes in [0.5, 1.5], random signs: no near-zero second moments
        grads = [(rng.uniform(0.5, 1.5, w.shape) * rng.choice([-1.0, 1.0], w.shape)) for w in weights]
        opt.step(weights, grads, opt.params["learning_rate"], MASK)
        for t, g in zip(tensors, grads, strict=True):
            t.grad = torch.tensor(g)
        reference.step()
        for w, t in zip(weights, tensors, strict=True):
            np.testing.assert_allclose(w, t.detach().numpy(), rtol=1e-10, atol=1e-12)
