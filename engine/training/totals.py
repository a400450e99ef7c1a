"""An epoch's loss and metric totals (sums over its samples; the trainer divides by the count).

Runners that train batch by batch add each batch's loss and outputs; the fused runners keep each
sample's output and add a run of batches at once. Both sum in batch order, so they give equal
totals for equal outputs (tests/engine/test_fused_path.py, test_blas_chain.py).
"""

from __future__ import annotations

import numpy as np

from engine.metrics import Metric


class EpochTotals:
    """The running totals of one epoch, by key ("loss" and each metric's name) in `values`."""

    def __init__(self, metrics: list[Metric], batch_size: int):
        self.metrics = metrics
        self.batch_size = batch_size
        self.values: dict[str, float] = {}

    def add_batch(self, loss: float, y_pred: np.ndarray, yb: np.ndarray) -> None:
        """One batch: its mean loss, outputs (rows, ...) and targets (rows, ...)."""
        values, size = self.values, len(yb)
        values["loss"] = values.get("loss", 0.0) + loss * size
        for metric in self.metrics:
            values[metric.name] = values.get(metric.name, 0.0) + metric(y_pred, yb) * size

    def add_outputs(
        self,
        losses: list[float],
        preds: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        first_batch: int,
    ) -> None:
        """Consecutive batches from `first_batch` on: their mean losses, the epoch's outputs
        (N, ...) at their positions in `order` (N,) and the targets (N, ...)."""
        losses_array = np.asarray(losses, dtype=np.float64)[None]
        added = totals_each(
            self.metrics, self.batch_size, losses_array, preds[None], y, order[None], first_batch
        )
        for key, value in added[0].items():
            self.values[key] = self.values.get(key, 0.0) + value


def totals_each(
    metrics: list[Metric],
    batch_size: int,
    losses: np.ndarray,
    preds: np.ndarray,
    y: np.ndarray,
    orders: np.ndarray,
    first_batch: int = 0,
) -> list[dict[str, float]]:
    """The totals of the batches first_batch .. first_batch+B-1 of each epoch of a stack
    (losses (k, B), preds (k, N, ...), orders (k, N)) in a few whole-stack NumPy calls: under a
    busy GUI thread every call that releases the GIL costs a wait, and a multi-epoch call used
    to make several per epoch."""
    batches = losses.shape[1]
    start = first_batch * batch_size
    done = min((first_batch + batches) * batch_size, len(y)) - start
    if batches == 0 or done <= 0:
        return [{} for _ in losses]
    # Each row summed in batch order as `add_batch` does (cumsum adds left to right, unlike
    # np.sum's pairwise sum), so both ways give equal totals.
    weighted = losses * np.append(np.full(batches - 1, float(batch_size)), done - batch_size * (batches - 1))
    all_totals = [{"loss": total} for total in np.cumsum(weighted, axis=1)[:, -1].tolist()]
    preds, y_ordered = preds[:, start : start + done], y[orders[:, start : start + done]]
    for metric in metrics:
        if metric.batch_weighted:
            column = (metric.each(preds, y_ordered) * done).tolist()
        else:
            column = [
                sum(
                    metric(p[s : s + batch_size], t[s : s + batch_size]) * min(batch_size, done - s)
                    for s in range(0, done, batch_size)
                )
                for p, t in zip(preds, y_ordered, strict=True)
            ]
        for totals, value in zip(all_totals, column, strict=True):
            totals[metric.name] = value
    return all_totals
