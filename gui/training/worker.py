"""TrainingWorker: runs `Network.fit` on its own copy of the network, in a QThread.

It talks to the GUI only through signals carrying plain data (numbers, small NumPy arrays,
dataclasses of those) and is steered only through `engine.training.control.TrainingControl`. It never
touches a widget. Batch losses go out in bundles at most `EMIT_HZ` times a second, and health
snapshots (activations, gradients, decision surface) within a time budget, so a fast engine
neither floods the GUI's event queue nor loses much speed to being watched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import DivergenceError, NetCanvasError
from engine.network import Network
from engine.training.callbacks import BatchesEnd, Callback, EpochEnd
from engine.training.control import TrainingControl
from engine.training.monitor import MonitorSnapshot, TrainingMonitor, confusion_matrix, shows_surface
from engine.training.trainer import Trainer

EMIT_HZ = 30.0
SNAPSHOT_HZ = 5.0
CONFUSION_HZ = 2.0
SNAPSHOT_BUDGET = 0.04  # at most this fraction of training time goes to health snapshots
# A run too short for SNAPSHOT_HZ to show a trend (the spiral example trains in well under a
# second) still gets a snapshot every 1/SNAPSHOT_POINTS of its steps, without the decision
# surface (half the cost), while these take at most SHORT_RUN_BUDGET of the training time.
# Runs long enough for SNAPSHOT_POINTS at SNAPSHOT_HZ do without.
SNAPSHOT_POINTS = 20
SHORT_RUN_BUDGET = 0.2
PROBE_SAMPLES = 256
# The probe takes fewer samples when a layer's outputs are large (a first convolution's 32 x 26 x 26
# per MNIST image): at most this many values in any layer, at least MIN_PROBE_SAMPLES samples, so
# a snapshot of an image network costs tens of milliseconds, not half a second.
PROBE_VALUES = 1_000_000
MIN_PROBE_SAMPLES = 32
MISCLASSIFIED_SHOWN = 24


@dataclass
class TrainingProgress:
    """Batches finished since the previous bundle."""

    first_step: int  # optimizer step of losses[0]
    losses: np.ndarray  # (k,) float64
    epoch: int  # 0-based epoch of this run
    batch: int  # 0-based batch of the last batch
    batches_per_epoch: int
    epochs: int  # epochs in this run; 0 until stopped
    samples_per_second: float
    learning_rate: float


@dataclass
class EpochReport:
    """One epoch's Keras-style logs, with the validation confusion matrix for classifiers."""

    epoch: int  # whole-life epoch index (0-based)
    step: int  # optimizer steps taken by the end of this epoch (whole life)
    logs: dict[str, float]
    seconds: float
    confusion: np.ndarray | None = None  # (k, k) counts, row = true class
    misclassified: np.ndarray | None = None  # indices into the validation set
    misclassified_as: np.ndarray | None = None  # the class predicted for each of them
    first_kernel: np.ndarray | None = None  # (inputs, units) copy, drawn as images for image data


@dataclass
class TrainingResult:
    """How the run ended, with its final weights and per-epoch numbers."""

    weights: list[np.ndarray]
    reason: str  # "finished", "stopped", "early stopping", "diverged", "failed"
    message: str = ""
    history_epochs: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0  # optimizer steps of the network's whole life


