"""The training loop: batches, validation, metrics, schedules, early stopping, callbacks.

The same seed and the same network give the same weights bit for bit: shuffling, initial
weights and dropout each draw from their own generator seeded from `seed`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from engine.array_checks import check_prepared, target_label
from engine.errors import DataError, DivergenceError
from engine.losses import Loss
from engine.metrics import Metric
from engine.model import Model
from engine.optimizers import Optimizer
from engine.training.callbacks import BatchesEnd, Callback, EpochEnd, History
from engine.training.control import TrainingControl
from engine.training.runners.base import Runner, TrainingSetup
from engine.training.runners.order import choose_runner
from engine.training.schedules import Schedule
from engine.training.totals import EpochTotals, totals_each

# Where epochs are tiny (the Playground sets), a runner that can (the fused small-net one) runs
# whole epochs per call: EPOCH_RUN_SAMPLES' worth first, then EPOCH_RUN_SECONDS' worth at the
# measured speed (a GUI thread painting with the GIL then stalls training once per call, and live
# views get numbers each frame), but, beyond the first size, at most 1/EPOCH_RUN_PARTS of the run,
# so a short run still reports its course in steps. Stop, pause and live changes land within one
# call.
EPOCH_RUN_SECONDS = 0.05
EPOCH_RUN_SAMPLES = 8192
EPOCH_RUN_PARTS = 20
EPOCH_RUN_MAX_SAMPLES = 1 << 16  # bounds a call's buffers (orders, outputs: <= 16 MB) however fast epochs go


class Trainer:
    """Trains a model with a loss, an optimizer and a schedule; its runner trains the batches."""

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
        until_stopped: bool = False,
        pace: float | None = None,
    ):
        """`fused_paths`: None lets the fused runners (small-net, BLAS-chain) train where they
        apply, False never. `until_stopped`: train until the control says stop (or early
        stopping does); `epochs` is then only the schedule's length. `pace`: optimizer steps a
        second to start at (the control's `set_pace`), None as fast as it goes."""
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
        self.until_stopped = until_stopped
        self.control.set_pace(pace)
        self.base_learning_rate = float(optimizer.params["learning_rate"])
        start = self.history.epoch_count
        self.shuffle_rng = np.random.default_rng([seed, 1, start])
        self.dropout_rng = np.random.default_rng([seed, 2, start])
        self.setup = TrainingSetup(
            model,
            loss,
            optimizer,
            batch_size,
            clip_norm,
            shuffle,
            fused_paths is not False,
            self.dropout_rng,
        )
        self.runner: Runner | None = None  # what trains the batches, once fit has started
        self._data: tuple[list[np.ndarray], np.ndarray] = ([], np.empty(0))  # this fit's x, y (for planning)
        self._trained_through = 0  # history step the weights are at after a multi-epoch runner call
        self._epoch_seconds: float | None = None  # the last epoch's time (a multi-epoch call's mean)
        self.path = ""  # the runner's name ("general", "fused small net", ...) once fit has started
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

        The first runner of `engine.training.runners.order.RUNNERS` that accepts the set-up
        trains the batches (the fused ones unless `fused_paths` is False); every runner gives the
        same numbers and reports every batch the same way.
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
        self._plan()
        with self._planned().training_context():
            for cb in callbacks:
                cb.on_train_begin(self)
            try:
                self.stop_reason = self._run_epochs(x, y, validation, batches, callbacks)
            finally:
                for cb in callbacks:
                    cb.on_train_end(self)
        return self.history

    def _plan(self) -> None:
        """Choose the runner (again after a live change) and show its name as `path`."""
        self.runner = choose_runner(self.setup, *self._data)
        self.path = self.runner.name

    def _planned(self) -> Runner:
        """The runner chosen when fit started or at the last live change."""
        if self.runner is None:
            raise RuntimeError("Trainer: no runner before fit has started")
        return self.runner

    def _run_epochs(self, x, y, validation, batches: int, callbacks: list[Callback]) -> str:
        """`fit`'s epochs; the stop reason."""
        count = len(y)
        first_epoch = self.history.epoch_count
        best = (math.inf, None)
        waited = 0
        end = first_epoch + self.epochs
        epoch = first_epoch
        while epoch < end or self.until_stopped:
            if self._epochs_per_call(self._remaining(epoch, end), count) > 1:
                done = self._whole_epochs(x, y, validation, epoch, end, batches, callbacks)
                if done is None:
                    return "stopped"
                epoch += done
                if done:
                    continue
            lr = self.schedule.learning_rate(self.base_learning_rate, epoch, end)
            started = time.perf_counter()
            order = self.shuffle_rng.permutation(count) if self.shuffle else np.arange(count)
            result = self._epoch(x, y, order, epoch, batches, lr, callbacks)
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
        of a multi-epoch runner call hear about its batches after all of them ran, so while they
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
        shown_end = 0 if self.until_stopped else end
        for cb in callbacks:
            cb.on_epoch_end(EpochEnd(epoch, shown_end, logs, seconds, count / seconds))
        return logs

    def _remaining(self, epoch: int, end: int) -> int:
        """Epochs left to run from `epoch`; until stopped, as many as one call may run."""
        return EPOCH_RUN_MAX_SAMPLES if self.until_stopped else end - epoch

    def _epochs_per_call(self, remaining: int, count: int) -> int:
        """How many whole epochs the next runner call may run (sized as EPOCH_RUN_* say): several
        only with a runner that `runs_epochs`, while not paused and without early stopping (which
        must look at every epoch first)."""
        if (
            not self._planned().runs_epochs
            or self.early_stopping is not None
            or self.control.one_batch_at_a_time
        ):
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

    def _whole_epochs(self, x, y, validation, epoch, end, batches, callbacks) -> int | None:
        """Several whole epochs in one runner call (`Runner.run_epochs`: GIL-free for the fused
        small-net runner), then each reported as epoch by epoch. Returns the epochs done (0: the
        caller should go on epoch by epoch, e.g. after a pause request or a live change that left
        a runner of whole epochs); None when stop was requested."""
        if self.control.stop_requested:
            return None
        self._apply_changes(0.0)
        runner, count = self._planned(), len(y)
        if self.control.one_batch_at_a_time or not runner.runs_epochs:
            return 0
        run = self._epochs_per_call(self._remaining(epoch, end), count)
        lrs = np.array(
            [self.schedule.learning_rate(self.base_learning_rate, e, end) for e in range(epoch, epoch + run)]
        )
        # One call for all the epochs' orders (the same numbers as a permutation per epoch): each
        # NumPy shuffle releases the GIL, and under a busy GUI thread each release costs a wait.
        orders = np.tile(np.arange(count, dtype=np.int64), (run, 1))
        if self.shuffle:
            self.shuffle_rng.permuted(orders, axis=1, out=orders)
        started = time.perf_counter()
        done, losses, preds, val_preds, epoch_start = runner.run_epochs(
            x, y, orders, lrs, validation[0] if validation is not None else None
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
        all_totals = totals_each(
            self.metrics, self.batch_size, losses[:finished], preds[:finished], y, orders[:finished]
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

    def _epoch(self, x, y, order, epoch, batches, lr, callbacks):
        """One epoch, in runs of the runner's `batches_per_call` batches; the control is honoured
        between runs (one batch per run while paused or single-stepping). After a live change the
        runner in use carries on if it still accepts the set-up, else the next runner that does
        takes the rest of the epoch. (metric totals, lr) or None when stopped."""
        snapshot = self.model.get_weights()
        totals = EpochTotals(self.metrics, self.batch_size)
        runner = self._planned()
        runner.start_epoch(x, y, order, totals)
        batch = 0
        while batch < batches:
            if not self.control.wait_for_turn():
                return None
            lr = self._apply_changes(lr)
            if self.runner is not runner:  # a live change planned again
                successor = choose_runner(self.setup, x, y, in_use=runner)
                if type(successor) is not type(runner):
                    runner.end_epoch(batch)
                    runner = successor
                    runner.start_epoch(x, y, order, totals, batch)
            size = 1 if self.control.one_batch_at_a_time else min(runner.batches_per_call, batches - batch)
            values = runner.run_batches(batch, size, lr)
            finite = values if math.isfinite(values[-1]) else values[:-1]
            self._report(finite, epoch, batch, batches, len(y), lr, callbacks)
            if len(finite) < len(values):
                self.model.set_weights(snapshot)
                raise DivergenceError(_divergence_message(values[-1], epoch, batch + len(finite), lr))
            batch += size
        runner.end_epoch(batches)
        return totals.values, lr

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

    def _apply_changes(self, lr: float) -> float:
        """Settings changed while training runs: the learning rate, and weight penalties
        ({node id: {"kernel_l2": ...}}), which may change the runner that can train the set-up."""
        changes = self.control.take_changes()
        if "learning_rate" in changes:
            self.base_learning_rate = float(changes["learning_rate"])
            lr = self.base_learning_rate
        if changes.get("regularization"):
            for node_id, values in changes["regularization"].items():
                layer = self.model.layers.get(node_id)
                if layer is not None:
                    layer.params.update({k: float(v) for k, v in values.items() if k in layer.params})
            self._plan()
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
        """`evaluate` of already validated targets; the runner's own way where it has one (the
        fused small-net runner's runs without the GIL)."""
        outputs = self.runner.predict_outputs(x) if self.runner is not None else None
        if outputs is None:
            outputs = predict(self.model, x, max(self.batch_size, 256))
        self.last_predictions = outputs
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
