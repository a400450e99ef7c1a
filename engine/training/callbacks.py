"""What a training run reports: an event per batch (or run of batches) and per epoch, the
Callback interface that receives them on the training thread, and the History it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.training.trainer import Trainer

# Plots draw ~500 points a curve; what is kept beyond that is for zooming in and for the CSV.
# Each run's Undo step keeps its history, so these also bound what a Train adds to memory.
MAX_BATCH_LOSSES = 4_096  # per-batch losses kept for plots; older halves are decimated
MAX_EPOCH_POINTS = 2_048  # per-epoch values kept per key, decimated likewise


@dataclass
class BatchEnd:
    epoch: int  # 0-based
    batch: int  # 0-based within the epoch
    batches_per_epoch: int
    step: int  # optimizer steps so far, over the whole life of the network
    loss: float
    size: int  # samples in this batch
    learning_rate: float


@dataclass
class BatchesEnd:
    """Consecutive batches of one epoch, reported at once (the fused path runs them in one call)."""

    epoch: int  # 0-based
    first_batch: int  # 0-based within the epoch
    batches_per_epoch: int
    first_step: int  # optimizer steps after the first of these batches (whole life)
    losses: list[float]
    batch_size: int
    samples: int  # in these batches; only the epoch's last batch can be short
    learning_rate: float

    def events(self) -> list[BatchEnd]:
        """One BatchEnd per batch."""
        return [
            BatchEnd(
                self.epoch,
                self.first_batch + i,
                self.batches_per_epoch,
                self.first_step + i,
                loss,
                min(self.batch_size, self.samples - i * self.batch_size),
                self.learning_rate,
            )
            for i, loss in enumerate(self.losses)
        ]


@dataclass
class EpochEnd:
    epoch: int  # 0-based
    epochs: int  # the run's end (whole life, as `epoch + 1` of its last); 0 until stopped
    logs: dict[str, float]  # Keras keys: loss, accuracy, val_loss, val_accuracy, ...
    seconds: float
    samples_per_second: float


class Callback:
    """Override what you need. Called on the training thread."""

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, event: BatchEnd) -> None: ...

    def on_batches_end(self, event: BatchesEnd) -> None:
        """Batches finished since the last report; by default `on_batch_end` for each. Override
        it instead when a call per batch would cost too much (the fused path reports hundreds)."""
        for batch_event in event.events():
            self.on_batch_end(batch_event)

    def on_epoch_end(self, event: EpochEnd) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


@dataclass
class History:
    """Per-epoch numbers under Keras keys, plus decimated per-batch losses for plots.

    Both stay bounded however long training goes: past MAX_BATCH_LOSSES batch losses, every other
    one is dropped and `batch_stride` doubles; past MAX_EPOCH_POINTS values of a key, the same
    happens to the per-epoch values and `epoch_stride`. `epoch_numbers[key][i]` is the (0-based)
    epoch `epochs[key][i]` belongs to: a multiple of `epoch_stride`, except the key's latest value,
    which is always kept (final numbers stay exact) until the next epoch's replaces it."""

    epochs: dict[str, list[float]] = field(default_factory=dict)
    batch_losses: list[float] = field(default_factory=list)
    batch_stride: int = 1  # batch_losses[i] is the loss of optimizer step i * batch_stride
    steps: int = 0
    epoch_numbers: dict[str, list[int]] = field(default_factory=dict)
    epoch_stride: int = 1
    epoch_count: int = -1  # epochs recorded over the whole life; -1: as many as `epochs["loss"]`
    _shared: bool = field(default=False, init=False, repr=False, compare=False)  # see share_numbers

    def __post_init__(self) -> None:
        """Fill what a history saved before per-epoch thinning lacks: one value per epoch, each
        key's values ending at the latest epoch."""
        if self.epoch_count < 0:
            self.epoch_count = max((len(values) for values in self.epochs.values()), default=0)
        for key, values in self.epochs.items():
            if key not in self.epoch_numbers:
                self.epoch_numbers[key] = list(range(self.epoch_count - len(values), self.epoch_count))

    def __deepcopy__(self, memo: dict) -> History:
        """Its lists hold only numbers, which are immutable, so new lists are a deep copy.
        (copy.deepcopy would visit every number: ~50 ms for a long run's history, on the GUI
        thread, where each run's undo step copies it.)"""
        return History(
            {key: list(values) for key, values in self.epochs.items()},
            list(self.batch_losses),
            self.batch_stride,
            self.steps,
            {key: list(numbers) for key, numbers in self.epoch_numbers.items()},
            self.epoch_stride,
            self.epoch_count,
        )

    def share_numbers(self) -> None:
        """Let keys with equal epoch numbers (usually all) share one list: a history that is kept
        as it is (an Undo step holds one per run) then costs about half the memory. Appending
        gives each key its own list again."""
        kept: list[list[int]] = []
        for key, numbers in self.epoch_numbers.items():
            same = next((other for other in kept if other == numbers), None)
            if same is None:
                kept.append(numbers)
            else:
                self.epoch_numbers[key] = same
        self._shared = True

    def append_epoch(self, logs: dict[str, float]) -> None:
        if self._shared:
            self.epoch_numbers = {key: list(numbers) for key, numbers in self.epoch_numbers.items()}
            self._shared = False
        epoch = self.epoch_count  # one int object shared by every key's list
        longest = 0
        for key, value in logs.items():
            values = self.epochs.setdefault(key, [])
            numbers = self.epoch_numbers.setdefault(key, [])
            if numbers and numbers[-1] % self.epoch_stride:  # kept only as the latest value
                values.pop()
                numbers.pop()
            values.append(float(value))
            numbers.append(epoch)
            longest = max(longest, len(values))
        self.epoch_count += 1
        if longest > MAX_EPOCH_POINTS:
            self._thin_epochs()

    def _thin_epochs(self) -> None:
        """Double the epoch stride, keeping each key's values on it and its latest value."""
        self.epoch_stride *= 2
        stride = self.epoch_stride
        for key, numbers in self.epoch_numbers.items():
            values = self.epochs[key]
            last = len(numbers) - 1
            kept = [i for i, number in enumerate(numbers) if number % stride == 0 or i == last]
            self.epochs[key] = [values[i] for i in kept]
            self.epoch_numbers[key] = [numbers[i] for i in kept]

    def append_batches(self, losses: list[float]) -> None:
        """`append_batch` for each value in turn, without a Python call per value."""
        n, k = len(losses), (-self.steps) % self.batch_stride
        while k < n:
            room = MAX_BATCH_LOSSES - len(self.batch_losses)
            taken = losses[k :: self.batch_stride][:room]
            self.batch_losses.extend(taken)
            last = k + (len(taken) - 1) * self.batch_stride
            k = last + self.batch_stride
            if len(self.batch_losses) >= MAX_BATCH_LOSSES:
                self.batch_losses = self.batch_losses[::2]
                self.batch_stride *= 2
                k = last + 1 + (-(self.steps + last + 1)) % self.batch_stride
        self.steps += n

    def append_batch(self, loss: float) -> None:
        if self.steps % self.batch_stride == 0:
            self.batch_losses.append(loss)
            if len(self.batch_losses) >= MAX_BATCH_LOSSES:
                self.batch_losses = self.batch_losses[::2]
                self.batch_stride *= 2
        self.steps += 1