class _Relay(Callback):
    """Runs on the training thread: bundles batch numbers and takes health snapshots."""

    def __init__(self, worker: TrainingWorker, epochs: int):
        self.worker = worker
        self.epochs = epochs
        self.pending: list[float] = []
        self.first_step = 0
        self.last_emit = 0.0
        self.window_samples = 0
        self.window_start = time.perf_counter()
        self.last: BatchesEnd | None = None
        self.epoch_base = 0
        self.monitor: TrainingMonitor | None = None
        self.next_snapshot = 0.0
        self.snapshot_step = -1  # the model step of the last snapshot
        self.surface_step = -1  # ... and of the last one with the decision surface
        self.snapshot_seconds = 0.0  # time the snapshots after the first took
        self.train_started = time.perf_counter()
        self.run_start_step = 0  # the model step this run started from
        self.trainer: Trainer | None = None
        self.last_confusion = 0.0
        self.reports: list[EpochReport] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.epoch_base = trainer.history.epoch_count
        self.train_started = time.perf_counter()
        self.run_start_step = trainer.model_step
        if self.worker.probe_x is not None:
            index = self.worker.sample_index
            self.monitor = TrainingMonitor(
                trainer.model,
                self.worker.probe_x,
                surface=shows_surface(self.worker.x),
                sample=self.worker.sample(index),
                sample_index=index,
            )
            self.snapshot()
            # The first one also loads kernels and warms caches (up to ~1 s when Train is pressed
            # right after opening): it counts neither in the budget nor towards the next one's time.
            self.snapshot_seconds = 0.0
            self.next_snapshot = time.perf_counter() + 1.0 / SNAPSHOT_HZ

    def on_batches_end(self, event: BatchesEnd) -> None:
        if not self.pending:
            self.first_step = event.first_step
        self.pending.extend(event.losses)
        self.window_samples += event.samples
        self.last = event
        now = time.perf_counter()
        if self.worker.control.paused:  # the trainer waits after this: show where it stopped
            self.flush(now)
            if self.monitor is not None:
                self.snapshot()
            return
        if now - self.last_emit >= 1.0 / EMIT_HZ:
            self.flush(now)
        if self.monitor is not None:
            if now >= self.next_snapshot:
                self.snapshot()
            elif self._short_run_due(event, now):
                self.snapshot(with_surface=False)

    def _short_run_due(self, event: BatchesEnd, now: float) -> bool:
        """A snapshot every 1/SNAPSHOT_POINTS of the run's steps, within SHORT_RUN_BUDGET, while
        the run looks too short for SNAPSHOT_POINTS snapshots at SNAPSHOT_HZ."""
        total = self.epochs * event.batches_per_epoch
        if total == 0:  # until stopped: no end to spread snapshots over
            return False
        step, elapsed = self._model_step(), now - self.train_started
        projected_seconds = elapsed * total / max(step - self.run_start_step, 1)
        return (
            projected_seconds * SNAPSHOT_HZ < SNAPSHOT_POINTS
            and step - self.snapshot_step >= total / SNAPSHOT_POINTS
            and self.snapshot_seconds <= SHORT_RUN_BUDGET * elapsed
        )

    def _model_step(self) -> int:
        return self.trainer.model_step if self.trainer is not None else 0

    def snapshot(self, with_surface: bool = True) -> None:
        """Take and send a snapshot, unless the weights and the chosen sample are where the last
        one saw them."""
        step = self._model_step()
        index = self.worker.sample_index
        chosen = bool(self.monitor.conv_ids) and index != self.monitor.sample_index
        if chosen:
            self.monitor.set_sample(self.worker.sample(index), index)
        if not chosen and step == self.snapshot_step and (step == self.surface_step or not with_surface):
            return
        started = time.perf_counter()
        snapshot: MonitorSnapshot = self.monitor.snapshot(with_surface=with_surface, step=step)
        spent = time.perf_counter() - started
        self.snapshot_seconds += spent
        self.snapshot_step = step
        if with_surface:
            self.surface_step = step
            self.next_snapshot = started + max(1.0 / SNAPSHOT_HZ, spent / SNAPSHOT_BUDGET)
        self.worker.snapshot_taken.emit(snapshot)

    def flush(self, now: float | None = None) -> None:
        """Send the batch losses and epoch reports gathered since the last flush, in one go each."""
        now = now if now is not None else time.perf_counter()
        self.last_emit = now
        if self.reports:
            reports, self.reports = self.reports, []
            self.worker.epochs_ended.emit(reports)
        if not self.pending or self.last is None:
            return
        rate = self.window_samples / max(now - self.window_start, 1e-9)
        event = self.last
        self.worker.progressed.emit(
            TrainingProgress(
                self.first_step,
                np.asarray(self.pending, dtype=np.float64),
                event.epoch - self.epoch_base,
                event.first_batch + len(event.losses) - 1,
                event.batches_per_epoch,
                self.epochs,
                rate,
                event.learning_rate,
            )
        )
        self.pending = []
        if now - self.window_start > 1.0:  # a sliding one-second window for samples/s
            self.window_start, self.window_samples = now, 0

    def on_epoch_end(self, event: EpochEnd) -> None:
        steps = self.trainer.history.steps if self.trainer is not None else 0
        report = EpochReport(event.epoch, steps, dict(event.logs), event.seconds)
        now = time.perf_counter()
        last_epoch = event.epoch + 1 == event.epochs
        # Tiny epochs (a few ms) would spend most of their time on the confusion matrix: compute
        # it at most CONFUSION_HZ times a second, and always after the last epoch.
        if last_epoch or now - self.last_confusion >= 1.0 / CONFUSION_HZ:
            self.worker.add_confusion(report, self.trainer.last_predictions if self.trainer else None)
            self.last_confusion = time.perf_counter()
        self.reports.append(report)
        if last_epoch or now - self.last_emit >= 1.0 / EMIT_HZ:
            self.flush(now)
        if self.monitor is not None and (last_epoch or now >= self.next_snapshot):
            self.snapshot()

    def on_train_end(self, trainer: Trainer) -> None:
        self.flush()
        if self.monitor is not None:
            self.snapshot()


