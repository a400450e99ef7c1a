"""Does the data fit the network? The check made before training, and the fix it offers.

`fit_problems` compares a data set with a network's Input, output layer and loss, and returns
each disagreement that would make training fail (or learn nothing), with one `FitFix` that
changes the layers' parameters and the training section together: a classifier's output units,
its activation and its loss only work as a set (2 classes: 1 sigmoid unit + binary
cross-entropy; k classes: k softmax units + sparse categorical cross-entropy), so fixing one of
them alone leaves a network that still cannot train.

The loss's own rule for target shapes and values (`Loss.validate_targets`, which `Trainer.fit`
applies) is run here too, so a failure it would raise is foreseen with the same message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.data.dataset import Dataset
from engine.errors import DataError, NetCanvasError
from engine.graph import NetworkSpec, Shape, ShapeReport
from engine.losses import Loss, get_loss
from engine.training.config import TrainingConfig

NO_DATA = "no data chosen: choose a data source in the Data tab"
BINARY = (1, "sigmoid", "binary_crossentropy")
MULTICLASS_LOSS = "sparse_categorical_crossentropy"
REGRESSION_LOSS = "mse"
# Layers that keep their input's last axis: the output's units are set on the layer before them.
_PASS_THROUGH = ("Activation", "Dropout", "BatchNormalization")


@dataclass(frozen=True)
class FitFix:
    """What makes data and network agree: new parameters per node id and, when the loss must
    change too, the loss's registry name (`apply_fit_fix` applies both)."""

    label: str
    node_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    loss: str | None = None

    def training_section(self, training: dict[str, Any]) -> dict[str, Any]:
        """The "training" section `training` with this fix's loss. Explicit metrics are dropped
        with the old loss (the new loss's default metrics suit it; the old ones may not)."""
        if self.loss is None:
            return dict(training)
        section = {key: value for key, value in training.items() if key != "metrics"}
        section["loss"] = {"type": self.loss}
        return section


@dataclass(frozen=True)
class FitProblem:
    """Data and network disagree: what is wrong, the node concerned (or None) and the fix."""

    message: str
    node_id: str | None = None
    fix: FitFix | None = None


def fit_problems(
    spec: NetworkSpec, report: ShapeReport, training: TrainingConfig, dataset: Dataset | None
) -> list[FitProblem]:
    """Where `dataset` (None: no data chosen) does not fit the network, each with its fix.

    `report` is `spec.infer_shapes()`; where it has no output shape (the graph itself has a
    problem) only the Input is compared. The data's x is (N, *features) and y (N,) class ids or
    (N, k) regression values, as `Dataset` holds them.
    """
    if dataset is None:
        return [FitProblem(NO_DATA)]
    problems = _input_problems(spec, dataset)
    try:
        out_id = spec.output_id()
    except NetCanvasError:
        return problems
    out_shape = report.shapes.get(out_id)
    # A problem of the output layer itself (e.g. softmax over 1 unit) is the network's to report.
    if out_shape and not any(p.node_id in _output_chain(spec, out_id) for p in report.problems):
        problems.extend(_output_problems(spec, out_id, out_shape, training, dataset))
    return problems


def apply_fit_fix(spec: NetworkSpec, fix: FitFix) -> None:
    """Apply `fix` to `spec` in place (its nodes' parameters and its "training" section)."""
    for node_id, params in fix.node_params.items():
        spec.set_params(node_id, params)
    spec.training = TrainingConfig.from_dict(fix.training_section(spec.training)).to_dict()


# ------------------------------------------------------------------- input
def _input_problems(spec: NetworkSpec, dataset: Dataset) -> list[FitProblem]:
    inputs = spec.input_ids()
    features = tuple(int(d) for d in dataset.x.shape[1:])
    if len(inputs) > 1:
        return [
            FitProblem(
                f"the data has one input array but the network has {len(inputs)} Input "
                f"layers ({', '.join(inputs)}): keep one"
            )
        ]
    if not inputs:
        return []
    node = spec.nodes[inputs[0]]
    shape = tuple(node.params.get("shape", ()))
    if _reshapes_cleanly(shape, features):
        return []
    # A 1-D Input stays 1-D (images are flattened into it); any other takes the samples' shape.
    wanted = [math.prod(features)] if len(shape) == 1 else list(features)
    label = f"Set Input '{node.id}' to shape {wanted}"
    fix = FitFix(label, {node.id: {"shape": wanted}}) if _fix_keeps_graph(spec, node.id, wanted) else None
    if len(features) > 1 and len(shape) > 1:
        message = (
            f"the data has images of shape {features} (channels, height, width) but Input "
            f"'{node.id}' expects {shape}"
        )
    else:
        message = f"the data has samples of shape {features} but Input '{node.id}' expects {shape}"
    if fix is None:
        message += ": this network cannot take such samples; choose other data"
    return [FitProblem(message, node.id, fix)]


def _reshapes_cleanly(shape: tuple[int, ...], features: tuple[int, ...]) -> bool:
    """Whether samples of shape `features` go into an Input of `shape` as they are: the same
    shape, a flat Input taking the flattened samples (28x28 images into 784), flat rows filling
    the Input, or the same shape but for axes of size 1 ((1, 28, 28) into (28, 28)). Images into
    another image shape of the same size ((1, 28, 28) into (28, 28, 1): 28 channels of 28x1
    pixels) would train on something else than the pictures."""
    if math.prod(shape) != math.prod(features):
        return False
    if len(shape) <= 1 or len(features) <= 1:
        return True
    if len(shape) == len(features):
        return shape == features
    return [d for d in shape if d != 1] == [d for d in features if d != 1]


