"""Losses: gradients against central differences, fused logit paths, stability, target checks."""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np
import pytest

import engine  # noqa: F401  (fills the registries)
from engine._kernels import losses as K
from engine.activations import get_activation
from engine.errors import ConfigError, DataError, RegistryError
from engine.losses import Loss, get_loss
from engine.registry import LOSSES
from tests.engine.gradcheck import numeric_gradient, relative_error

NAMES = LOSSES.names()
FUSED = [name for name in NAMES if LOSSES.get(name).fused_activation is not None]
SHAPE = (6, 4)


def _onehot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


def _away_from(values: np.ndarray, kinks: list[float], gap: float = 0.05) -> np.ndarray:
    """Move values closer than `gap` to a kink off it, so differences never straddle one."""
    for kink in kinks:
        near = np.abs(values - kink) < gap
        values[near] = kink + gap * np.where(values[near] >= kink, 1.0, -1.0)
    return values


def sample(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Valid (y_pred, y_true) in float64 away from clips and kinks, for every registered loss."""
    rng = np.random.default_rng(seed)
    n, c = SHAPE
    probs = rng.uniform(0.05, 0.95, size=SHAPE)
    binary = rng.integers(0, 2, size=SHAPE).astype(np.float64)
    softmax = get_activation("softmax").forward(rng.normal(size=SHAPE))
    labels = rng.integers(0, c, size=n)
    if name in ("mse", "mae", "huber", "log_cosh"):
        t = rng.normal(size=SHAPE)
        return t + _away_from(rng.normal(scale=1.5, size=SHAPE), [-1.0, 0.0, 1.0]), t
    if name in ("binary_crossentropy", "binary_focal", "dice"):
        return probs, binary
    if name == "categorical_crossentropy":
        return softmax, _onehot(labels, c)
    if name == "sparse_categorical_crossentropy":
        return softmax, labels
    if name == "kl_divergence":
        return softmax, get_activation("softmax").forward(rng.normal(size=SHAPE))
    if name in ("hinge", "squared_hinge"):
        t = 2.0 * binary - 1.0
        return t * _away_from(rng.normal(scale=1.5, size=SHAPE), [1.0]), t
    if name == "sparsemax_loss":
        return get_activation("sparsemax").forward(rng.normal(size=SHAPE)), labels
    raise AssertionError(f"add a sample for the new loss {name!r}")


def logit_targets(name: str, z: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, z.shape[-1], size=z.shape[:-1])
    if name == "categorical_crossentropy":
        return get_activation("softmax").forward(rng.normal(size=z.shape))  # soft targets too
    if name == "sparsemax_loss":  # a class in the support: only there is the loss of p the same
        support = get_activation("sparsemax").forward(z) > 0
        return np.array([rng.choice(np.flatnonzero(row)) for row in support.reshape(-1, z.shape[-1])])
    return rng.integers(0, 2, size=z.shape).astype(np.float64)


def test_every_expected_loss_is_registered_with_its_texts():
    expected = {
        "mse",
        "mae",
        "huber",
        "log_cosh",
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "kl_divergence",
        "hinge",
        "squared_hinge",
        "binary_focal",
        "dice",
        "sparsemax_loss",
    }
    assert expected <= set(NAMES)
    for name in NAMES:
        cls = LOSSES.get(name)
        assert issubclass(cls, Loss) and cls.group == "Loss"
        assert cls.description and cls.formula and cls.when_to_use
        assert cls.target in ("dense", "index") and cls.task in ("classification", "regression")
        assert cls.fused_activation in (None, "softmax", "sigmoid", "sparsemax")
    assert LOSSES.get("sparse_categorical_crossentropy").target == "index"
    assert {n: LOSSES.get(n).fused_activation for n in FUSED} == {
        "binary_crossentropy": "sigmoid",
        "binary_focal": "sigmoid",
        "categorical_crossentropy": "softmax",
        "sparse_categorical_crossentropy": "softmax",
        "sparsemax_loss": "sparsemax",
    }


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    loss = get_loss(name)
    p, t = sample(name)
    analytic = loss.backward(p, t)
    assert analytic.shape == p.shape and analytic.dtype == np.float64
    assert relative_error(analytic, numeric_gradient(lambda: loss.forward(p, t), p)) < 1e-6


@pytest.mark.parametrize("name", FUSED)
def test_from_logits_equals_activation_then_loss(name):
    loss = get_loss(name)
    act = get_activation(loss.fused_activation)
    z = np.random.default_rng(1).normal(scale=2.0, size=SHAPE)
    t = logit_targets(name, z)
    a = act.forward(z)
    assert math.isclose(loss.forward_from_logits(z, t), loss.forward(a, t), rel_tol=1e-12)
    composed = act.backward(z, a, loss.backward(a, t))
    np.testing.assert_allclose(loss.backward_from_logits(z, t), composed, rtol=1e-9, atol=1e-15)
    numeric = numeric_gradient(lambda: loss.forward_from_logits(z, t), z)
    assert relative_error(loss.backward_from_logits(z, t), numeric) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUSED)
def test_from_logits_is_stable_for_huge_logits(name, dtype):
    loss = get_loss(name)
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0]], dtype=dtype)
    if name in ("sparse_categorical_crossentropy", "sparsemax_loss"):
        t = np.array([1, 1])
        expected = 2000.0 / 2  # sparsemax: 1000 + 999.5 + ½ for the first, 0 for the second
    elif name == "categorical_crossentropy":
        t = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)
        expected = 2000.0 / 2
    else:
        t = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=dtype)
        expected = None
    value, grad = loss.forward_from_logits(z, t), loss.backward_from_logits(z, t)
    assert math.isfinite(value) and grad.dtype == dtype and np.all(np.isfinite(grad))
    if expected is not None:
        assert math.isclose(value, expected, rel_tol=1e-6)
    if name == "binary_crossentropy":  # only z=1000 with t=0, z=0 and z=5 with t=1 cost anything
        assert math.isclose(value, (1000 + math.log(2) + math.log1p(math.exp(-5))) / 6, rel_tol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_at_the_clip_give_finite_values(name):
    loss = get_loss(name)
    p, t = sample(name)
    p = p.copy()
    p[:, 0], p[:, 1] = 0.0, 1.0
    assert math.isfinite(loss.forward(p, t)) and np.all(np.isfinite(loss.backward(p, t)))


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    loss = get_loss(name)
    p, t = sample(name)
    p32 = p.astype(np.float32)
    t32 = t if loss.target == "index" else t.astype(np.float32)
    assert loss.backward(p32, t32).dtype == np.float32
    assert math.isclose(loss.forward(p32, t32), loss.forward(p, t), rel_tol=1e-5, abs_tol=1e-6)
    if loss.fused_activation:
        assert loss.backward_from_logits(p32, t32).dtype == np.float32
        assert math.isclose(loss.forward_from_logits(p32, t32), loss.forward_from_logits(p, t), rel_tol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_each_equals_forward_per_stacked_output(name, dtype):
    """The fused path scores each epoch's validation outputs with one forward_each call."""
    loss = get_loss(name)
    outputs = np.stack([sample(name, seed)[0] for seed in range(5)]).astype(dtype)
    _, t = sample(name)
    t = t if loss.target == "index" else t.astype(dtype)
    each = loss.forward_each(outputs, t)
    assert each.dtype == np.float64 and each.shape == (5,)
    np.testing.assert_array_equal(each, [loss.forward(p, t) for p in outputs])
    assert loss.forward_each(outputs[:0], t).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_valid_targets_pass_and_non_fused_losses_refuse_logits(name):
    loss = get_loss(name)
    p, t = sample(name)
    loss.validate_targets(t, p.shape[1:], "training targets")
    if not loss.fused_activation:
        with pytest.raises(ConfigError, match="has no fused form"):
            loss.forward_from_logits(p, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_ce_kernels_match_their_numpy_twins(dtype):
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}
    rng = np.random.default_rng(2)
    z = rng.normal(scale=3.0, size=(9, 7)).astype(dtype)
    z[0, :3] = [1000.0, -1000.0, 0.0]
    labels = rng.integers(0, 7, size=9)
    labels[0] = 1
    targets = get_activation("softmax").forward(rng.normal(size=z.shape)).astype(dtype)
    for kernel, ref, y in (
        (K.softmax_ce_index, K.softmax_ce_index_ref, labels),
        (K.softmax_ce_dense, K.softmax_ce_dense_ref, targets),
    ):
        grad, grad_ref = np.empty_like(z), np.empty_like(z)
        value, value_ref = kernel(z, y, grad), ref(z, y, grad_ref)
        assert math.isclose(value, value_ref, rel_tol=tol["rtol"]) and math.isfinite(value)
        np.testing.assert_allclose(grad, grad_ref, **tol)
        assert grad.dtype == dtype
        no_grad = np.empty((0, 0), dtype)
        assert math.isclose(kernel(z, y, no_grad), value, rel_tol=1e-12)
        assert math.isclose(ref(z, y, no_grad), value_ref, rel_tol=1e-12)


def test_known_values_follow_keras():
    p = np.array([[0.5, 2.0], [1.0, -1.0]])
    t = np.array([[0.0, 1.0], [1.0, 1.0]])
    assert math.isclose(get_loss("mse").forward(p, t), (0.25 + 1 + 0 + 4) / 4)
    assert math.isclose(get_loss("mae").forward(p, t), (0.5 + 1 + 0 + 2) / 4)
    assert math.isclose(get_loss("huber").forward(p, t), (0.125 + 0.5 + 0 + 1.5) / 4)
    assert math.isclose(get_loss("huber", delta=2.0).forward(p, t), (0.125 + 0.5 + 0 + 2.0) / 4)
    x = np.array([[-3.0, 0.2, 40.0]])
    assert math.isclose(
        get_loss("log_cosh").forward(x, np.zeros_like(x)),
        np.mean([math.log(math.cosh(-3.0)), math.log(math.cosh(0.2)), 40 - math.log(2)]),
    )
    probs, labels = np.array([[0.8], [0.3]]), np.array([[1.0], [0.0]])
    bce = (-math.log(0.8) - math.log(0.7)) / 2
    assert math.isclose(get_loss("binary_crossentropy").forward(probs, labels), bce)
    assert math.isclose(get_loss("binary_focal", gamma=0.0).forward(probs, labels), bce)
    focal = (0.2**2 * -math.log(0.8) + 0.3**2 * -math.log(0.7)) / 2
    assert math.isclose(get_loss("binary_focal").forward(probs, labels), focal)
    balanced = (0.25 * 0.2**2 * -math.log(0.8) + 0.75 * 0.3**2 * -math.log(0.7)) / 2
    assert math.isclose(get_loss("binary_focal", apply_class_balancing=True).forward(probs, labels), balanced)
    cce = get_loss("categorical_crossentropy")
    q = np.array([[0.2, 0.3, 0.5]])
    assert math.isclose(cce.forward(q, [[0.0, 0.0, 1.0]]), -math.log(0.5))
    assert math.isclose(cce.forward(2 * q, [[0.0, 0.0, 1.0]]), -math.log(0.5))  # renormalized
    assert math.isclose(get_loss("sparse_categorical_crossentropy").forward(q, [1]), -math.log(0.3))
    assert math.isclose(
        get_loss("kl_divergence").forward(q, [[0.5, 0.5, 0.0]]),
        0.5 * math.log(0.5 / 0.2) + 0.5 * math.log(0.5 / 0.3) + 1e-7 * math.log(1e-7 / 0.5),
    )
    scores = np.array([[0.3, -2.0]])
    assert math.isclose(get_loss("hinge").forward(scores, [[1.0, -1.0]]), (0.7 + 0) / 2)
    assert get_loss("hinge").forward(scores, [[1.0, 0.0]]) == get_loss("hinge").forward(scores, [[1.0, -1.0]])
    assert math.isclose(get_loss("squared_hinge").forward(scores, [[1.0, -1.0]]), 0.49 / 2)
    mask = np.array([[[1.0, 0.0], [1.0, 0.0]]])
    assert math.isclose(
        get_loss("dice").forward(np.array([[[0.5, 0.5], [1.0, 0.0]]]), mask), 1 - 3.0 / (2 + 2 + 1e-7)
    )


def test_index_targets_fit_any_class_id_layout():
    loss = get_loss("sparse_categorical_crossentropy")
    z = np.random.default_rng(3).normal(size=(5, 4))
    labels = np.array([0, 3, 1, 2, 3])
    expected = loss.forward_from_logits(z, labels)
    assert loss.forward_from_logits(z, labels.reshape(5, 1)) == expected
    assert loss.forward_from_logits(z, labels.astype(np.float32)) == expected
    cce = get_loss("categorical_crossentropy")
    assert math.isclose(cce.forward_from_logits(z, _onehot(labels, 4)), expected, rel_tol=1e-14)
    cube = np.random.default_rng(4).normal(size=(2, 3, 4))
    ids = np.random.default_rng(5).integers(0, 4, size=(2, 3))
    assert math.isclose(
        loss.forward_from_logits(cube, ids), loss.forward_from_logits(cube.reshape(6, 4), ids.reshape(6))
    )


@pytest.mark.parametrize(
    ("name", "targets", "output_shape", "message"),
    [
        (
            "sparse_categorical_crossentropy",
            "label12at37",
            (10,),
            r"^training targets: sparse_categorical_crossentropy expects integer class ids in \[0, 10\), got 12 at sample 37$",
        ),
        (
            "sparse_categorical_crossentropy",
            [0, 1.5, 2],
            (3,),
            r"integer class ids in \[0, 3\), got 1.5 at sample 1",
        ),
        ("sparse_categorical_crossentropy", [0, -1, 2], (3,), r"got -1 at sample 1"),
        (
            "sparse_categorical_crossentropy",
            np.eye(3),
            (3,),
            r"got \(3, 3\); one-hot targets need categorical_crossentropy",
        ),
        (
            "categorical_crossentropy",
            [0, 1, 2],
            (3,),
            r"expects targets shaped like the output, \(N, 3\), got \(3,\); integer class ids need sparse_categorical",
        ),
        (
            "categorical_crossentropy",
            [[1.0]],
            (1,),
            r"at least 2\), got output shape \(1,\): for two classes use binary",
        ),
        (
            "binary_crossentropy",
            [[0.0], [1.0], [-1.0]],
            (1,),
            r"binary_crossentropy expects targets in \[0, 1\], got -1 at sample 2",
        ),
        ("binary_focal", [[0.0, 2.0]], (2,), r"binary_focal expects targets in \[0, 1\], got 2 at sample 0"),
        (
            "hinge",
            [[1.0], [0.5]],
            (1,),
            r"hinge expects targets in \{-1, 1\} \(or \{0, 1\}\), got 0.5 at sample 1",
        ),
        ("hinge", [[1.0], [-1.0], [0.0]], (1,), r"got 0 at sample 2"),
        ("mse", [[1.0], [np.nan]], (1,), r"mse expects finite targets, got nan at sample 1"),
        (
            "mse",
            np.zeros((4, 2)),
            (3,),
            r"mse expects targets shaped like the output, \(N, 3\), got \(4, 2\)$",
        ),
        ("mae", np.array(["a", "b"]), (1,), r"mae expects numeric targets, got values of type <U1"),
    ],
)
def test_validate_targets_names_the_problem(name, targets, output_shape, message):
    if isinstance(targets, str):
        targets = np.zeros(50, dtype=np.int64)
        targets[37] = 12
    with pytest.raises(DataError, match=message):
        get_loss(name).validate_targets(np.asarray(targets), output_shape, "training targets")


def test_regression_targets_of_shape_n_fit_a_single_output():
    get_loss("mse").validate_targets(np.zeros(5), (1,), "targets")
    get_loss("binary_crossentropy").validate_targets(np.ones(5, dtype=np.int64), (1,), "targets")
    get_loss("hinge").validate_targets(np.array([-1, 1, 1]), (1,), "targets")
    p = np.array([[0.5], [0.2]])
    assert get_loss("mse").forward(p, np.array([1.0, 0.0])) == get_loss("mse").forward(
        p, np.array([[1.0], [0.0]])
    )


def test_matches_torch_where_installed():
    torch = pytest.importorskip("torch", reason="torch not installed: comparison skipped")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    z, labels = rng.normal(size=SHAPE), rng.integers(0, SHAPE[1], size=SHAPE[0])
    bits = rng.integers(0, 2, size=SHAPE).astype(np.float64)
    pairs = [
        ("sparse_categorical_crossentropy", labels, lambda zt: F.cross_entropy(zt, torch.tensor(labels))),
        ("binary_crossentropy", bits, lambda zt: F.binary_cross_entropy_with_logits(zt, torch.tensor(bits))),
    ]
    for name, target, reference in pairs:
        zt = torch.tensor(z, requires_grad=True)
        value = reference(zt)
        value.backward()
        loss = get_loss(name)
        assert math.isclose(loss.forward_from_logits(z, target), value.item(), rel_tol=1e-12)
        np.testing.assert_allclose(
            loss.backward_from_logits(z, target), zt.grad.numpy(), rtol=1e-10, atol=1e-15
        )
    y = rng.normal(size=SHAPE)
    assert math.isclose(
        get_loss("huber", delta=0.7).forward(z, y),
        F.huber_loss(torch.tensor(z), torch.tensor(y), delta=0.7).item(),
        rel_tol=1e-12,
    )


def test_unknown_names_and_bad_parameters_are_reported():
    with pytest.raises(RegistryError, match="unknown loss 'msee'; valid choices: mse"):
        get_loss("msee")
    with pytest.raises(ConfigError, match="loss 'huber': parameter 'delta' must be at least"):
        get_loss("huber", delta=0.0)
    with pytest.raises(ConfigError, match="loss 'binary_focal': parameter 'alpha' must be at most 1"):
        get_loss("binary_focal", alpha=2.0)
    assert get_loss("binary_focal").params == {"gamma": 2.0, "alpha": 0.25, "apply_class_balancing": False}


def _torch_loss_value(name: str, torch) -> Any:
    """train.py's `loss_value` for loss `name`, as the PyTorch export writes it: the loss's own
    `torch_loss` with the template's helpers (_clip, _bce, _hinge_targets, EPSILON)."""
    from engine.export.pytorch_export import TEMPLATES, type_block

    tree = ast.parse((TEMPLATES / "pytorch_train.py").read_text(encoding="utf-8"))
    wanted = {"_clip", "_bce", "_hinge_targets", "EPSILON"}
    helpers = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in wanted)
        or (isinstance(node, ast.Assign) and node.targets[0].id in wanted)
    ]
    namespace = {"torch": torch, "F": torch.nn.functional, "math": math, "LOSS": {"type": name}}
    exec(compile(ast.Module(helpers, []), "pytorch_train.py", "exec"), namespace)
    namespace["LOSS"].update(get_loss(name).params)
    exec(type_block("LOSS", LOSSES.get(name)), namespace)
    return namespace["loss_value"]


@pytest.mark.parametrize("name", NAMES)
def test_torch_form_in_the_training_script_equals_the_loss(name):
    torch = pytest.importorskip("torch", reason="torch not installed: comparison skipped")
    loss_value = _torch_loss_value(name, torch)
    p, t = sample(name, seed=3)
    target = torch.tensor(t, dtype=torch.int64 if LOSSES.get(name).target == "index" else torch.float64)
    expected = get_loss(name).forward(p, t)
    assert math.isclose(loss_value(torch.tensor(p), target, False).item(), expected, rel_tol=1e-9)
    if name in FUSED:
        z = np.random.default_rng(4).normal(size=SHAPE)
        t = logit_targets(name, z)
        target = torch.tensor(t, dtype=target.dtype)
        expected = get_loss(name).forward_from_logits(z, t)
        assert math.isclose(loss_value(torch.tensor(z), target, True).item(), expected, rel_tol=1e-9)
