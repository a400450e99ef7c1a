"""Every registered metric on hand-checkable batches, and the rules `Trainer` relies on."""

from __future__ import annotations

import numpy as np
import pytest

from engine.metrics import METRICS, default_metrics, get_metric


def test_accuracy_picks_the_comparison_from_the_shapes():
    accuracy = get_metric("accuracy")
    # one output value: thresholded at 0.5 (targets may be (N,) for an (N, 1) prediction)
    assert accuracy(np.array([[0.9], [0.2], [0.6], [0.4]]), np.array([1, 0, 0, 0])) == 0.75
    # one class id per prediction vector: argmax against the id
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.1, 0.5]], np.float32)
    assert accuracy(probs, np.array([1, 0, 1, 2])) == 0.75
    # one-hot targets: argmax against argmax
    assert accuracy(probs, np.eye(3)[[1, 0, 1, 2]]) == 0.75


@pytest.mark.parametrize(
    ("name", "p", "t", "expected"),
    [
        ("binary_accuracy", [[0.9, 0.1], [0.6, 0.7]], [[1, 0], [0, 1]], 0.75),
        ("categorical_accuracy", [[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]], [[0, 1], [0, 1], [0, 1]], 2 / 3),
        ("sparse_categorical_accuracy", [[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]], [1, 1, 1], 2 / 3),
        ("hinge_accuracy", [[0.3], [-2.0], [0.1], [-0.5]], [[1], [-1], [-1], [-1]], 0.75),
        ("hinge_accuracy", [[0.3], [-2.0], [0.1], [-0.5]], [[1], [0], [0], [0]], 0.75),  # 0/1 read as -1/1
        ("mae", [[1.0, 2.0], [3.0, 5.0]], [[1.5, 2.0], [2.0, 5.0]], 0.375),
        ("rmse", [[1.0], [3.0]], [[2.0], [6.0]], np.sqrt(5.0)),
    ],
)
def test_each_metric_on_a_small_batch(name, p, t, expected):
    assert get_metric(name)(np.array(p), np.array(t)) == pytest.approx(expected, rel=1e-12)


def test_r2_averages_per_output_and_scores_a_constant_target_as_sklearn_does():
    p = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    t = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])  # output 2: constant and predicted exactly -> 1
    ss_res, ss_tot = 1.0, np.sum(np.square([1 - 7 / 3, 2 - 7 / 3, 4 - 7 / 3]))
    assert get_metric("r2")(p, t) == pytest.approx(((1 - ss_res / ss_tot) + 1.0) / 2, rel=1e-12)
    # the constant output predicted wrongly scores 0
    assert get_metric("r2")(p + [[0, 1]], t) == pytest.approx(((1 - ss_res / ss_tot) + 0.0) / 2, rel=1e-12)


def test_an_empty_batch_scores_zero_rather_than_nan():
    for name in METRICS.names():
        assert get_metric(name)(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_only_means_over_samples_are_batch_weighted():
    """The trainer averages batch values weighted by batch size only for these; rmse and r2 of an
    epoch must be computed over the whole epoch instead."""
    weighted = {name for name, cls in METRICS.items() if cls.batch_weighted}
    assert weighted == set(METRICS.names()) - {"rmse", "r2"}


def test_default_metrics_follow_the_loss():
    assert default_metrics("sparse_categorical_crossentropy") == ["accuracy"]
    assert default_metrics("mse") == ["mae"]
    assert default_metrics("hinge") == ["hinge_accuracy"]


@pytest.mark.parametrize("name", sorted(METRICS.names()))
@pytest.mark.parametrize("shape", ["one output", "1-D output", "class ids", "one-hot"])
def test_each_scores_a_stack_exactly_as_one_call_per_batch(name, shape):
    rng = np.random.default_rng(4)
    if shape == "one output":
        preds, targets = rng.random((5, 37, 1)), rng.integers(0, 2, (5, 37)).astype(np.float64)
    elif shape == "1-D output":  # each batch's predictions (N,): binary, not N class scores
        preds, targets = rng.random((5, 37)), rng.integers(0, 2, (5, 37)).astype(np.float64)
    elif shape == "class ids":
        preds, targets = rng.random((5, 37, 4)), rng.integers(0, 4, (5, 37))
    else:
        preds, targets = rng.random((5, 37, 4)), np.eye(4)[rng.integers(0, 4, (5, 37))]
    metric = get_metric(name)
    try:
        expected = [metric(p, t) for p, t in zip(preds, targets, strict=True)]
    except ValueError:  # shapes this metric does not take (e.g. one-hot rows for class ids)
        with pytest.raises(ValueError):
            metric.each(preds, targets)
        return
    assert metric.each(preds, targets).tolist() == expected
