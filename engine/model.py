"""Model: the runnable form of a NetworkSpec — layers with arrays, forward and backward.

Inputs are fed in the order of the spec's Input nodes (file order). Gradients of a node that
feeds several others are summed before its own backward runs once. In training, a max pooling
that alone reads a convolution runs together with it (engine/layers/conv_pool.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from engine._kernels import parts
from engine.errors import ConfigError, DataError
from engine.graph import NetworkSpec, Shape
from engine.layers import ActivatedLayer, Layer
from engine.layers.conv_pool import ConvPool
from engine.registry import LAYERS

SUPPORTED_DTYPES = ("float32", "float64")


class Model:
    def __init__(self, spec: NetworkSpec, dtype: str = "float32"):
        if dtype not in SUPPORTED_DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(SUPPORTED_DTYPES)}, got {dtype!r}")
        report = spec.require_valid()
        self.dtype = np.dtype(dtype)
        self.order = spec.topological_order()
        self.input_ids = spec.input_ids()
        self.output_id = spec.output_id()
        self.sources = {nid: spec.inputs_of(nid) for nid in self.order}
        self.shapes: dict[str, Shape] = {nid: s for nid, s in report.shapes.items() if s is not None}
        self.layers: dict[str, Layer] = {}
        for nid in self.order:
            node = spec.nodes[nid]
            in_shapes = [self.shapes[s] for s in self.sources[nid]]
            layer = LAYERS.get(node.type)(nid, node.params, in_shapes, self.dtype)
            layer.needs_input_grad = any(spec.nodes[s].type != "Input" for s in self.sources[nid])
            layer.feeds_loss = nid == self.output_id
            self.layers[nid] = layer
        self.outputs: dict[str, np.ndarray] = {}
        self.weight_buffer, self.grad_buffer = self._pack()
        self.splits_work = any(layer.splits_work for layer in self.layers.values())
        self.conv_pools = self._conv_pools()
        self._paired_convs = {pair.conv.node_id for pair in self.conv_pools.values()}
        self._last_forward_paired = False  # whether backward runs the pairs as one

    def _conv_pools(self) -> dict[str, ConvPool]:
        """By the pooling's id, each max pooling that alone reads a convolution it can train with."""
        readers: dict[str, int] = {}
        for sources in self.sources.values():
            for source in sources:
                readers[source] = readers.get(source, 0) + 1
        pairs = {}
        for nid in self.order:
            sources = self.sources[nid]
            if len(sources) == 1 and readers[sources[0]] == 1:
                conv, pool = self.layers[sources[0]], self.layers[nid]
                if ConvPool.fuses(conv, pool):
                    pairs[nid] = ConvPool(conv, pool)  # type: ignore[arg-type]
        return pairs

    def _pack(self) -> tuple[np.ndarray, np.ndarray]:
        """Move every weight array (get_weights order) into one flat buffer and every trainable
        gradient (trainable() order) into another; the layers keep views of them, so arrays are
        still updated in place and whole-model kernels (the fused small-net path) see them all."""
        weights = np.zeros(sum(arr.size for _, _, arr in self.weight_entries()), self.dtype)
        offset = 0
        for nid, key, arr in self.weight_entries():
            view = weights[offset : offset + arr.size].reshape(arr.shape)
            view[...] = arr
            self.layers[nid].weights[key] = view
            offset += arr.size
        grads = np.zeros(sum(g.size for g in self.trainable()[1]), self.dtype)
        offset = 0
        for nid in self.order:
            layer = self.layers[nid]
            for key in layer.trainable:
                size = layer.grads[key].size
                layer.grads[key] = grads[offset : offset + size].reshape(layer.grads[key].shape)
                offset += size
        return weights, grads

    # ----------------------------------------------------------------- arrays
    @property
    def output_layer(self) -> Layer:
        return self.layers[self.output_id]

    @property
    def output_shape(self) -> Shape:
        return self.shapes[self.output_id]

    def input_shape(self, index: int = 0) -> Shape:
        return self.shapes[self.input_ids[index]]

    def initialize(self, rng: np.random.Generator) -> None:
        for nid in self.order:
            self.layers[nid].initialize(rng)

    def weight_entries(self) -> list[tuple[str, str, np.ndarray]]:
        """(node id, key, array) for every array, nodes in topological order (get_weights order)."""
        return [(nid, key, arr) for nid in self.order for key, arr in self.layers[nid].weights.items()]

    def trainable(self) -> tuple[list[np.ndarray], list[np.ndarray], list[bool]]:
        """Parallel lists: trainable weights, their gradients, and whether weight decay applies."""
        weights, grads, decay = [], [], []
        for nid in self.order:
            layer = self.layers[nid]
            for key in layer.trainable:
                weights.append(layer.weights[key])
                grads.append(layer.grads[key])
                decay.append(key == "kernel")
        return weights, grads, decay

    def count_params(self, trainable_only: bool = False) -> int:
        return sum(
            arr.size
            for nid, key, arr in self.weight_entries()
            if not trainable_only or key in self.layers[nid].trainable
        )

    def get_weights(self) -> list[np.ndarray]:
        return [arr.copy() for _, _, arr in self.weight_entries()]

    def set_weights(self, arrays: list[np.ndarray]) -> None:
        """Replace every array (same order as get_weights); shapes must match exactly."""
        entries = self.weight_entries()
        if len(arrays) != len(entries):
            raise ConfigError(f"set_weights expects {len(entries)} arrays, got {len(arrays)}")
        for (nid, key, target), value in zip(entries, arrays, strict=True):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ConfigError(f"weight '{nid}/{key}' must have shape {target.shape}, got {value.shape}")
            if not np.issubdtype(value.dtype, np.number):
                raise ConfigError(f"weight '{nid}/{key}' must be numeric, got {value.dtype}")
            target[...] = value

    def named_weights(self) -> dict[str, np.ndarray]:
        return {f"{nid}/{key}": arr for nid, key, arr in self.weight_entries()}

    def load_named_weights(self, named: dict[str, np.ndarray], where: str) -> None:
        """Load arrays saved by `named_weights`; every name and shape must match."""
        expected = self.named_weights()
        missing = sorted(set(expected) - set(named))
        extra = sorted(set(named) - set(expected))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            raise ConfigError(f"{where}: weights do not match the network ({'; '.join(parts)})")
        for name, target in expected.items():
            value = named[name]
            if value.shape != target.shape:
                raise ConfigError(
                    f"{where}: weight '{name}' has shape {value.shape}, the network needs {target.shape}"
                )
            target[...] = value

    # ------------------------------------------------------------ computation
    def prepare_inputs(self, x: Any) -> list[np.ndarray]:
        """Inputs as a list in Input-node order, cast to the model dtype and checked for shape.

        `x` may be one array (single Input), a list, or a dict keyed by Input node id. A flat
        sample whose size matches the Input shape is reshaped (e.g. MNIST (1, 28, 28) -> (784,)).
        """
        if isinstance(x, dict):
            missing = [i for i in self.input_ids if i not in x]
            if missing:
                raise DataError(f"no data for input(s) {', '.join(missing)}")
            arrays = [x[i] for i in self.input_ids]
        elif isinstance(x, (list, tuple)):
            arrays = list(x)
        else:
            arrays = [x]
        if len(arrays) != len(self.input_ids):
            raise DataError(f"the network has {len(self.input_ids)} inputs, got {len(arrays)} arrays")
        prepared = []
        for nid, array in zip(self.input_ids, arrays, strict=True):
            array = np.asarray(array)
            if not np.issubdtype(array.dtype, np.number):
                raise DataError(f"input '{nid}' must be numeric, got {array.dtype}")
            shape = self.shapes[nid]
            if array.shape[1:] != shape:
                if array.ndim >= 1 and array[0].size == int(np.prod(shape)):
                    array = array.reshape((array.shape[0], *shape))
                else:
                    raise DataError(
                        f"Input '{nid}' expects samples of shape {shape}, got {array.shape[1:]} "
                        f"(data shape {array.shape}): change the Input shape or the data"
                    )
            prepared.append(np.ascontiguousarray(array, dtype=self.dtype))
        return prepared

    def forward(
        self, inputs: list[np.ndarray], training: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Run every layer; `inputs` as from `prepare_inputs`. Keeps each node's output."""
        rng = rng if rng is not None else np.random.default_rng(0)
        feed = dict(zip(self.input_ids, inputs, strict=True))
        outputs = self.outputs
        outputs.clear()
        pairs = self.conv_pools if training else {}
        self._last_forward_paired = bool(pairs)
        with self._blas_threads():
            for nid in self.order:
                if pairs and nid in self._paired_convs:
                    continue  # its pooling runs it (its own output is never made)
                pair = pairs.get(nid)
                reads = pair.conv.node_id if pair is not None else nid
                args = [feed[reads]] if reads in feed else [outputs[s] for s in self.sources[reads]]
                outputs[nid] = (
                    pair.forward(args) if pair is not None else self.layers[nid].forward(args, training, rng)
                )
        return outputs[self.output_id]

    def _blas_threads(self) -> contextlib.AbstractContextManager:
        """BLAS held to one thread while layers that split their own work run (their parts
        call it from several threads at once), else as it is."""
        return parts.split_work() if self.splits_work else contextlib.nullcontext()

    def uses_fused_loss(self, fused_activation: str | None) -> bool:
        layer = self.output_layer
        return (
            fused_activation is not None
            and isinstance(layer, ActivatedLayer)
            and layer.activation.name == fused_activation
        )

    def backward(self, grad_out: np.ndarray, from_preactivation: bool = False) -> None:
        """Fill every layer's `grads` from d(loss)/d(output) (or d/d(pre-activation) if fused)."""
        pending: dict[str, np.ndarray] = {self.output_id: grad_out}
        with self._blas_threads():
            for nid in reversed(self.order):
                grad = pending.pop(nid, None)
                layer = self.layers[nid]
                if grad is None or not self.sources[nid]:
                    continue
                pair = self.conv_pools.get(nid) if self._last_forward_paired else None
                sources = self.sources[nid] if pair is None else self.sources[pair.conv.node_id]
                if pair is not None:
                    in_grads = pair.backward(grad)
                elif from_preactivation and nid == self.output_id:
                    in_grads = layer.backward_from_preactivation(grad)  # type: ignore[attr-defined]
                else:
                    in_grads = layer.backward(grad)
                for source, g in zip(sources, in_grads, strict=True):
                    if g is None or self.layers[source].name == "Input":
                        continue
                    pending[source] = g if source not in pending else pending[source] + g

    def regularization_loss(self) -> float:
        return sum(layer.regularization_loss() for layer in self.layers.values())