def _fix_keeps_graph(spec: NetworkSpec, input_id: str, wanted: list[int]) -> bool:
    """Whether the Input's new shape leaves the layers after it able to work (a convolution
    cannot take a row of table columns): the fix is offered only then."""
    trial = spec.copy()
    try:
        trial.set_params(input_id, {"shape": wanted})
        before = {problem.node_id for problem in spec.infer_shapes().problems}
        return {problem.node_id for problem in trial.infer_shapes().problems} <= before
    except NetCanvasError:
        return False


# ------------------------------------------------------------------ output
def _output_problems(
    spec: NetworkSpec, out_id: str, out_shape: Shape, training: TrainingConfig, dataset: Dataset
) -> list[FitProblem]:
    loss = get_loss(training.loss.type, **training.loss.params)
    units_id = _nearest_with(spec, out_id, "units")
    activation_id = _nearest_with(spec, out_id, "activation")
    activation = spec.nodes[activation_id].params["activation"] if activation_id else None
    units = out_shape[-1]
    classification = dataset.task == "classification"
    classes = int(dataset.n_classes or 2) if classification else 0
    if classification:
        wanted = _classifier(classes, units, loss)
        message = _classification_mismatch(classes, units, loss, activation, out_id, wanted)
    else:
        width = int(math.prod(dataset.y.shape[1:])) if dataset.y.ndim > 1 else 1
        wanted = (
            width,
            "linear" if activation in ("softmax", "sigmoid") else activation,
            REGRESSION_LOSS if loss.task == "classification" else loss.name,
        )
        message = _regression_mismatch(width, units, loss, out_id)
    if message is None:
        try:
            loss.validate_targets(dataset.y, out_shape, "training targets")
        except DataError as exc:
            message = str(exc)
    if message is None:
        return []
    fix = _output_fix(units_id, activation_id, wanted, units, activation, loss.name)
    return [FitProblem(message, units_id or out_id, fix)]


def _classifier(classes: int, units: int, loss: Loss) -> tuple[int, str, str]:
    """The (units, activation, loss) set for `classes` classes: two classes keep 2 softmax units
    when the output has 2 and the loss is a softmax one, else they get 1 sigmoid unit."""
    if classes == 2 and not (units == 2 and (loss.target == "index" or loss.fused_activation == "softmax")):
        return BINARY
    return classes, "softmax", MULTICLASS_LOSS


def _classification_mismatch(
    classes: int, units: int, loss: Loss, activation: str | None, out_id: str, wanted: tuple[int, str, str]
) -> str | None:
    """Why a classifier's output cannot learn `classes` classes with this loss, or None (the
    loss's own target check, run next, explains the rest)."""
    if units not in (wanted[0], classes):
        return f"the data has {classes} classes but the output '{out_id}' has {units} unit(s)"
    if loss.fused_activation and activation is not None and activation != loss.fused_activation:
        return (
            f"the loss {loss.name} expects a {loss.fused_activation} output, but the output "
            f"'{out_id}' uses {activation}"
        )
    return None


def _regression_mismatch(width: int, units: int, loss: Loss, out_id: str) -> str | None:
    """Why an output or loss cannot fit `width` continuous target values, or None."""
    if loss.task == "classification":
        return f"the data has continuous targets (regression) but the loss {loss.name} is for class labels"
    if units != width:
        return (
            f"the data has {width} target value(s) per sample but the output '{out_id}' has {units} unit(s)"
        )
    return None


def _output_fix(
    units_id: str | None,
    activation_id: str | None,
    wanted: tuple[int, str | None, str],
    units: int,
    activation: str | None,
    loss_name: str,
) -> FitFix | None:
    """One fix setting units, activation and loss together; None when no layer holds what must
    change, or nothing would."""
    want_units, want_activation, want_loss = wanted
    params: dict[str, dict[str, Any]] = {}
    if want_units != units:
        if units_id is None:
            return None
        params.setdefault(units_id, {})["units"] = want_units
    if want_activation is not None and want_activation != activation:
        if activation_id is None:
            return None
        params.setdefault(activation_id, {})["activation"] = want_activation
    new_loss = want_loss if want_loss != loss_name else None
    if not params and new_loss is None:
        return None
    parts = [f"'{node_id}' to {_describe(p)}" for node_id, p in params.items()]
    if new_loss is not None:
        parts.append(f"the loss to {new_loss}")
    return FitFix("Set " + " and ".join(parts), params, new_loss)


def _describe(params: dict[str, Any]) -> str:
    """{"units": 1, "activation": "sigmoid"} as "1 sigmoid unit", {"activation": "linear"} as
    "a linear activation"."""
    if "units" not in params:
        return f"a {params['activation']} activation"
    count = params["units"]
    kind = f"{params['activation']} " if "activation" in params else ""
    return f"{count} {kind}unit" + ("s" if count != 1 else "")


def _output_chain(spec: NetworkSpec, out_id: str) -> set[str | None]:
    """The output node and the nodes holding its units and activation."""
    return {out_id, _nearest_with(spec, out_id, "units"), _nearest_with(spec, out_id, "activation")} - {None}


def _nearest_with(spec: NetworkSpec, node_id: str, param: str) -> str | None:
    """The output node or, through layers that keep the last axis, the nearest one before it
    that has parameter `param` (the Dense whose units an Activation or Dropout passes on)."""
    current = node_id
    while param not in spec.nodes[current].params:
        sources = spec.inputs_of(current)
        if spec.nodes[current].type not in _PASS_THROUGH or len(sources) != 1:
            return None
        current = sources[0]
    return current


__all__ = ["NO_DATA", "FitFix", "FitProblem", "apply_fit_fix", "fit_problems"]
