"""What a network is doing while it learns: numbers for the live health views.

A `TrainingMonitor` is called between batches on the training thread (it reads the model only
then, so no locking is needed). Each `snapshot()` runs one inference pass over a fixed probe
batch and, for networks with two inputs, over a grid of the input plane, and returns plain
arrays: per-layer activation histograms, mean activation, the fraction of dead units, the
fraction of saturated values, the gradient norm of the last step, and the decision
surface with each hidden unit's response. For image layers (outputs `(N, C, H, W)` or `(N, C, L)`)
each channel counts as a unit: a channel is dead when it is silent at every position of every probe
sample. For a chosen sample a snapshot also holds the feature maps of every convolutional layer
(Conv2D and Conv1D) and a copy of the first one's filters. Which layers have dead units, saturate,
or have a fixed output range is each activation's own declaration (`has_dead_units`, `saturating`,
`bounded_range` in engine/activations/base.py). Nothing here knows about Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine._kernels.health import activation_stats
from engine.activations import Activation
from engine.array_checks import check_prepared
from engine.model import Model

HISTOGRAM_BINS = 24
UNIT_MAPS_PER_LAYER = 8
MAX_CHANNELS_SHOWN = 64  # feature maps and filters sent per layer (the first ones)


@dataclass
class LayerHealth:
    """One node's numbers on the probe batch (and the last step's gradient)."""

    node_id: str
    activation: str | None  # e.g. "relu"; None for layers without one
    mean_activation: float
    histogram: np.ndarray  # (HISTOGRAM_BINS,) counts
    bin_edges: np.ndarray  # (HISTOGRAM_BINS + 1,)
    dead_fraction: (
        float | None
    )  # ReLU-like layers only: units (image layers: channels) silent for every probe sample
    saturated_fraction: float | None  # sigmoid/tanh-like layers only: values in the flat tails
    gradient_norm: float | None  # L2 norm of this layer's weight gradients; None if no weights
    weight_scale: float | None  # mean |kernel|; drives edge thickness on the canvas


@dataclass
class Surface:
    """The model's output over a grid of the 2-D input plane (other features at their mean)."""

    xs: np.ndarray  # (nx,) first feature values
    ys: np.ndarray  # (ny,) second feature values
    values: np.ndarray  # (ny, nx): probability of class 1, predicted class, or regression value
    kind: str  # "probability", "class" or "value"
    unit_maps: dict[str, np.ndarray] = field(default_factory=dict)  # node id -> (units, gy, gx)


@dataclass
class MonitorSnapshot:
    layers: list[LayerHealth]
    surface: Surface | None
    step: int = 0  # optimizer steps done when it was taken (the caller's count)
    # convolutional node id -> (channels, H, W) (Conv1D: (channels, L)) outputs for the chosen sample (at most
    # MAX_CHANNELS_SHOWN channels), in network order; empty without a sample
    feature_maps: dict[str, np.ndarray] = field(default_factory=dict)
    sample: int | None = None  # the caller's index of that sample
    # (filters, in_channels, kh, kw) (Conv1D: (filters, in_channels, k)) copy of the first kernel (at most
    # MAX_CHANNELS_SHOWN filters); None without one
    filters: np.ndarray | None = None
    filters_id: str | None = None  # its node id


def shows_surface(x: np.ndarray) -> bool:
    """Whether data `x` (as loaded, before the model reshapes it) has a plane to draw: rows of at
    least two plain features; images and other multi-axis samples do not."""
    return isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] >= 2


