"""Learning-rate schedules, applied once per epoch: the trainer asks for each epoch's rate.

`epoch` is 0-based and counts over the network's whole life (training continued later goes on
from where it stopped); `total_epochs` is the epoch count the current run ends at.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

from engine.errors import ConfigError
from engine.registry import SCHEDULES, ParamSpec, resolve_params


class Schedule(ABC):
    """Base class: `learning_rate(base_lr, epoch, total_epochs)` gives one epoch's rate."""

    name = ""
    group = "Schedule"
    description = ""
    param_specs: tuple[ParamSpec, ...] = ()
    # The body of the PyTorch training script's `learning_rate(base, epoch, total)`; SCHEDULE
    # holds this schedule's settings (see engine/export/pytorch_export.py).
    torch_rate = ""

    def __init__(self, **params: Any):
        self.params = resolve_params(self, params, f"schedule '{self.name}'")

    def learning_rate(self, base_lr: float, epoch: int, total_epochs: int) -> float:
        """The rate for 0-based `epoch` of a run that ends before `total_epochs`."""
        base_lr, epoch, total_epochs = float(base_lr), int(epoch), int(total_epochs)
        if not (math.isfinite(base_lr) and base_lr >= 0.0):
            raise ConfigError(
                f"schedule '{self.name}': base learning rate must be a finite number >= 0, got {base_lr}"
            )
        if epoch < 0 or total_epochs < 1:
            raise ConfigError(
                f"schedule '{self.name}': expected epoch >= 0 and total_epochs >= 1, "
                f"got epoch {epoch} of {total_epochs}"
            )
        return float(self._rate(base_lr, epoch, total_epochs))

    @abstractmethod
    def _rate(self, base_lr: float, epoch: int, total_epochs: int) -> float:
        raise NotImplementedError


@SCHEDULES.register
class Constant(Schedule):
    name = "constant"
    torch_rate = "return base"
    description = "The same learning rate every epoch"

    def _rate(self, base_lr, epoch, total_epochs):
        return base_lr


@SCHEDULES.register
class StepDecay(Schedule):
    name = "step"
    torch_rate = 'return base * SCHEDULE["gamma"] ** (epoch // SCHEDULE["step_size"])'
    description = "Multiply the learning rate by gamma every step_size epochs"
    param_specs = (
        ParamSpec("step_size", "int", 10, "Epochs between two reductions", minimum=1),
        ParamSpec("gamma", "float", 0.5, "Factor applied at each reduction", minimum=1e-12, maximum=1.0),
    )

    def _rate(self, base_lr, epoch, total_epochs):
        return base_lr * self.params["gamma"] ** (epoch // self.params["step_size"])


@SCHEDULES.register
class ExponentialDecay(Schedule):
    name = "exponential"
    torch_rate = 'return base * SCHEDULE["gamma"] ** epoch'
    description = "Multiply the learning rate by gamma every epoch"
    param_specs = (
        ParamSpec("gamma", "float", 0.95, "Factor applied each epoch", minimum=1e-12, maximum=1.0),
    )

    def _rate(self, base_lr, epoch, total_epochs):
        return base_lr * self.params["gamma"] ** epoch


@SCHEDULES.register
class CosineDecay(Schedule):
    """Linear warm-up to the base rate over `warmup_epochs` (epoch e < W gets base·(e+1)/W), then
    cosine annealing from the base rate towards base·min_lr_fraction, reached at epoch
    `total_epochs` (as PyTorch's CosineAnnealingLR with T_max = total_epochs - warmup_epochs);
    epochs past the end keep the minimum."""

    name = "cosine"
    torch_rate = """
    s = SCHEDULE
    warmup = s["warmup_epochs"]
    if epoch < warmup:
        return base * (epoch + 1) / warmup
    progress = min(1.0, (epoch - warmup) / max(1, total - warmup))
    low = base * s["min_lr_fraction"]
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * progress))
    """
    description = "Optional linear warm-up, then a cosine curve down to a minimum rate"
    param_specs = (
        ParamSpec(
            "min_lr_fraction",
            "float",
            0.0,
            "Final rate as a fraction of the base rate",
            minimum=0.0,
            maximum=1.0,
        ),
        ParamSpec("warmup_epochs", "int", 0, "Epochs of linear warm-up before the decay", minimum=0),
    )

    def _rate(self, base_lr, epoch, total_epochs):
        warmup = self.params["warmup_epochs"]
        if epoch < warmup:
            return base_lr * (epoch + 1) / warmup
        progress = min(1.0, (epoch - warmup) / max(1, total_epochs - warmup))
        low = base_lr * self.params["min_lr_fraction"]
        return low + (base_lr - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


def get_schedule(name: str, **params: Any) -> Schedule:
    """A new schedule of registered type `name` (RegistryError lists the valid names)."""
    return SCHEDULES.get(name)(**params)
