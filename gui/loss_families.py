"""What the Loss Explorer shows, computed by the engine's own loss classes (no Qt here).

Three tasks, each a family of losses drawn over one prediction with everything else fixed:
- regression: the prediction ŷ against a target y;
- two classes: the output's score z (the logit before the sigmoid): the cross-entropies see
  p = σ(z) (computed from z as training does), hinge sees z itself with the target 0/1 read as
  -1/+1, so the margin losses share one axis;
- several classes: the score of the true class, the other classes' scores fixed; the target a
  one-hot class, or smoothed (1 - ε on the class, ε/K on each), which sparse cross-entropy and the
  sparsemax loss cannot take (they read a class id).

`curves` gives each loss's value and slope (d loss / d x) over x, one engine call per point on a
batch of one sample, so each value is the loss of that one sample. `loss_table` scores typed
predictions and targets with every loss of every family, or says why one does not apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.activations import get_activation
from engine.errors import NetCanvasError
from engine.losses import Loss, get_loss


@dataclass(frozen=True)
class Family:
    """A task and the losses drawn for it."""

    key: str
    title: str
    losses: tuple[str, ...]
    x_label: str
    x_range: tuple[float, float]  # around the target (regression) or absolute
    note: str  # what the x axis is, with the rest fixed
    look: str  # what to look at in the curves


FAMILIES = (
    Family(
        "regression",
        "Regression",
        ("mse", "mae", "huber", "log_cosh"),
        "prediction ŷ",
        (-3.0, 3.0),
        "x: the prediction ŷ of one value; the target y is fixed (the dotted line)",
        "MSE's slope grows with the error, so a few large errors dominate training. MAE pushes "
        "with the same force at any distance, even right next to the target. Huber and log-cosh "
        "behave like MSE near the target and like MAE far from it.",
    ),
    Family(
        "binary",
        "Two classes",
        ("binary_crossentropy", "hinge", "binary_focal", "dice"),
        "score z (probability p = σ(z))",
        (-5.0, 5.0),
        "x: the output's score z before the sigmoid; cross-entropy, focal and dice see p = σ(z), "
        "hinge sees z (targets 0/1 read as -1/+1)",
        "Hinge is exactly 0 once z ≥ 1: answers right by a margin stop counting. Cross-entropy "
        "never quite reaches 0, it keeps pushing a little. Focal gives the examples already "
        "right (z > 0) almost no loss, so training spends itself on the hard ones. With target 0, "
        "dice is 1 whatever z is: it only scores the overlap with the positives.",
    ),
    Family(
        "multiclass",
        "Several classes",
        ("categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "sparsemax_loss"),
        "score z₀ of the true class",
        (-4.0, 6.0),
        "x: the score z₀ of the true class 0; the other two scores stay fixed at z₁ = 1 and z₂ = -0.5 "
        "(cross-entropy and KL divergence see softmax(z), the sparsemax loss sparsemax(z))",
        "The sparsemax loss is exactly 0 from z₀ = 2 on (a margin of 1 over z₁): its slope "
        "sparsemax(z)₀ - 1 is 0 there. With smoothing ε > 0 cross-entropy rises again for very "
        "confident scores (the target asks for 1 - ε, not 1); KL divergence is cross-entropy "
        "minus the target's entropy: the same slope, a lower curve. Set ε to 0 to see them meet.",
    ),
)
FAMILY = {family.key: family for family in FAMILIES}
OTHER_SCORES = (1.0, -0.5)  # z₁, z₂ of the several-classes curves
POINTS = 241

_SOFTMAX = get_activation("softmax")


def curves(
    family: str, target: float, names: list[str] | tuple[str, ...], points: int = POINTS
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """x `(points,)` and, per loss name, (value, slope) `(points,)` each, for the task `family`
    with `target`: y for regression, the class 0 or 1 for two classes, the label smoothing ε
    for several classes. Each value is the engine's loss of one sample; the slopes come from one
    backward pass over the batch of all points (the mean's 1/points taken back out)."""
    spec = FAMILY[family]
    low, high = spec.x_range
    shift = target if family == "regression" else 0.0
    x = np.linspace(low + shift, high + shift, points)
    batch = {"regression": _regression, "binary": _binary, "multiclass": _multiclass}[family]
    return x, {name: batch(get_loss(name), x, target) for name in names}


def _each(forward, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """forward(one sample's inputs, its targets) for each sample of the batch."""
    return np.array([forward(inputs[i : i + 1], targets[i : i + 1]) for i in range(len(inputs))])


def _regression(loss: Loss, x: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    p, t = x[:, None], np.full((len(x), 1), target)
    return _each(loss.forward, p, t), loss.backward(p, t)[:, 0] * len(x)


def _binary(loss: Loss, z: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    scores, t = z[:, None], np.full((len(z), 1), target)
    if loss.fused_activation == "sigmoid":  # as training computes it: from the score
        return _each(loss.forward_from_logits, scores, t), loss.backward_from_logits(scores, t)[:, 0] * len(z)
    if loss.value_range == (0.0, 1.0):  # a loss of probabilities (dice): chain rule through σ
        sigmoid = get_activation("sigmoid")
        p = sigmoid.forward(scores)
        slope = sigmoid.backward(scores, p, loss.backward(p, t))[:, 0] * len(z)
        return _each(loss.forward, p, t), slope
    return _each(loss.forward, scores, t), loss.backward(scores, t)[:, 0] * len(z)


def smoothed_target(smoothing: float, classes: int = 3) -> np.ndarray:
    """The target distribution `(classes,)` of class 0 with label smoothing ε."""
    return np.full(classes, smoothing / classes) + np.eye(classes)[0] * (1.0 - smoothing)


def _multiclass(loss: Loss, z0: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    z = np.stack([z0, *(np.full_like(z0, score) for score in OTHER_SCORES)], axis=1)
    if loss.target == "index":  # a class id: the smoothing does not reach it
        t = np.zeros(len(z), dtype=np.int64)
    else:
        t = np.tile(smoothed_target(smoothing, z.shape[-1]), (len(z), 1))
    if loss.fused_activation is not None:
        return _each(loss.forward_from_logits, z, t), loss.backward_from_logits(z, t)[:, 0] * len(z)
    p = _SOFTMAX.forward(z)  # kl_divergence compares probabilities: those of the softmax
    slope = _SOFTMAX.backward(z, p, loss.backward(p, t))[:, 0] * len(z)
    return _each(loss.forward, p, t), slope


# ----------------------------------------------------------------------------- typed numbers
_SEPARATOR = re.compile(r"[\s,]+")


class InputError(ValueError):
    """Typed text that cannot be read, with the message to show."""


def parse_numbers(text: str, what: str) -> np.ndarray:
    """The numbers of `text` as a float64 array: a column `(n, 1)` of comma/space separated
    numbers, or `(rows, K)` when rows of K numbers are separated by ';' or new lines. Raises
    InputError naming `what` (e.g. "predictions") and the first word that is not a number."""
    rows = [row for row in re.split(r"[;\n]", text) if row.strip()]
    if not rows:
        raise InputError(f"Type the {what}: numbers separated by commas or spaces")
    table = []
    for row in rows:
        values = []
        for word in _SEPARATOR.split(row.strip()):
            try:
                values.append(float(word))
            except ValueError:
                raise InputError(f"'{word}' in the {what} is not a number") from None
        table.append(values)
    if any(not np.all(np.isfinite(row)) for row in table):
        raise InputError(f"The {what} must be finite numbers (no inf or nan)")
    if len(table) == 1:
        return np.array(table[0], dtype=np.float64)[:, None]
    widths = {len(row) for row in table}
    if len(widths) != 1:
        raise InputError(
            f"Each row of the {what} needs the same count of numbers (one per class), got "
            f"{', '.join(str(len(row)) for row in table)}"
        )
    return np.array(table, dtype=np.float64)


@dataclass(frozen=True)
class Row:
    """One loss in the table: its value, or None with the reason it does not apply."""

    name: str
    value: float | None
    note: str


def loss_table(predictions: str, targets: str) -> list[Row]:
    """Every loss of every family on the typed predictions and targets (as one batch, each
    loss's own mean); raises InputError when the two texts cannot be paired at all."""
    p = parse_numbers(predictions, "predictions")
    t = parse_numbers(targets, "targets")
    ids = p.shape[1] > 1 and t.shape[1] == 1 and len(t) == len(p)
    if not ids and t.shape != p.shape:
        raise InputError(
            f"There are {_count(p)} predictions but {_count(t)} targets: type one target per "
            "prediction (or, for rows of class probabilities, one class number per row)"
        )
    return [_row(name, p, t) for family in FAMILIES for name in family.losses]


def _count(a: np.ndarray) -> str:
    return str(len(a)) if a.shape[1] == 1 else f"{a.shape[0]} rows of {a.shape[1]}"


def _row(name: str, p: np.ndarray, t: np.ndarray) -> Row:
    loss = get_loss(name)
    probabilities = loss.value_range == (0.0, 1.0) or loss.fused_activation is not None
    if probabilities and np.any((p < 0) | (p > 1)):
        return Row(name, None, "needs probabilities in [0, 1] as predictions")
    targets = t[:, 0] if loss.target == "index" else t
    try:
        loss.validate_targets(targets, p.shape[1:], "targets")
        return Row(name, loss.forward(p, targets), loss.formula)
    except NetCanvasError as exc:
        return Row(name, None, str(exc).removeprefix(f"targets: {name} "))