class TrainingWorker(QObject):
    # {"epochs" (0: until stopped), "batches_per_epoch", "samples", "first_step", "first_epoch", "started_at"}; started_at
    # is time.perf_counter() on this thread as training begins (the GUI may hear of it much later)
    started = Signal(dict)
    progressed = Signal(object)  # TrainingProgress
    snapshot_taken = Signal(object)  # engine.training.monitor.MonitorSnapshot
    epochs_ended = Signal(list)  # [EpochReport], bundled like the batch losses
    finished = Signal(object)  # TrainingResult (also after a stop or divergence)

    def __init__(
        self,
        network: Network,
        x: Any,
        y: Any,
        validation: tuple[Any, Any] | None,
        control: TrainingControl,
        classes: int | None = None,
        sample_index: int | None = 0,
    ):
        """`sample_index`: the sample of `sample_source(x, validation)` whose feature maps the
        snapshots show (see `choose_sample`)."""
        super().__init__()
        self.network = network
        self.x, self.y, self.validation = x, y, validation
        self.control = control
        self.classes = classes
        self.probe_x = probe_inputs(network, x)
        self.sample_index = sample_index

    def choose_sample(self, index: int | None) -> None:
        """Show the feature maps of sample `index` from the next snapshot on. Called on the GUI
        thread; the training thread only reads the number (one attribute, set at once)."""
        self.sample_index = index

    def sample(self, index: int | None) -> np.ndarray | None:
        """Sample `index` of the feature-map images as the model sees it `(1, *input shape)`;
        None when there is no such sample."""
        return prepared_sample(self.network, sample_source(self.x, self.validation), index)

    def add_confusion(self, report: EpochReport, scores: np.ndarray | None) -> None:
        """The validation confusion matrix, from the outputs the trainer just computed for the
        validation loss (or a fresh prediction when there are none)."""
        add_confusion(self.network, report, self.validation, self.classes, scores)

    @Slot()
    def run(self) -> None:
        network = self.network
        config = network.training
        batches = max(1, -(-len(self.y) // config.batch_size))
        epochs = 0 if config.until_stopped else config.epochs  # 0: until stopped
        self.started.emit(
            {
                "epochs": epochs,
                "batches_per_epoch": batches,
                "samples": len(self.y),
                "first_step": network.history.steps,
                "first_epoch": network.history.epoch_count,
                "started_at": time.perf_counter(),
            }
        )
        relay = _Relay(self, epochs)
        reason, message = "finished", ""
        try:
            network.fit(
                self.x,
                self.y,
                validation_data=self.validation,
                callbacks=[relay],
                control=self.control,
                pace=config.pace,  # (None: as fast as it goes)
            )
            reason = network.last_stop_reason or "finished"
        except NetCanvasError as exc:
            reason, message = ("diverged" if isinstance(exc, DivergenceError) else "failed"), str(exc)
        except Exception as exc:  # noqa: BLE001 - the thread boundary: report, never die silently
            reason, message = "failed", f"training failed ({type(exc).__name__}): {exc}"
        self.finished.emit(self._result(reason, message))

    def _result(self, reason: str, message: str) -> TrainingResult:
        """The weights and numbers the GUI shows; the optimizer and full history stay on
        `self.network`, which the session reads once the thread is done with it."""
        network = self.network
        weights = network.get_weights()
        # The model goes into the document, and with it into an Undo step that may live all
        # session: rebuilt from its weights, it leaves behind the per-batch arrays its layers keep
        # (a few MB for the monitor's decision-surface batch alone). Its history, kept likewise,
        # shares what it can.
        network._model = None
        network.set_weights(weights)
        network.history.share_numbers()
        return TrainingResult(
            weights=weights,
            reason=reason,
            message=message,
            history_epochs={k: list(v) for k, v in network.history.epochs.items()},
            steps=network.history.steps,
        )


def probe_inputs(network: Network, x: Any) -> np.ndarray | None:
    """A fixed sample of the training inputs `x` as the model sees them (scaled)."""
    if not isinstance(x, np.ndarray) or x.ndim < 2 or len(x) == 0:
        return None
    largest = max(int(np.prod(shape)) for shape in network.model.shapes.values())
    count = min(PROBE_SAMPLES, max(MIN_PROBE_SAMPLES, PROBE_VALUES // max(largest, 1)))
    rows = np.random.default_rng(0).permutation(len(x))[:count]
    sample = x[np.sort(rows)]
    if network.scaler is not None:
        sample = network.scaler.transform(sample)
    return network.model.prepare_inputs(sample)[0]


def sample_source(x: Any, validation: tuple[Any, Any] | None) -> np.ndarray | None:
    """The images the feature-map views pick from: the validation inputs, else the training inputs."""
    source = validation[0] if validation is not None and len(validation[1]) else x
    return source if isinstance(source, np.ndarray) and source.ndim >= 2 else None


def prepared_sample(network: Network, source: np.ndarray | None, index: int | None) -> np.ndarray | None:
    """Row `index` of `source` scaled and shaped as the model sees it `(1, *input shape)`; None
    without one (no source, or an index outside it)."""
    if source is None or index is None or not 0 <= index < len(source):
        return None
    row = source[index : index + 1]
    if network.scaler is not None:
        row = network.scaler.transform(row)
    return network.model.prepare_inputs(row)[0]


def sample_snapshot(network: Network, source: np.ndarray | None, index: int | None) -> MonitorSnapshot | None:
    """The feature maps of sample `index` of `source` and the filters of a network that is not
    training (a pick after a run): a snapshot whose probe is that sample alone; None without one."""
    row = prepared_sample(network, source, index)
    if row is None:
        return None
    return TrainingMonitor(network.model, row, surface=False, sample=row, sample_index=index).snapshot(
        step=network.history.steps
    )


def add_confusion(
    network: Network,
    report: EpochReport,
    validation: tuple[Any, Any] | None,
    classes: int | None,
    scores: np.ndarray | None = None,
) -> None:
    """Fill `report`'s confusion matrix (and misclassified samples, first kernel) from the network's
    `scores` on the validation data, or a fresh prediction when there are none."""
    if classes is None or validation is None or len(validation[1]) == 0:
        return
    x_val, y_val = validation
    if scores is None or len(scores) != len(y_val):
        scores = network.predict(x_val)
    report.confusion = confusion_matrix(y_val, scores, classes)
    truth = np.asarray(y_val)
    truth = truth.argmax(axis=1) if truth.ndim == 2 and truth.shape[1] > 1 else truth.reshape(-1)
    predicted = (
        scores.argmax(axis=1)
        if scores.ndim == 2 and scores.shape[1] > 1
        else (scores.reshape(-1) > 0.5).astype(np.int64)
    )
    report.misclassified = np.flatnonzero(predicted != truth)[:MISCLASSIFIED_SHOWN]
    report.misclassified_as = predicted[report.misclassified]
    model = network.model
    first = next((model.layers[n] for n in model.order if "kernel" in model.layers[n].weights), None)
    report.first_kernel = first.weights["kernel"].copy() if first is not None else None


def describe(
    network: Network,
    x: Any,
    validation: tuple[Any, Any] | None,
    classes: int | None,
    sample_index: int | None = None,
) -> tuple[MonitorSnapshot | None, EpochReport]:
    """What the views show of a network that is not training (e.g. a trained state given back by
    Undo): a health snapshot with the decision surface over the training inputs `x` (and the
    feature maps of sample `sample_index`, see `sample_source`), and a report with the validation
    confusion matrix. The network's weights are only read."""
    history = network.history
    report = EpochReport(
        max(history.epoch_count - 1, 0),
        history.steps,
        {k: v[-1] for k, v in history.epochs.items() if v},
        0.0,
    )
    add_confusion(network, report, validation, classes)
    probe = probe_inputs(network, x)
    if probe is None:
        return None, report
    row = prepared_sample(network, sample_source(x, validation), sample_index)
    monitor = TrainingMonitor(
        network.model, probe, surface=shows_surface(x), sample=row, sample_index=sample_index
    )
    return monitor.snapshot(step=history.steps), report