class TrainingMonitor:
    """Probes `model` on `probe_x` (a few hundred samples, already scaled like training data).

    `feature_pair` picks the two input features drawn on the surface; `extent` is the plotted
    range of each ((min, max) per feature, in the scaled units the model sees).
    """

    def __init__(
        self,
        model: Model,
        probe_x: np.ndarray,
        grid_size: int = 64,
        unit_grid_size: int = 24,
        feature_pair: tuple[int, int] = (0, 1),
        surface: bool = True,
        sample: np.ndarray | None = None,
        sample_index: int | None = None,
    ):
        """`surface=False` skips the surface (the data has no plane to show, e.g. images: the
        grid's forward passes would be most of a snapshot's cost). `sample`, `sample_index`: see
        `set_sample`."""
        self.model = model
        self.probe_x = np.ascontiguousarray(probe_x, dtype=model.dtype)
        check_prepared(model, [self.probe_x], None, "monitor")
        self.grid_size = grid_size
        self.unit_grid_size = unit_grid_size
        self.features = feature_pair
        self.hidden_ids = [
            nid for nid in model.order if nid != model.output_id and _activation(model, nid) is not None
        ]
        self.surface_wanted = surface
        if self.has_surface and not all(0 <= f < self.probe_x.shape[1] for f in feature_pair):
            raise ValueError(f"monitor: feature_pair {feature_pair} for {self.probe_x.shape[1]} features")
        self.surface_grid = self._grid(grid_size) if self.has_surface else None
        self.unit_grid = self._grid(unit_grid_size) if self.has_surface else None
        self.conv_ids = [nid for nid in model.order if _is_convolution(model, nid)]
        self.sample: np.ndarray | None = None
        self.sample_index: int | None = None
        self.set_sample(sample, sample_index)

    def set_sample(self, sample: np.ndarray | None, index: int | None = None) -> None:
        """Show the feature maps of `sample`, one input as the model sees it `(1, *input shape)`,
        named `index` in the snapshots; None shows none (nor does a network without convolutions)."""
        if sample is not None and self.conv_ids:
            sample = np.ascontiguousarray(sample, dtype=self.model.dtype)
            check_prepared(self.model, [sample], None, "monitor")
            if len(sample) != 1:
                raise ValueError(f"monitor: expected one sample to show, got {len(sample)}")
            self.sample, self.sample_index = sample, index
        else:
            self.sample, self.sample_index = None, None
        head = [self.probe_x] if self.sample is None else [self.probe_x, self.sample]
        self._probe_batch = head[0] if len(head) == 1 else np.concatenate(head)
        # Probe, sample, unit grid and surface grid as one batch: one forward pass instead of
        # several, so a snapshot makes fewer GIL-releasing calls (each may wait for a busy GUI).
        self._all_points = (
            np.concatenate([*head, self.unit_grid[2], self.surface_grid[2]]) if self.has_surface else None
        )

    @property
    def has_surface(self) -> bool:
        shape = self.model.input_shape()
        return self.surface_wanted and len(self.model.input_ids) == 1 and len(shape) == 1 and shape[0] >= 2

    def _grid(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = self.features
        lo = self.probe_x.min(axis=0)
        hi = self.probe_x.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-6)
        xs = np.linspace(lo[a] - pad[a], hi[a] + pad[a], size, dtype=self.model.dtype)
        ys = np.linspace(lo[b] - pad[b], hi[b] + pad[b], size, dtype=self.model.dtype)
        gx, gy = np.meshgrid(xs, ys)
        points = np.tile(self.probe_x.mean(axis=0), (size * size, 1)).astype(self.model.dtype)
        points[:, a] = gx.ravel()
        points[:, b] = gy.ravel()
        return xs, ys, points

    def snapshot(self, with_surface: bool = True, step: int = 0) -> MonitorSnapshot:
        """Numbers for every layer, and the surface if the network has one, stamped with `step`
        (the steps trained so far). Call between batches."""
        model = self.model
        with_surface = with_surface and self.has_surface
        model.forward([self._all_points if with_surface else self._probe_batch], training=False)
        probes = len(self.probe_x)
        layers = [
            self._layer_health(nid, model.outputs[nid][:probes])
            for nid in model.order
            if nid not in model.input_ids
        ]
        shown = self.sample is not None
        surface = self._surface(probes + shown) if with_surface else None
        maps = {nid: model.outputs[nid][probes, :MAX_CHANNELS_SHOWN].copy() for nid in self.conv_ids if shown}
        first = self.conv_ids[0] if self.conv_ids else None
        filters = model.layers[first].weights["kernel"][:MAX_CHANNELS_SHOWN].copy() if first else None
        return MonitorSnapshot(layers, surface, step, maps, self.sample_index, filters, first)

    def _layer_health(self, nid: str, out: np.ndarray) -> LayerHealth:
        """`nid`'s numbers from its outputs `out` on the probe batch."""
        model = self.model
        activation = _activation(model, nid)
        flat = np.ascontiguousarray(out.reshape(len(out), -1))
        # Without a bounded range the histogram spans the values.
        bounds = activation.bounded_range if activation is not None else None
        lo, hi = bounds or (0.0, 1.0)
        saturating = activation.saturating if activation is not None else None
        low, high = saturating or (-np.inf, np.inf)
        counts, edges = np.empty(HISTOGRAM_BINS, np.int64), np.empty(HISTOGRAM_BINS + 1)
        if not lo < hi:  # the kernel divides by hi - lo to find each value's bin
            raise ValueError(f"monitor: histogram range [{lo}, {hi}] of '{nid}' is empty")
        mean, dead, saturated = activation_stats(flat, lo, hi, bounds is None, low, high, counts, edges)
        if out.ndim >= 3:  # (N, C, H, W) or (N, C, L): a channel is dead if silent everywhere
            # (the fraction of saturated values is the mean of the channels' fractions already)
            dead = float(np.mean(out.max(axis=(0, *range(2, out.ndim))) <= 0))
        layer = model.layers[nid]
        grads = [g for g in layer.grads.values()]
        grad_norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads))) if grads else None
        kernel = layer.weights.get("kernel")
        return LayerHealth(
            node_id=nid,
            activation=activation.name if activation is not None else None,
            mean_activation=mean,
            histogram=counts,
            bin_edges=edges,
            dead_fraction=dead if activation is not None and activation.has_dead_units else None,
            saturated_fraction=saturated if saturating is not None else None,
            gradient_norm=grad_norm,
            weight_scale=float(np.abs(kernel).mean()) if kernel is not None and kernel.size else None,
        )

    def _surface(self, start: int) -> Surface:
        """The surface from the outputs of the batch `snapshot` ran: the unit grid's rows from
        `start`, then the surface grid's."""
        model = self.model
        size = self.unit_grid_size
        unit_rows = slice(start, start + size * size)
        unit_maps = {}
        for nid in self.hidden_ids:
            out = model.outputs[nid]
            if out.ndim != 2:
                continue
            units = out[unit_rows, :UNIT_MAPS_PER_LAYER]
            unit_maps[nid] = units.T.reshape(-1, size, size).copy()
        xs, ys, _ = self.surface_grid
        output = model.outputs[model.output_id][unit_rows.stop :]
        size = self.grid_size
        if output.ndim == 2 and output.shape[1] == 1:
            activation = _activation(model, model.output_id)
            probability = activation is not None and activation.bounded_range == (0.0, 1.0)
            kind = "probability" if probability else "value"
            values = output[:, 0]
        elif output.ndim == 2:
            kind, values = "class", output.argmax(axis=1).astype(np.float64)
        else:
            kind, values = "value", output.reshape(len(output), -1)[:, 0]
        return Surface(xs.copy(), ys.copy(), values.reshape(size, size).astype(np.float64), kind, unit_maps)


def _is_convolution(model: Model, nid: str) -> bool:
    """Whether node `nid` is a convolution: a kernel `(filters, in_channels, kh, kw)` (Conv2D) or
    `(filters, in_channels, k)` (Conv1D)."""
    kernel = model.layers[nid].weights.get("kernel")
    return kernel is not None and kernel.ndim in (3, 4)


def _activation(model: Model, nid: str) -> Activation | None:
    """The activation of node `nid` (a Dense or Activation layer), None for other layers."""
    return getattr(model.layers[nid], "activation", None)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts; row = true class, column = predicted class.

    `y_pred` is the network output: (n,) or (n, 1) probabilities for two classes, (n, k) scores.
    `y_true` holds class indices (n,) or one-hot rows (n, k)."""
    truth = np.asarray(y_true)
    truth = truth.argmax(axis=1) if truth.ndim == 2 and truth.shape[1] > 1 else truth.reshape(-1)
    pred = np.asarray(y_pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        predicted = pred.argmax(axis=1)
    else:
        predicted = (pred.reshape(-1) > 0.5).astype(np.int64)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth.astype(np.int64), predicted), 1)
    return matrix
