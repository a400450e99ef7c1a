"""The contract between the trainer and the ways it can compute a network's batches (runners).

The trainer owns everything written once: epochs, callbacks, pause/stop/step, live changes,
early stopping, divergence handling and metric totals. A runner owns how batches are trained:

- `plan(setup, x, y)` says whether the runner can train this set-up on this data: a runner
  ready for the fit, or None. The trainer tries the runners in one order
  (`engine.training.runners.order.RUNNERS`) and uses the first that accepts; the general runner,
  last, accepts every network. A live change that may matter (a weight penalty) plans again.
- `start_epoch(...)` hands it the epoch's data and sample order from a batch on, and the epoch's
  totals to add to; `run_batches(first, count, lr)` trains that many consecutive batches and
  returns their losses; `end_epoch(batches)` adds what it still holds to the totals.
- Where it can, `run_epochs(...)` trains whole epochs in one call (`runs_epochs`).

Every runner leaves the same state behind: the model's weights and `layer.grads`, the
optimizer's state and iteration count are those the general runner's steps would give, so the
trainer may switch runners between any two batches (the equality tests between runners:
tests/engine/test_fused_path.py, test_blas_chain.py, test_dense_chain.py).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from engine.losses import Loss
from engine.model import Model
from engine.optimizers import Optimizer
from engine.training.totals import EpochTotals


@dataclass(frozen=True)
class TrainingSetup:
    """What the runners read of a training run. The model is shared with the trainer: a live
    change of a layer's weight penalty shows here too."""

    model: Model
    loss: Loss
    optimizer: Optimizer
    batch_size: int
    clip_norm: float | None = None
    shuffle: bool = True  # False: the batches are consecutive slices of the data
    fused_paths: bool = True  # False: the fused runners decline every set-up
    dropout_rng: np.random.Generator | None = None  # the trainer's generator for dropout masks


class EpochsRun(NamedTuple):
    """What `Runner.run_epochs` did: `done` batches in all (every one, or up to and including the
    first with a non-finite loss), each batch's loss (E, batches) float64, each sample's output
    before its step at its position in the epoch's order (E, N, ...), the validation outputs
    after each epoch (E, Nv, ...), and the weights at the start of the last epoch begun."""

    done: int
    losses: np.ndarray
    preds: np.ndarray
    val_preds: np.ndarray
    epoch_start: np.ndarray


class Runner(ABC):
    """Trains batches of one fit's set-up; see the module docstring for the contract."""

    name: ClassVar[str]
    """The path shown in the GUI, the CLI and the benchmarks ("general", "fused small net", ...)."""
    runs_epochs: ClassVar[bool] = False
    """Whether `run_epochs` can train several whole epochs in one call."""
    batches_per_call: int = 1
    """Most batches one `run_batches` call should take: the trainer honours pause, stop and live
    changes, and reports, between calls."""

    @classmethod
    @abstractmethod
    def plan(cls, setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray) -> Runner | None:
        """This runner for the set-up and the prepared training data (x: a (N, ...) array per
        Input, y: (N, ...) targets, checked against the model), or None when it cannot train it."""

    @abstractmethod
    def start_epoch(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        order: np.ndarray,
        totals: EpochTotals,
        first_batch: int = 0,
    ) -> None:
        """Take the epoch's batches from `first_batch` on: data, sample order (N,), and the
        totals its batches add to."""

    @abstractmethod
    def run_batches(self, first_batch: int, batches: int, learning_rate: float) -> list[float]:
        """Train batches first_batch .. first_batch+batches-1 of the epoch; their mean losses,
        fewer when one was not finite (that one last: the trainer then restores the weights)."""

    @abstractmethod
    def end_epoch(self, batches: int) -> None:
        """Add to the totals what this runner's batches before `batches` have not added yet
        (at the epoch's end, or when it hands the rest of the epoch to another runner)."""

    def run_epochs(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        orders: np.ndarray,
        learning_rates: np.ndarray,
        x_val: list[np.ndarray] | None,
    ) -> EpochsRun:
        """Whole epochs in one call (only where `runs_epochs`): orders (E, N) int64, one sample
        order per epoch; learning_rates (E,); x_val the validation inputs or None."""
        raise NotImplementedError(f"the {self.name} runner trains one epoch at a time")

    def predict_outputs(self, x: list[np.ndarray]) -> np.ndarray | None:
        """Inference outputs (N, ...) of prepared inputs where this runner has a faster way than
        the layer-by-layer forward pass; None otherwise."""
        return None

    def training_context(self) -> AbstractContextManager[object]:
        """What holds while this runner trains a fit (e.g. NumPy's BLAS threads)."""
        return contextlib.nullcontext()
