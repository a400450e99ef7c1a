"""The training loop: batches, validation, metrics, schedules, early stopping, callbacks.

The same seed and the same network give the same weights bit for bit: shuffling, initial
weights and dropout each draw from their own generator seeded from `seed`.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES, blas
from engine.array_checks import check_prepared, target_label
from engine.errors import DataError, DivergenceError
from engine.losses import Loss
from engine.metrics import Metric
from engine.model import Model
from engine.optimizers import Optimizer, clip_by_global_norm
from engine.training.callbacks import BatchesEnd, Callback, EpochEnd, History
from engine.training.control import TrainingControl
from engine.training.runners.blas_chain import BlasChainPath
from engine.training.runners.dense_chain import SOFTMAX_CE_KERNELS, DenseChainStep
from engine.training.runners.small_net import SmallNetPath
from engine.training.schedules import Schedule

# Where epochs are tiny (the Playground sets), the fused path runs whole epochs per kernel call:
# EPOCH_RUN_SAMPLES' worth first, then EPOCH_RUN_SECONDS' worth at the measured speed (a GUI thread
# painting with the GIL then stalls training once per call, and live views get numbers each frame),
# but, beyond the first size, at most 1/EPOCH_RUN_PARTS of the run, so a short run still reports
# its course in steps. Stop, pause and live changes land within one call.
EPOCH_RUN_SECONDS = 0.05
EPOCH_RUN_SAMPLES = 8192
EPOCH_RUN_PARTS = 20
EPOCH_RUN_MAX_SAMPLES = 1 << 16  # bounds a call's buffers (orders, outputs: <= 16 MB) however fast epochs go


class Trainer:
    def __init__(
        self,
        model: Model,
        loss: Loss,
        optimizer: Optimizer,
        schedule: Schedule,
        metrics: list[Metric],
        *,
        batch_size: int,
        epochs: int,
        seed: int,
        shuffle: bool = True,
        clip_norm: float | None = None,
        early_stopping: dict[str, Any] | None = None,
        history: History | None = None,
        control: TrainingControl | None = None,
        fused_paths: bool | None = None,
    ):
        """`fused_paths`: None picks a fused path (small-net, else BLAS-chain) when one applies,
        False never."""
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.metrics = metrics
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.history = history if history is not None else History()
        self.last_predictions: np.ndarray | None = None  # validation outputs of the last evaluate()
        self.control = control or TrainingControl()
        self.base_learning_rate = float(optimizer.params["learning_rate"])
        start = self.history.epoch_count
        self.shuffle_rng = np.random.default_rng([seed, 1, start])
        self.dropout_rng = np.random.default_rng([seed, 2, start])
        self.fused = model.uses_fused_loss(loss.fused_activation)
        self.fused_paths = fused_paths
        self._small_net: SmallNetPath | None = None
        self._blas_chain: BlasChainPath | None = None
        self._dense_chain: DenseChainStep | None = None  # the general path's lean step, if it applies
        self._data: tuple[list[np.ndarray], np.ndarray] = ([], np.empty(0))  # this fit's x, y (for planning)
        self._trained_through = 0  # history step the weights are at after a multi-epoch kernel call
        self._epoch_seconds: float | None = None  # the last epoch's time (a multi-epoch call's mean)
        self.path = ""  # "general" or "fused small net" once fit has started
        self._buffers: dict[str, np.ndarray] = {}
        self.stop_reason = ""

    # ------------------------------------------------------------------ loop
    def fit(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        validation: tuple[list[np.ndarray], np.ndarray] | None = None,
        callbacks: list[Callback] | None = None,
    ) -> History:
        """Train on prepared inputs `x` (list per Input, each (N, ...)) and targets `y` (N, ...).

        Small dense chains run on the fused small-net path (`engine.training.runners.small_net`), Dense-chain
        classifiers on the fused BLAS-chain path (`engine.training.runners.blas_chain`), unless `fused_paths`
        is False; they give the same numbers and report every batch the same way.
        """
        callbacks = callbacks or []
        count = len(y)
        if count == 0:
            raise DataError(
                "there are no training samples: the data set (or what the validation "
                "split leaves of it) is empty"
            )
        batches = max(1, math.ceil(count / self.batch_size))
        # The kernels index x, y and their buffers by these counts and shapes without bounds checks.
        check_prepared(self.model, x, y, "fit")
        self.loss.validate_targets(y, self.model.output_shape, target_label("fit"))
        if validation is not None:
            check_prepared(self.model, validation[0], validation[1], "validation_data")
            self.loss.validate_targets(validation[1], self.model.output_shape, "validation_data: y")
        self._data = (x, y)
        self._plan_path()
        # The small-net path's kernels are single-threaded: BLAS threads would only serve the
        # callbacks' occasional small matmuls, and spin on the other core after each one.
        with blas.single_threaded() if self._small_net is not None else contextlib.nullcontext():
            for cb in callbacks:
                cb.on_train_begin(self)
            try:
                self.stop_reason = self._run_epochs(x, y, validation, batches, callbacks)
            finally:
                for cb in callbacks:
                    cb.on_train_end(self)
        return self.history

    def _run_epochs(self, x, y, validation, batches: int, callbacks: list[Callback]) -> str:
        """`fit`'s epochs; the stop reason."""
        count = len(y)
        first_epoch = self.history.epoch_count
        best = (math.inf, None)
        waited = 0
        end = first_epoch + self.epochs
        epoch = first_epoch
        while epoch < end:
            if self._epochs_per_call(end - epoch, count) > 1:
                done = self._fused_epochs(x, y, validation, epoch, end, batches, callbacks)
                if done is None:
                    return "stopped"
                epoch += done
                if done:
                    continue
            lr = self.schedule.learning_rate(self.base_learning_rate, epoch, end)
            started = time.perf_counter()
            order = self.shuffle_rng.permutation(count) if self.shuffle else np.arange(count)
            if self._chunked_path() is not None:
                result = self._fused_epoch(x, y, order, epoch, batches, lr, callbacks)
            else:
                result = self._general_epoch(x, y, order, epoch, batches, lr, callbacks)
            if result is None:
                return "stopped"
            totals, lr = result
            val = self._evaluate(*validation) if validation is not None else None
            self._epoch_seconds = time.perf_counter() - started
            logs = self._end_epoch(epoch, end, totals, lr, count, val, self._epoch_seconds, callbacks)
            epoch += 1
            if self.early_stopping is not None:
                best, waited, stop = self._check_early_stopping(logs, best, waited)
                if stop:
                    return "early stopping"
        return "finished"

    @property
    def model_step(self) -> int:
        """The step (over the network's life, as `history.steps`) the weights are at. Callbacks
        of a multi-epoch kernel call hear about its batches after all of them ran, so while they
        do, the weights are ahead of the history."""
        return max(self.history.steps, self._trained_through)

    def _end_epoch(
        self,
        epoch: int,
        end: int,
        totals: dict[str, float],
        lr: float,
        count: int,
        val: dict[str, float] | None,
        seconds: float,
        callbacks: list[Callback],
    ) -> dict[str, float]:
        """Record an epoch's logs (training totals averaged, validation scores) and tell the callbacks."""
        logs = {key: value / count for key, value in totals.items()}
        if val is not None:
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = lr
        self.history.append_epoch(logs)
        seconds = max(seconds, 1e-9)
        for cb in callbacks:
            cb.on_epoch_end(EpochEnd(epoch, end, logs, seconds, count / seconds))
        return logs

    def _epochs_per_call(self, remaining: int, count: int) -> int:
        """How many whole epochs the next kernel call may run (sized as EPOCH_RUN_* say): several
        only on the fused path, while not paused and without early stopping (which must look at
        every epoch first)."""
        if self._small_net is None or self.early_stopping is not None or self.control.paused:
            return 1
        count = max(count, 1)
        first = EPOCH_RUN_SAMPLES // count
        if self._epoch_seconds is None:
            wanted = first
        else:
            wanted = min(
                int(EPOCH_RUN_SECONDS / max(self._epoch_seconds, 1e-9)),
                max(first, self.epochs // EPOCH_RUN_PARTS),
            )
        return max(1, min(remaining, wanted, EPOCH_RUN_MAX_SAMPLES // count))

    def _fused_epochs(self, x, y, validation, epoch, end, batches, callbacks) -> int | None:
        """Several whole epochs in one GIL-free kernel call (`SmallNetPath.run_epochs`), then each
        reported as the per-epoch path would. Returns the epochs done (0: the caller should go on
        epoch by epoch, e.g. after a pause request or a live change that left the fused path);
        None when stop was requested."""
        if self.control.stop_requested:
            return None
        self._apply_changes(0.0)
        if self.control.paused or self._small_net is None:
            return 0
        small_net, count = self._small_net, len(y)
        run = self._epochs_per_call(end - epoch, count)
        lrs = np.array(
            [self.schedule.learning_rate(self.base_learning_rate, e, end) for e in range(epoch, epoch + run)]
        )
        # One call for all the epochs' orders (the same numbers as a permutation per epoch): each
        # NumPy shuffle releases the GIL, and under a busy GUI thread each release costs a wait.
        orders = np.tile(np.arange(count, dtype=np.int64), (run, 1))
        if self.shuffle:
            self.shuffle_rng.permuted(orders, axis=1, out=orders)
        x_val = validation[0][0] if validation is not None else x[0][:0]
        dtype = self.model.dtype
        preds = np.empty((run, count, small_net.outputs), dtype)
        losses = np.empty((run, batches), np.float64)
        val_preds = np.empty((run, len(x_val), small_net.outputs), dtype)
        epoch_start = np.empty_like(self.model.weight_buffer)
        xs, targets = small_net.kernel_data(x[0], y)
        started = time.perf_counter()
        done = small_net.run_epochs(
            xs,
            targets,
            orders,
            lrs,
            x_val,
            preds,
            losses,
            val_preds,
            epoch_start,
        )
        self._trained_through = self.history.steps + done
        seconds = self._epoch_seconds = (time.perf_counter() - started) / run
        diverged = done < run * batches or not math.isfinite(losses[run - 1, batches - 1])
        finished = (done - 1) // batches if diverged else run
        val_logs = (
            scores_each(self.model, self.loss, self.metrics, val_preds[:finished], validation[1])
            if validation is not None
            else [None] * finished
        )
        epoch_losses = losses[:finished].tolist()
        all_totals = self._fused_totals_each(
            losses[:finished], preds[:finished], y, orders[:finished], batches
        )
        for e, (values, totals) in enumerate(zip(epoch_losses, all_totals, strict=True)):
            self._report(values, epoch + e, 0, batches, count, float(lrs[e]), callbacks)
            if validation is not None:
                self.last_predictions = val_preds[e]
            self._end_epoch(epoch + e, end, totals, float(lrs[e]), count, val_logs[e], seconds, callbacks)
        if diverged:
            failed = (done - 1) % batches
            self._report(
                losses[finished, :failed].tolist(),
                epoch + finished,
                0,
                batches,
                count,
                float(lrs[finished]),
                callbacks,
            )
            self.model.weight_buffer[...] = epoch_start
            raise DivergenceError(
                _divergence_message(
                    float(losses[finished, failed]), epoch + finished, failed, float(lrs[finished])
                )
            )
        return run

    def _plan_path(self) -> None:
        """Choose the fused small-net path when it applies, else the fused BLAS-chain path, else
        the general path with its lean step for plain Dense chains where that applies (again
        after a live change)."""
        self._small_net = self._blas_chain = self._dense_chain = None
        if self.fused_paths is not False:
            self._small_net = SmallNetPath.plan(
                self.model, self.loss, self.optimizer, self.clip_norm, self.batch_size
            )
            if self._small_net is None:
                self._blas_chain = BlasChainPath.plan(
                    self.model, self.loss, self.optimizer, self.clip_norm, self.batch_size, *self._data
                )
        if self._chunked_path() is None:
            self._dense_chain = DenseChainStep.plan(self.model, self.loss, *self._data)
        self.path = (
            "fused small net"
            if self._small_net is not None
            else "fused BLAS chain"
            if self._blas_chain is not None
            else "general"
        )

    def _chunked_path(self) -> SmallNetPath | BlasChainPath | None:
        """The fused path that runs chunks of batches per kernel call, if one was chosen."""
        return self._small_net if self._small_net is not None else self._blas_chain

    def _general_epoch(self, x, y, order, epoch, batches, lr, callbacks, first_batch=0, totals=None):
        """One epoch (from `first_batch` on, adding to `totals`), batch by batch; (metric totals,
        lr) or None when stopped."""
        snapshot = self.model.get_weights()
        weights, grads, decay = self.model.trainable()
        totals = totals if totals is not None else {}
        for batch in range(first_batch, batches):
            if not self.control.wait_for_turn():
                return None
            lr = self._apply_changes(lr)
            start = batch * self.batch_size
            if not self.shuffle:  # batches in order: slices are views, nothing to copy
                xb = [arr[start : start + self.batch_size] for arr in x]
                yb = y[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                xb, yb = self._gather(x, y, idx)
            loss_value, y_pred = self._train_step(xb, yb, weights, grads, decay, lr)
            if not math.isfinite(loss_value):
                self.model.set_weights(snapshot)
                raise DivergenceError(_divergence_message(loss_value, epoch, batch, lr))
            self._accumulate(totals, loss_value, y_pred, yb)
            self._report([loss_value], epoch, batch, batches, len(y), lr, callbacks)
        return totals, lr

    def _fused_epoch(self, x, y, order, epoch, batches, lr, callbacks):
        """One epoch on a fused path, in chunks of batches per kernel call; the control is
        honoured between chunks (one batch per chunk while paused or single-stepping). A live
        change that the fused path cannot compute (a weight penalty) hands the rest of the epoch
        to the general path."""
        fused = self._chunked_path()
        snapshot = self.model.get_weights()
        count = len(y)
        preds = self._buffer("preds", (count, fused.outputs), self.model.dtype)
        xs, targets = fused.kernel_data(x[0], y)
        order = np.ascontiguousarray(order, dtype=np.int64)
        chunk = fused.batches_per_call
        losses: list[float] = []
        batch = 0
        while batch < batches:
            if not self.control.wait_for_turn():
                return None
            lr = self._apply_changes(lr)
            if self._chunked_path() is not fused:
                totals = self._fused_totals(losses, preds, y, order, batch)
                return self._general_epoch(x, y, order, epoch, batches, lr, callbacks, batch, totals)
            size = 1 if self.control.paused else min(chunk, batches - batch)
            done = fused.run(xs, targets, order, batch, size, lr, preds)
            values = done.tolist()
            finite = values if math.isfinite(values[-1]) else values[:-1]
            self._report(finite, epoch, batch, batches, count, lr, callbacks)
            losses.extend(finite)
            if len(finite) < len(values):
                self.model.set_weights(snapshot)
                raise DivergenceError(_divergence_message(values[-1], epoch, batch + len(finite), lr))
            batch += size
        return self._fused_totals(losses, preds, y, order, batches), lr

    def _fused_totals(
        self, losses: list[float], preds: np.ndarray, y: np.ndarray, order: np.ndarray, batches: int
    ) -> dict[str, float]:
        """Loss and metric totals (sums over samples) of the epoch's first `batches` batches."""
        return self._fused_totals_each(
            np.asarray(losses, dtype=np.float64)[None], preds[None], y, order[None], batches
        )[0]

    def _fused_totals_each(
        self, losses: np.ndarray, preds: np.ndarray, y: np.ndarray, orders: np.ndarray, batches: int
    ) -> list[dict[str, float]]:
        """`_fused_totals` of each epoch of a stack (losses (k, batches), preds (k, N, ...),
        orders (k, N)) in a few whole-stack NumPy calls: under a busy GUI thread every call that
        releases the GIL costs a wait, and a multi-epoch call used to make several per epoch."""
        done = min(batches * self.batch_size, len(y))
        if done == 0:
            return [{} for _ in losses]
        # Each row summed in batch order as `_accumulate` does (cumsum adds left to right, unlike
        # np.sum's pairwise sum), so both paths give equal totals.
        weighted = losses[:, :batches] * np.append(
            np.full(batches - 1, float(self.batch_size)), done - self.batch_size * (batches - 1)
        )
        all_totals = [{"loss": total} for total in np.cumsum(weighted, axis=1)[:, -1].tolist()]
        preds, y_ordered = preds[:, :done], y[orders[:, :done]]
        for metric in self.metrics:
            if metric.batch_weighted:
                column = (metric.each(preds, y_ordered) * done).tolist()
            else:
                column = [
                    sum(
                        metric(p[s : s + self.batch_size], t[s : s + self.batch_size])
                        * min(self.batch_size, done - s)
                        for s in range(0, done, self.batch_size)
                    )
                    for p, t in zip(preds, y_ordered, strict=True)
                ]
            for totals, value in zip(all_totals, column, strict=True):
                totals[metric.name] = value
        return all_totals

    def _report(self, losses, epoch, first_batch, batches, count, lr, callbacks) -> None:
        """Record the losses of consecutive batches and tell the callbacks in one call."""
        steps = self.history.steps
        self.history.append_batches(losses)
        if not callbacks or not losses:
            return
        samples = min(count, (first_batch + len(losses)) * self.batch_size) - first_batch * self.batch_size
        event = BatchesEnd(epoch, first_batch, batches, steps + 1, losses, self.batch_size, samples, lr)
        for cb in callbacks:
            cb.on_batches_end(event)

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A scratch array kept between batches and epochs (reallocated when its shape changes)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(shape, dtype)
        return buf

    def _gather(self, x, y, idx):
        """The batch `idx` of the inputs and targets, copied into reused arrays."""
        rows = len(idx)
        # mode="clip" (idx is valid): with the default "raise", take buffers `out` (an extra copy)
        xb = [
            np.take(
                arr,
                idx,
                axis=0,
                mode="clip",
                out=self._buffer(f"x{i}.{rows}", (rows, *arr.shape[1:]), arr.dtype),
            )
            for i, arr in enumerate(x)
        ]
        yb = np.take(
            y, idx, axis=0, mode="clip", out=self._buffer(f"y.{rows}", (rows, *y.shape[1:]), y.dtype)
        )
        return xb, yb

    def _train_step(self, xb, yb, weights, grads, decay, lr) -> tuple[float, np.ndarray]:
        if self._dense_chain is not None:  # (a chain it takes has no weight penalties)
            loss_value, output = self._dense_chain.step(xb[0], yb)
            loss_value = float(loss_value)
        else:
            loss_value, output = self._forward_backward(xb, yb)
            loss_value = float(loss_value) + self.model.regularization_loss()
        if self.clip_norm is not None:
            clip_by_global_norm(grads, self.clip_norm)
        self.optimizer.step(weights, grads, lr, decay)
        return loss_value, output

    def _forward_backward(self, xb, yb) -> tuple[float, np.ndarray]:
        """Loss and outputs of the batch, layer by layer; fills every layer's gradients."""
        output = self.model.forward(xb, training=True, rng=self.dropout_rng)
        if self.fused:
            z = self.model.output_layer.pre_activation  # type: ignore[attr-defined]
            loss_value, grad_z = self._loss_from_logits(z, yb)
            self.model.backward(grad_z, from_preactivation=True)
        else:
            loss_value = self.loss.forward(output, yb)
            self.model.backward(self.loss.backward(output, yb))
        return loss_value, output

    def _loss_from_logits(self, z: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        """Fused loss and its gradient w.r.t. the logits; softmax cross-entropy runs its kernel
        once for both, into a reused array (targets were validated when fit started)."""
        kernel = SOFTMAX_CE_KERNELS.get(self.loss.name)
        ok = kernel is not None and z.ndim == 2 and z.dtype in KERNEL_DTYPES and z.flags.c_contiguous
        if ok and self.loss.target == "index":  # (class ids were checked in range when fit started)
            ok = yb.shape == z.shape[:1] and yb.dtype == np.int64 and yb.flags.c_contiguous
        elif ok:
            ok = yb.shape == z.shape and yb.dtype == z.dtype and yb.flags.c_contiguous
        if not ok:
            return self.loss.forward_from_logits(z, yb), self.loss.backward_from_logits(z, yb)
        grad = self._buffer(f"grad.{len(z)}", z.shape, z.dtype)
        return kernel(z, yb, grad), grad

    def _accumulate(self, totals: dict[str, float], loss: float, y_pred: np.ndarray, yb: np.ndarray) -> None:
        size = len(yb)
        totals["loss"] = totals.get("loss", 0.0) + loss * size
        for metric in self.metrics:
            totals[metric.name] = totals.get(metric.name, 0.0) + metric(y_pred, yb) * size

    def _apply_changes(self, lr: float) -> float:
        """Settings changed while training runs: the learning rate, and weight penalties
        ({node id: {"kernel_l2": ...}}), which may move training to or from the fused path."""
        changes = self.control.take_changes()
        if "learning_rate" in changes:
            self.base_learning_rate = float(changes["learning_rate"])
            lr = self.base_learning_rate
        if changes.get("regularization"):
            for node_id, values in changes["regularization"].items():
                layer = self.model.layers.get(node_id)
                if layer is not None:
                    layer.params.update({k: float(v) for k, v in values.items() if k in layer.params})
            self._plan_path()
        return lr

    def _check_early_stopping(self, logs, best, waited):
        config = self.early_stopping
        monitor = config["monitor"] if config["monitor"] in logs else "loss"
        value = logs[monitor]
        if value < best[0] - config["min_delta"]:
            return (value, self.model.get_weights()), 0, False
        waited += 1
        if waited >= config["patience"]:
            if config["restore_best_weights"] and best[1] is not None:
                self.model.set_weights(best[1])
            return best, waited, True
        return best, waited, False

    # ------------------------------------------------------------- inference
    def evaluate(self, x: list[np.ndarray], y: np.ndarray) -> dict[str, float]:
        """Loss and metrics over (x, y) in inference mode, batched. The outputs stay in
        `last_predictions` (callbacks reuse the validation outputs, e.g. for a confusion matrix)."""
        check_prepared(self.model, x, y, "evaluate")
        self.loss.validate_targets(y, self.model.output_shape, "evaluate: y")
        return self._evaluate(x, y)

    def _evaluate(self, x: list[np.ndarray], y: np.ndarray) -> dict[str, float]:
        """`evaluate` of already validated targets; on the fused path without the GIL."""
        small_net = self._small_net
        if small_net is not None and len(x) == 1 and x[0].ndim == 2:
            self.last_predictions = small_net.predict(
                x[0], np.empty((len(y), small_net.outputs), self.model.dtype)
            )
        else:
            self.last_predictions = predict(self.model, x, max(self.batch_size, 256))
        return scores(self.model, self.loss, self.metrics, self.last_predictions, y)


def predict(model: Model, x: list[np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """Inference-mode outputs `(N, *output_shape)` for prepared inputs, batched."""
    check_prepared(model, x, None, "predict")
    count = len(x[0])
    out = np.empty((count, *model.output_shape), dtype=model.dtype)
    for start in range(0, count, batch_size):
        stop = start + batch_size
        out[start:stop] = model.forward([arr[start:stop] for arr in x], training=False)
    return out


def evaluate(
    model: Model,
    loss: Loss,
    metrics: list[Metric],
    x: list[np.ndarray],
    y: np.ndarray,
    batch_size: int = 1024,
) -> dict[str, float]:
    check_prepared(model, x, y, "evaluate")
    loss.validate_targets(y, model.output_shape, "evaluate: y")
    return scores(model, loss, metrics, predict(model, x, max(batch_size, 256)), y)


def scores(
    model: Model, loss: Loss, metrics: list[Metric], y_pred: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """Loss (with the regularization penalty) and metrics of outputs `y_pred` against `y`."""
    return scores_each(model, loss, metrics, np.asarray(y_pred)[None], y)[0]


def scores_each(
    model: Model, loss: Loss, metrics: list[Metric], y_preds: np.ndarray, y: np.ndarray
) -> list[dict[str, float]]:
    """`scores` of each y_preds[i] (one validation pass per epoch) against the same targets."""
    penalty = model.regularization_loss()
    losses = loss.forward_each(y_preds, y)
    targets = np.broadcast_to(y, (len(y_preds), *np.shape(y)))
    columns = [(metric.name, metric.each(y_preds, targets).tolist()) for metric in metrics]
    return [
        {"loss": float(value) + penalty, **{name: values[i] for name, values in columns}}
        for i, value in enumerate(losses)
    ]


def _divergence_message(loss: float, epoch: int, batch: int, lr: float) -> str:
    return (
        f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1}: training diverged. "
        f"The learning rate ({lr:g}) is probably too high — try 10x smaller, or enable gradient "
        f"clipping. The weights were restored to the start of epoch {epoch + 1}."
    )
