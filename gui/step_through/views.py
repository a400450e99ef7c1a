"""What the Step-through panel shows at each step: the formula, the matrices, the written-out
numbers, the output bars and the labels on the canvas's edges. No widgets here: `show_step` turns
a `walk.Step` into a `StepView` the panel draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.network import Network
from gui.step_through import walk
from gui.step_through.matrices import NEW_LINE, Term, as_rows, column
from gui.step_through.walk import BACKWARD, FORWARD, LOSS, num
from gui.training.confusion_view import image_shape

MAX_UPDATE_LAYERS = 3  # the update step draws at most this many weight matrices
VANISHING = 1e-2  # a δ this much smaller than the output layer's is called vanishing


@dataclass
class Walk:
    """One sample's trace and what the walk needs besides: the network it was taken on, the raw
    sample `x` (as the data holds it) and target `y`, the unit chosen per node, the learning rate
    and the weights and loss after one gradient step."""

    network: Network
    trace: Any
    x: np.ndarray
    y: Any
    learning_rate: float
    stepped: list[np.ndarray]
    loss_after: float
    chosen: dict[str, int] = field(default_factory=dict)

    def layer_number(self, node_id: str) -> int:
        return [n.id for n in self.trace.nodes].index(node_id)

    def node(self, node_id: str) -> Any:
        return next(n for n in self.trace.nodes if n.id == node_id)


@dataclass
class StepView:
    """formula: one line (plain text); parts: Terms and operators for MatrixProduct; detail: the
    numbers written out (plain text); bars: (probabilities, target class or None) or None;
    edge_labels: {(source, target): text} for the canvas."""

    formula: str
    parts: list[Term | str]
    detail: str = ""
    bars: tuple[np.ndarray, int | None] | None = None
    edge_labels: dict[tuple[str, str], str] = field(default_factory=dict)


def sup(n: int) -> str:
    """A layer number as a superscript in parentheses: ⁽²⁾."""
    return "⁽" + str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) + "⁾"


def short(values: np.ndarray, count: int = 3) -> str:
    """A vector for an edge label: '[0.31, −0.82]' or '[0.31, −0.82, 0.10, … 784 values]'."""
    flat = np.asarray(values, np.float64).reshape(-1)
    shown = ", ".join(num(v) for v in flat[:count])
    return f"[{shown}]" if flat.size <= count else f"[{shown}, … {flat.size} values]"


def target_class(walk_: Walk) -> int | None:
    """The target as a class index when the output is a set of class probabilities."""
    y = np.asarray(walk_.y)
    size = int(np.asarray(walk_.trace.prediction).size)
    if size < 2:
        return None
    return int(y.reshape(-1).argmax()) if y.size == size else int(y.reshape(-1)[0])


def output_bars(walk_: Walk) -> tuple[np.ndarray, int | None] | None:
    """The output as class probabilities (softmax outputs summing to 1), else None."""
    p = np.asarray(walk_.trace.prediction, np.float64).reshape(-1)
    if p.size < 2 or np.any(p < 0) or abs(p.sum() - 1) > 1e-3:
        return None
    return p, target_class(walk_)


def incoming(walk_: Walk, node_id: str) -> list[tuple[str, str]]:
    return [e for e in walk_.network.spec.edges if e[1] == node_id]


def show_step(walk_: Walk, step: walk.Step) -> StepView:
    if step.kind == FORWARD:
        return forward_view(walk_, step.node)
    if step.kind == LOSS:
        return loss_view(walk_)
    if step.kind == BACKWARD:
        return backward_view(walk_, step.node)
    return update_view(walk_)


# ------------------------------------------------------------------ forward
def forward_view(walk_: Walk, node: Any) -> StepView:
    n = walk_.layer_number(node.id)
    labels = {e: short(walk_.node(e[0]).output) for e in incoming(walk_, node.id)}
    if node.type == "Input":
        return input_view(walk_, node)
    activation = node.activation
    if node.type == "Dense" and node.weights.get("kernel") is not None and node.weights["kernel"].ndim == 2:
        kernel, chosen = node.weights["kernel"], walk_.chosen.get(node.id, 0)
        mark = {chosen: "chosen"}
        parts: list[Term | str] = [
            Term(f"W{sup(n)}", kernel.T, pick_rows=True, marks=mark),
            "·",
            column(f"a{sup(n - 1)}", node.inputs[0]),
        ]
        if "bias" in node.weights:
            parts += ["+", column(f"b{sup(n)}", node.weights["bias"], marks=mark)]
        parts += ["=", column(f"z{sup(n)}", node.z, pick_rows=True, marks=mark)]
        parts += [f"→ {activation} →", column(f"a{sup(n)}", node.output, pick_rows=True, marks=mark)]
        formula = f"z{sup(n)} = W{sup(n)}a{sup(n - 1)} + b{sup(n)},   a{sup(n)} = {activation}(z{sup(n)})"
        detail = walk.neuron_sum(node, chosen, activation).text()
        detail += "\nClick a row of W, z or a to write out another unit's sum."
        bars = output_bars(walk_) if node is walk_.trace.nodes[-1] else None
        return StepView(formula, parts, detail, bars, labels)
    words = walk.layer_words(node.type)
    parts = [as_rows(f"input of {node.id}", node.inputs[0]), "→"]
    if node.z is not None:
        parts += [as_rows(f"z{sup(n)}", node.z), f"→ {activation} →"]
    parts.append(as_rows(f"a{sup(n)}", node.output))
    bars = output_bars(walk_) if node is walk_.trace.nodes[-1] else None
    return StepView(f"{node.type} '{node.id}': {words}", parts, "", bars, labels)


def input_view(walk_: Walk, node: Any) -> StepView:
    """The sample going in; a picture first when it is an image (the 28×28 digit, then its
    784-long column)."""
    values = np.asarray(node.output, np.float64)
    shape = image_shape(tuple(np.asarray(walk_.x).shape))
    parts: list[Term | str] = []
    if shape is not None:
        picture = np.asarray(walk_.x, np.float64).reshape(-1)[: shape[0] * shape[1]].reshape(shape)
        parts += [Term("the image", picture, picture=True), "→ one column →"]
    parts.append(column(f"a{sup(0)} = x", values) if values.ndim <= 1 else as_rows(f"a{sup(0)} = x", values))
    detail = f"This sample's {values.size} input values: {short(values, 6)}"
    if values.size > 6:
        nonzero = int(np.count_nonzero(values))
        detail = (
            f"This sample's {values.size} input values, from {num(values.min())} to {num(values.max())}, "
            f"{nonzero} of them not 0."
        )
    if shape is not None:
        detail += (
            f"\nThe {shape[0]}×{shape[1]} picture becomes a column of {values.size} numbers, one per pixel."
        )
    return StepView(f"a{sup(0)} = x: the sample goes in ({values.size} numbers)", parts, detail)


# ----------------------------------------------------------------- loss
def loss_view(walk_: Walk) -> StepView:
    trace = walk_.trace
    prediction = np.asarray(trace.prediction, np.float64)
    text = walk.loss_text(walk_.network, prediction, walk_.y, trace.loss)
    parts: list[Term | str] = [column("prediction ŷ", prediction)]
    target = np.asarray(walk_.y, np.float64).reshape(-1)
    if target.size != prediction.size and target_class(walk_) is not None:  # a class id: one-hot
        target = np.eye(prediction.size)[target_class(walk_)]
    if target.size == prediction.size:
        parts += ["vs", column("target y", target)]
    parts += ["→", column("L", np.array([trace.loss]))]
    return StepView("L: how wrong this one prediction is", parts, text, output_bars(walk_))


# -------------------------------------------------------------- backward
def backward_view(walk_: Walk, node: Any) -> StepView:
    n = walk_.layer_number(node.id)
    last = node is walk_.trace.nodes[-1]
    quiet, why = walk.quiet_units(node)
    dense = node.z is not None and np.ndim(node.z) == 1  # one row per unit: the quiet ones marked
    marks = dict.fromkeys(quiet, "quiet") if dense else {}
    labels = {e: _edge_gradient(walk_, e[0], node) for e in incoming(walk_, node.id)}
    slope = walk.derivative(node)
    parts: list[Term | str] = []
    if node.z is not None and slope is not None and node.grad_output is not None:
        parts += [
            as_rows(f"∂L/∂a{sup(n)}", node.grad_output, marks=marks),
            "⊙",
            as_rows(f"f′(z{sup(n)})", slope, marks=marks),
            "=",
        ]
    if node.grad_z is not None:
        parts.append(as_rows(f"δ{sup(n)} = ∂L/∂z{sup(n)}", node.grad_z, marks=marks))
    kernel_grad = node.weight_grads.get("kernel")
    if kernel_grad is not None and kernel_grad.ndim == 2 and node.grad_z is not None:
        parts += [
            NEW_LINE,
            column(f"δ{sup(n)}", node.grad_z),
            "·",
            Term(f"a{sup(n - 1)}ᵀ", np.asarray(node.inputs[0], np.float64).reshape(1, -1)),
            "=",
            Term(f"∂L/∂W{sup(n)}", kernel_grad.T),
        ]
    elif kernel_grad is not None:
        parts += [NEW_LINE, as_rows(f"∂L/∂kernel of {node.id}", kernel_grad)]
    if last:
        formula = f"δ{sup(n)} = ∂L/∂z{sup(n)}: the loss's gradient at the output's weighted sums"
    elif dense and node.type == "Dense" and _next_is_dense(walk_, node):
        formula = f"δ{sup(n)} = (W{sup(n + 1)}ᵀδ{sup(n + 1)}) ⊙ f′(z{sup(n)})   (the chain rule)"
    else:
        formula = f"δ{sup(n)} = ∂L/∂a{sup(n)} ⊙ f′(z{sup(n)})   (the chain rule: ∂L/∂a{sup(n)} comes back from the next layer)"
    if kernel_grad is not None and kernel_grad.ndim == 2:
        formula += f",   ∂L/∂W{sup(n)} = δ{sup(n)}a{sup(n - 1)}ᵀ,   ∂L/∂b{sup(n)} = δ{sup(n)}"
    elif kernel_grad is not None:
        formula += ";  each kernel weight's gradient adds up δ × the input it met, over every position"
    detail = ""
    if node.grad_z is not None:
        delta = np.asarray(node.grad_z, np.float64).reshape(-1)
        detail = f"δ{sup(n)} = {short(delta, 6)};  ‖δ{sup(n)}‖ = {num(np.linalg.norm(delta))}"
        output = walk_.trace.nodes[-1].grad_z
        if not last and output is not None and np.linalg.norm(output) > 0:
            ratio = float(np.linalg.norm(delta) / np.linalg.norm(output))
            if ratio < VANISHING:
                detail += (
                    f"  ({ratio:.0e} of the output layer's: the gradient shrinks on its way back, "
                    "layer after layer — vanishing gradients)"
                )
    if quiet:
        units = ", ".join(str(u) for u in quiet[:12]) + (" …" if len(quiet) > 12 else "")
        detail += (
            f"\n{len(quiet)} of {np.asarray(node.z).size} units pass almost no gradient (|f′(z)| < "
            f"{walk.QUIET:g}): {units}, {why}. Their incoming weights do not change for this sample."
        )
    elif slope is not None:
        detail += "\nEvery unit passes gradient back for this sample."
    return StepView(formula, parts, detail.strip(), None, labels)


def _next_is_dense(walk_: Walk, node: Any) -> bool:
    """Whether the node feeds exactly one Dense node (whose W carries δ back to it)."""
    targets = [t for s, t in walk_.network.spec.edges if s == node.id]
    return len(targets) == 1 and walk_.node(targets[0]).type == "Dense"


def _edge_gradient(walk_: Walk, source: str, node: Any) -> str:
    """What flows back along the edge source → node: ∂L/∂(source's output), or the size of the
    node's weight gradient when the source is an Input (nothing flows further back)."""
    grad = walk_.node(source).grad_output
    if grad is not None:
        return "∂L/∂a " + short(grad)
    kernel_grad = node.weight_grads.get("kernel")
    return f"‖∂L/∂W‖ {num(np.linalg.norm(kernel_grad))}" if kernel_grad is not None else ""


# ---------------------------------------------------------------- update
def update_view(walk_: Walk) -> StepView:
    eta = walk_.learning_rate
    parts: list[Term | str] = []
    drawn = 0
    for node in walk_.trace.nodes:
        grad = node.weight_grads.get("kernel")
        if grad is None or grad.ndim != 2 or drawn == MAX_UPDATE_LAYERS:
            continue
        n = walk_.layer_number(node.id)
        kernel = node.weights["kernel"]
        if parts:
            parts.append(NEW_LINE)
        parts += [
            Term(f"W{sup(n)}", kernel.T),
            f"− {num(eta)}·",
            Term(f"∂L/∂W{sup(n)}", grad.T),
            "=",
            Term(f"W{sup(n)} after", (kernel - eta * grad).T),
        ]
        drawn += 1
    optimizer = walk_.network.training.optimizer.type
    before, after = walk_.trace.loss, walk_.loss_after
    change = "lower" if after < before else "not lower"
    detail = (
        f"One plain gradient step W ← W − η·∂L/∂W for every weight, at the learning rate "
        f"η = {eta:g} (training itself uses {optimizer}, which scales its steps its own way).\n"
        f"This sample's loss: {before:.4g} before → {after:.4g} after ({change}).\n"
        "Apply puts these weights into the network as one step you can undo."
    )
    if walk_.trace.penalty:
        detail = detail.replace("for every weight,", "for every weight (the weight penalties left out),")
    return StepView("W ← W − η·∂L/∂W,   b ← b − η·∂L/∂b", parts, detail, output_bars(walk_))
