"""TrainingWorker: runs `Network.fit` on a snapshot in its own QThread.

It talks to the GUI only through signals carrying plain data (numbers, small NumPy arrays,
dataclasses of those) and is steered only through `engine.control.TrainingControl`. It never
touches a widget. Batch numbers are sent in bundles at most `EMIT_HZ` times a second, so a fast
engine does not flood the GUI's event queue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine.control import TrainingControl
from engine.errors import NetCanvasError
from engine.network import Network
from engine.trainer import BatchEnd, Callback, EpochEnd, Trainer

EMIT_HZ = 30.0


@dataclass
class TrainingProgress:
    """Batches finished since the previous bundle."""

    first_step: int  # optimizer step of losses[0]
    losses: np.ndarray  # (k,) float64
    epoch: int  # 0-based epoch of the last batch
    batch: int  # 0-based batch of the last batch
    batches_per_epoch: int
    epochs: int  # epochs in this run
    samples_per_second: float
    learning_rate: float


@dataclass
class TrainingResult:
    """What the run leaves behind, to be put back into the document's network."""

    weights: list[np.ndarray]
    optimizer_state: dict[str, np.ndarray] | None
    optimizer_name: str | None
    reason: str  # "finished", "stopped", "early stopping", "diverged", "failed"
    message: str = ""
    history_epochs: dict[str, list[float]] = field(default_factory=dict)
    batch_losses: list[float] = field(default_factory=list)
    batch_stride: int = 1
    steps: int = 0


class _Relay(Callback):
    """Collects batch numbers on the training thread and emits them in rate-limited bundles."""

    def __init__(self, worker: TrainingWorker, epochs: int):
        self.worker = worker
        self.epochs = epochs
        self.pending: list[float] = []
        self.first_step = 0
        self.last_emit = 0.0
        self.window_samples = 0
        self.window_start = time.perf_counter()
        self.last: BatchEnd | None = None
        self.epoch_base = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self.epoch_base = trainer.history.epoch_count

    def on_batch_end(self, event: BatchEnd) -> None:
        if not self.pending:
            self.first_step = event.step
        self.pending.append(event.loss)
        self.window_samples += event.size
        self.last = event
        now = time.perf_counter()
        if now - self.last_emit >= 1.0 / EMIT_HZ:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if not self.pending or self.last is None:
            return
        now = now if now is not None else time.perf_counter()
        rate = self.window_samples / max(now - self.window_start, 1e-9)
        event = self.last
        self.worker.progressed.emit(TrainingProgress(
            self.first_step, np.asarray(self.pending, dtype=np.float64), event.epoch - self.epoch_base,
            event.batch, event.batches_per_epoch, self.epochs, rate, event.learning_rate,
        ))
        self.pending = []
        self.last_emit = now
        if now - self.window_start > 1.0:  # a sliding one-second window for samples/s
            self.window_start, self.window_samples = now, 0

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.flush()
        self.worker.epoch_ended.emit({"epoch": event.epoch, **event.logs})

    def on_train_end(self, trainer: Trainer) -> None:
        self.flush()


class TrainingWorker(QObject):
    started = Signal(dict)  # {"epochs", "batches_per_epoch", "samples"}
    progressed = Signal(object)  # TrainingProgress
    epoch_ended = Signal(dict)  # Keras-style logs plus "epoch" (0-based, whole life)
    finished = Signal(object)  # TrainingResult (also after a stop or divergence)

    def __init__(self, network: Network, x: Any, y: Any, validation: tuple[Any, Any] | None,
                 control: TrainingControl, callbacks: list[Callback] | None = None):
        super().__init__()
        self.network = network
        self.x, self.y, self.validation = x, y, validation
        self.control = control
        self.extra_callbacks = callbacks or []

    @Slot()
    def run(self) -> None:
        network = self.network
        config = network.training
        batches = max(1, -(-len(self.y) // config.batch_size))
        self.started.emit({"epochs": config.epochs, "batches_per_epoch": batches, "samples": len(self.y)})
        relay = _Relay(self, config.epochs)
        reason, message = "finished", ""
        try:
            network.fit(self.x, self.y, validation_data=self.validation,
                        callbacks=[relay, *self.extra_callbacks], control=self.control)
            reason = network.last_stop_reason or "finished"
        except NetCanvasError as exc:
            reason, message = ("diverged" if "diverged" in str(exc) else "failed"), str(exc)
        except (FloatingPointError, MemoryError, ValueError) as exc:
            reason, message = "failed", f"training failed: {exc}"
        self.finished.emit(self._result(reason, message))

    def _result(self, reason: str, message: str) -> TrainingResult:
        network = self.network
        optimizer = network.optimizer
        history = network.history
        return TrainingResult(
            weights=network.get_weights(),
            optimizer_state={k: v.copy() for k, v in optimizer.state().items()} if optimizer else None,
            optimizer_name=optimizer.name if optimizer else None,
            reason=reason,
            message=message,
            history_epochs={k: list(v) for k, v in history.epochs.items()},
            batch_losses=list(history.batch_losses),
            batch_stride=history.batch_stride,
            steps=history.steps,
        )
