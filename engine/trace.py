"""Tracing one sample: its forward pass, loss and backward pass, node by node.

`Network.trace(x, y)` returns a `Trace`: what every node received and produced, the
pre-activation z and d(loss)/dz of each node with an activation, and the gradient of the sample's
loss w.r.t. every output and weight. It is what a textbook writes out for one sample (a = f(z),
δ = (Wᵀδ') ⊙ f′(z), ∂L/∂W = a δᵀ), computed by the layers' own forward and backward methods.

The trace runs in inference mode (Dropout is the identity, BatchNormalization uses its moving
statistics) on a copy of the model, so the network, its optimizer state, moving statistics and
random generators are unchanged. The loss is the network's configured loss over a batch of one
(its mean, as training reduces it), fused with the output activation where training fuses them
(softmax / sigmoid cross-entropy from the logits). Weight penalties (kernel_l1, kernel_l2) are
left out of `loss` and `weight_grads`; `Trace.penalty` holds their value.

Every array is a copy without the batch axis, in the network's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConfigError, DataError
from engine.graph import NetworkSpec, Shape
from engine.layers import ActivatedLayer
from engine.losses import Loss
from engine.model import Model

if TYPE_CHECKING:
    from engine.network import Network

_REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_PENALTY_KEYS = ("kernel_l1", "kernel_l2")


@dataclass
class NodeTrace:
    """One node of a traced sample; arrays have no batch axis.

    `inputs`: what the node received (one array per incoming edge; for an Input node, the sample
    as the network sees it, standardized if the network carries a scaler). `output`: what it
    produced. `grad_output`: d(loss)/d(output), same shape (for an Input node, the gradient
    w.r.t. the sample: which input values move the loss). `z`, `grad_z`: the pre-activation and
    d(loss)/dz for a node with an activation (Dense, Conv2D, Conv1D, Activation; z = the input
    of an Activation node), else None; `activation` its name. `weights`, `weight_grads`: per
    array name (e.g. "kernel" `(in, units)` and "bias" `(units,)` of a Dense); running
    statistics (BatchNormalization's moving_mean, moving_variance) get zero gradients.
    """

    id: str
    type: str
    inputs: list[np.ndarray]
    output: np.ndarray
    grad_output: np.ndarray
    z: np.ndarray | None = None
    grad_z: np.ndarray | None = None
    activation: str | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_grads: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Trace:
    """One sample through the network and back (see the module docstring).

    `loss`: the sample's loss without weight penalties; `penalty`: the penalties' value (the
    loss training reports is `loss + penalty`). `prediction`: the output `(*output_shape)`.
    `target`: the target as the loss reads it (an int class id for sparse losses, else an array
    shaped like the output). `nodes`: one record per node in topological order.
    `weight_grads`: d(loss)/d(weights), one array per entry of `network.get_weights()`, in its
    order and shapes (zeros for running statistics).
    """

    loss: float
    prediction: np.ndarray
    nodes: list[NodeTrace]
    weight_grads: list[np.ndarray]
    penalty: float = 0.0
    loss_name: str = ""
    target: Any = None

    def node(self, node_id: str) -> NodeTrace:
        """The record of node `node_id`; KeyError naming the nodes there are."""
        for record in self.nodes:
            if record.id == node_id:
                return record
        raise KeyError(f"no node '{node_id}' in the trace; nodes: {', '.join(n.id for n in self.nodes)}")


def sample_batch(x: Any, input_ids: list[str], shapes: dict[str, Shape], where: str) -> list[np.ndarray]:
    """One sample per Input as a batch of one `(1, *shape)`, in Input order.

    `x`: an array (single Input) shaped like the Input, `(1, *shape)`, or flat with as many
    values; several Inputs: a list or a dict keyed by Input id. ValueError (DataError) naming
    the Input with the expected and received shapes, for a wrong shape or non-numeric values.
    """
    if isinstance(x, dict):
        missing = [nid for nid in input_ids if nid not in x]
        if missing:
            raise DataError(f"{where}: no sample for input(s) {', '.join(missing)}")
        values = [x[nid] for nid in input_ids]
    elif len(input_ids) == 1:
        values = [x]
    elif isinstance(x, (list, tuple)) and len(x) == len(input_ids):
        values = list(x)
    else:
        got = f"{len(x)} arrays" if isinstance(x, (list, tuple)) else "one array"
        raise DataError(
            f"{where}: the network has {len(input_ids)} inputs ({', '.join(input_ids)}): give a list "
            f"or dict of one sample each, got {got}"
        )
    return [
        _one(value, shapes[nid], f"{where}: Input '{nid}'", keep_shape=True)
        for nid, value in zip(input_ids, values, strict=True)
    ]


def target_batch(y: Any, loss: Loss, output_shape: Shape, where: str) -> np.ndarray:
    """One target as a batch of one: class ids `(1, *output_shape[:-1])` for a sparse loss (an
    int is fine), else `(1, *output_shape)`; ValueError naming expected and received shapes."""
    shape = tuple(output_shape[:-1]) if loss.target == "index" else tuple(output_shape)
    what = "a class id" if loss.target == "index" and not shape else "a target"
    return _one(y, shape, f"{where}: {loss.name} expects {what}; y")


def _one(value: Any, shape: Shape, label: str, keep_shape: bool = False) -> np.ndarray:
    """`value` as a batch of one of `shape`: given as `shape`, `(1, *shape)` or as many values
    (`keep_shape`: those then stay in their own shape, `(1, *value.shape)`, as a standardizer
    fitted on the data's shape reads them; `Model.prepare_inputs` reshapes them after it)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise DataError(f"{label} is not a rectangular array of numbers") from None
    if array.dtype.kind not in _REAL_KINDS:
        raise DataError(f"{label} must hold real numbers, got values of type {array.dtype}")
    size = int(np.prod(shape, dtype=np.int64))
    if array.shape not in (shape, (1, *shape)) and array.size != size:
        raise DataError(
            f"{label} expects one sample of shape {_text(shape)} (or {_text((1, *shape))}), got shape "
            f"{_text(array.shape)}"
        )
    if keep_shape and array.shape not in (shape, (1, *shape)):
        return array[None]
    return array.reshape((1, *shape))


def _text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def trace_model(
    spec: NetworkSpec,
    dtype: Any,
    weights: list[np.ndarray],
    loss: Loss,
    inputs: list[np.ndarray],
    targets: np.ndarray,
) -> Trace:
    """Trace a batch of one through a fresh model of `spec` holding `weights` (get_weights
    order); `inputs` prepared (one `(1, *input_shape)` array per Input, of `dtype`), `targets`
    checked for `loss` (`(1,)` int64 class ids or `(1, *output_shape)`)."""
    model = Model(spec, dtype)
    model.set_weights(weights)
    penalty = float(model.regularization_loss())
    for layer in model.layers.values():
        layer.needs_input_grad = True  # an Input node's gradient is part of the trace
        if any(layer.params.get(key) for key in _PENALTY_KEYS):
            # a new dict: the spec keeps its own
            layer.params = {**layer.params, **dict.fromkeys(_PENALTY_KEYS, 0.0)}
    output = model.forward(inputs, training=False)
    forward = {nid: _forward_record(model, nid, inputs) for nid in model.order}
    fused = model.uses_fused_loss(loss.fused_activation)
    output_grad_z = None  # d(loss)/dz of the output, when the loss is fused with its activation
    if fused:
        z = model.output_layer.pre_activation  # type: ignore[attr-defined]
        loss_value = float(loss.forward_from_logits(z, targets))
        output_grad_z = loss.backward_from_logits(z, targets)
    else:
        loss_value = float(loss.forward(output, targets))
    pending: dict[str, np.ndarray] = {model.output_id: loss.backward(output, targets)}
    nodes = []
    for nid in reversed(model.order):
        layer = model.layers[nid]
        record = forward[nid]
        grad = pending.pop(nid, None)
        grad = np.zeros_like(model.outputs[nid]) if grad is None else grad
        record.grad_output = grad[0].copy()
        if isinstance(layer, ActivatedLayer):
            grad_z = output_grad_z if nid == model.output_id else None
            if grad_z is None:
                grad_z = layer.activation.backward(layer.pre_activation, model.outputs[nid], grad)
            record.grad_z = np.asarray(grad_z)[0].copy()
            in_grads = layer.backward_from_preactivation(grad_z)
        elif model.sources[nid]:
            in_grads = layer.backward(grad)
        else:
            in_grads = []
        record.weight_grads = {
            key: layer.grads[key].copy() if key in layer.grads else np.zeros_like(arr)
            for key, arr in layer.weights.items()
        }
        for source, g in zip(model.sources[nid], in_grads, strict=True):
            if g is not None:
                pending[source] = g.copy() if source not in pending else pending[source] + g
        nodes.append(record)
    nodes.reverse()
    return Trace(
        loss=loss_value,
        prediction=forward[model.output_id].output.copy(),
        nodes=nodes,
        weight_grads=[g for record in nodes for g in record.weight_grads.values()],
        penalty=penalty,
        loss_name=loss.name,
        target=int(targets[0]) if loss.target == "index" and targets.ndim == 1 else targets[0].copy(),
    )


def _forward_record(model: Model, nid: str, inputs: list[np.ndarray]) -> NodeTrace:
    """A node's forward values, copied before any backward pass overwrites a reused array."""
    layer = model.layers[nid]
    sources = model.sources[nid]
    received = [model.outputs[s] for s in sources] if sources else [inputs[model.input_ids.index(nid)]]
    activated = isinstance(layer, ActivatedLayer)
    return NodeTrace(
        id=nid,
        type=layer.name,
        inputs=[np.array(a[0]) for a in received],
        output=np.array(model.outputs[nid][0]),
        grad_output=np.empty(0),
        z=np.array(layer.pre_activation[0]) if activated else None,
        activation=layer.activation.name if activated else None,
        weights={key: arr.copy() for key, arr in layer.weights.items()},
    )


def step_weights(network: Network, trace: Trace, learning_rate: float) -> list[np.ndarray]:
    """The network's weights (get_weights order) after one plain gradient-descent step on the
    traced sample: `w - learning_rate * dL/dw` for every trainable array; running statistics
    unchanged. (A textbook step: not the configured optimizer's, e.g. Adam's moments, and without
    the weight penalties.) `network.trace(x, y, weights=...)` gives the loss after it."""
    weights = network.get_weights()
    if len(weights) != len(trace.weight_grads):
        raise ConfigError(
            f"step_weights: the trace has {len(trace.weight_grads)} gradient arrays, the network "
            f"{len(weights)} weight arrays: trace this network again"
        )
    model = network.model
    trainable = [key in model.layers[nid].trainable for nid, key, _ in model.weight_entries()]
    lr = np.asarray(learning_rate, dtype=np.float64)
    return [
        (w - lr * g).astype(w.dtype) if train else w
        for w, g, train in zip(weights, trace.weight_grads, trainable, strict=True)
    ]
