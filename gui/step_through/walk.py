"""The steps of one sample's walk through a network and the numbers each step writes out.

No Qt here: the panel draws what these functions compute from an `engine` trace
(`network.trace(x, y)`). The walk is: every node forward (topological order), the loss, every node
with weights or an activation backward (reverse order), then one plain gradient step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.activations import get_activation
from engine.activations.base import NumpyActivation
from engine.losses import get_loss
from engine.network import Network
from engine.registry import LAYERS

FORWARD, LOSS, BACKWARD, UPDATE = "forward", "loss", "backward", "update"
SHOWN_TERMS = 6  # a longer weighted sum shows its first 3 and last 2 terms and elides the middle
QUIET = 1e-3  # |f'(z)| below this: the unit passes almost no gradient back


@dataclass(frozen=True)
class Step:
    """One stop of the walk: `kind` (FORWARD, LOSS, BACKWARD, UPDATE) and the node's trace record
    (an `engine.trace.NodeTrace`; None for the loss and the update)."""

    kind: str
    node: Any = None


def build_steps(trace: Any) -> list[Step]:
    """The walk for `trace`: each node forward, the loss, backward through the nodes that have
    weights or an activation (last first), the update."""
    forward = [Step(FORWARD, node) for node in trace.nodes]
    backward = [Step(BACKWARD, node) for node in reversed(trace.nodes) if node.weights or node.z is not None]
    return [*forward, Step(LOSS), *backward, Step(UPDATE)]


def step_title(steps: list[Step], index: int) -> str:
    """E.g. "2 / 9 · dense_1 forward", "4 / 9 · loss"."""
    step = steps[index]
    what = f"{step.node.id} {step.kind}" if step.node is not None else step.kind
    return f"{index + 1} / {len(steps)} · {what}"


def num(value: float, signed_paren: bool = False) -> str:
    """A number as the panel writes it: 2 decimals (tiny values in e-notation), a real minus sign;
    with `signed_paren` a negative number is put in parentheses (a factor of a product)."""
    value = float(value) + 0.0  # (−0.0 is written 0.00)
    text = f"{value:.2f}" if value == 0 or 0.01 <= abs(value) < 1e5 else f"{value:.1e}"
    text = text.replace("-", "−")
    return f"({text})" if signed_paren and value < 0 else text


@dataclass(frozen=True)
class NeuronSum:
    """Unit j of a Dense layer: z = Σ_i W[j, i]·a[i] + b. `shown` are the (weight, input) pairs
    written out; `elided` is (how many terms, their sum) left out of the middle; `bias` 0 when the
    layer has none."""

    unit: int
    shown_head: list[tuple[float, float]]
    elided: tuple[int, float]
    shown_tail: list[tuple[float, float]]
    bias: float
    z: float
    activation: str
    a: float

    def total(self) -> float:
        """The sum of what is written (shown products, the elided part, the bias)."""
        pairs = [*self.shown_head, *self.shown_tail]
        return float(sum(w * x for w, x in pairs) + self.elided[1] + self.bias)

    def text(self) -> str:
        """E.g. "z₁ = 0.31·1.20 + (−0.82)·0.50 + 0.10 = 0.47,  a = relu(z) = 0.47"."""
        parts = [f"{num(w, i > 0)}·{num(x, True)}" for i, (w, x) in enumerate(self.shown_head)]
        if self.elided[0]:
            parts.append(f"… ({self.elided[0]} more terms, together {num(self.elided[1], True)}) …")
        parts += [f"{num(w, True)}·{num(x, True)}" for w, x in self.shown_tail]
        parts.append(num(self.bias, True))
        return (
            f"z{subscript(self.unit)} = {' + '.join(parts)} = {num(self.z)},   "
            f"a{subscript(self.unit)} = {self.activation}(z) = {num(self.a)}"
        )


def subscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def neuron_sum(node: Any, unit: int, activation: str) -> NeuronSum:
    """Unit `unit`'s weighted sum in a Dense node's trace (kernel (in, units), input (in,))."""
    kernel = node.weights["kernel"]
    inputs = np.asarray(node.inputs[0], np.float64).reshape(-1)
    weights = np.asarray(kernel[:, unit], np.float64)
    bias = float(node.weights["bias"][unit]) if "bias" in node.weights else 0.0
    pairs = list(zip(weights.tolist(), inputs.tolist(), strict=True))
    if len(pairs) <= SHOWN_TERMS:
        head, elided, tail = pairs, (0, 0.0), []
    else:
        middle = pairs[3:-2]
        head, tail = pairs[:3], pairs[-2:]
        elided = (len(middle), float(sum(w * x for w, x in middle)))
    z = float(node.z[unit]) if node.z is not None else float(weights @ inputs + bias)
    return NeuronSum(unit, head, elided, tail, bias, z, activation, float(node.output[unit]))


def derivative(node: Any) -> np.ndarray | None:
    """f'(z) of the node's elementwise activation at this sample (shape of z), else None."""
    name = node.activation
    if name is None or node.z is None:
        return None
    activation = get_activation(name)
    if activation.kernel_code is None and not isinstance(activation, NumpyActivation):
        return None  # (softmax and the like: not one number per unit)
    return np.asarray(activation.derivative(np.asarray(node.z, np.float64)), np.float64)


def quiet_units(node: Any) -> tuple[list[int], str]:
    """The units (flat indices) of the node whose |f'(z)| < QUIET, and why in words."""
    slope = derivative(node)
    if slope is None:
        return [], ""
    quiet = np.flatnonzero(np.abs(slope) < QUIET).tolist()
    activation = get_activation(node.activation)
    why = "dead for this sample (z ≤ 0)" if activation.has_dead_units else "saturated (f′(z) ≈ 0)"
    return quiet, why


def layer_words(type_name: str) -> str:
    """The layer's formula in words: its class's one-line summary."""
    doc = LAYERS.get(type_name).__doc__ or type_name
    return doc.strip().splitlines()[0].replace("`", "")


def loss_text(network: Network, prediction: np.ndarray, target: Any, value: float) -> str:
    """The loss formula with this sample's numbers put in, e.g.
    "L = −log p₇ = −log 0.83 = 0.19"."""
    loss = get_loss(network.training.loss.type, **network.training.loss.params)
    p = np.asarray(prediction, np.float64).reshape(-1)
    name = loss.name
    head = f"{name}:  {loss.formula}\n"
    if name == "sparse_categorical_crossentropy" or (
        name == "categorical_crossentropy" and np.asarray(target).size == p.size
    ):
        k = int(target) if name.startswith("sparse") else int(np.argmax(np.asarray(target).reshape(-1)))
        return head + f"L = −log p{subscript(k)} = −log {p[k]:.4g} = {num(value)}   (the target class is {k})"
    t = np.asarray(target, np.float64).reshape(-1)
    if t.size != p.size:
        return head + f"L = {num(value)}"
    if name == "binary_crossentropy" and p.size == 1:
        return head + (
            f"L = −[{num(t[0])}·log {p[0]:.4g} + (1 − {num(t[0])})·log(1 − {p[0]:.4g})] = {num(value)}"
        )
    if name in ("mse", "mae") and p.size <= 4:
        term = "({} − {})²" if name == "mse" else "|{} − {}|"
        terms = " + ".join(term.format(num(a), num(b)) for a, b in zip(p, t, strict=True))
        return head + f"L = ({terms}) / {p.size} = {num(value)}"
    return head + f"L = {num(value)}"
