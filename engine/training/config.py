"""The network file's "training" section: loss, optimizer, schedule and loop settings.

`TRAINING_SPECS` describes the plain settings with the same ParamSpec the layers use, so the
inspector edits them with the same widgets and the loader validates them with the same messages.
Loss, optimizer and schedule are `{"type": name, ...params}` objects (a bare name is accepted).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError
from engine.registry import LOSSES, METRICS, OPTIMIZERS, SCHEDULES, ParamSpec, Registry, resolve_params

TRAINING_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("batch_size", "int", 32, "Samples per gradient step", minimum=1, maximum=1_000_000),
    ParamSpec("epochs", "int", 20, "Passes over the training data", minimum=1, maximum=1_000_000),
    ParamSpec(
        "until_stopped",
        "bool",
        False,
        "Train until Stop is pressed; the epoch count then only sets the schedule's length",
    ),
    ParamSpec(
        "pace",
        "float",
        None,
        "Optimizer steps a second, to watch it learn (empty = as fast as it goes)",
        minimum=0.01,
        maximum=1_000_000.0,
        optional=True,
    ),
    ParamSpec(
        "seed", "int", 0, "Seed for initial weights, shuffling and dropout", minimum=0, maximum=2**32 - 1
    ),
    ParamSpec("dtype", "choice", "float32", "Floating-point precision", choices=("float32", "float64")),
    ParamSpec("shuffle", "bool", True, "Shuffle the training data every epoch"),
    ParamSpec(
        "clip_norm",
        "float",
        None,
        "Clip the global gradient norm to this (empty = off)",
        minimum=1e-12,
        optional=True,
    ),
)

EARLY_STOPPING_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "monitor", "choice", "val_loss", "Which number must keep improving", choices=("val_loss", "loss")
    ),
    ParamSpec("patience", "int", 10, "Epochs without improvement before stopping", minimum=1),
    ParamSpec("min_delta", "float", 0.0, "Smallest change that counts as improvement", minimum=0.0),
    ParamSpec("restore_best_weights", "bool", True, "Go back to the best epoch's weights"),
)


class _EarlyStoppingEntry:
    name = "early_stopping"
    param_specs = EARLY_STOPPING_SPECS


class _TrainingEntry:
    name = "training"
    param_specs = TRAINING_SPECS


@dataclass
class TypedChoice:
    """A registry type with its parameters, e.g. adam with learning_rate 0.001."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.params}


@dataclass
class TrainingConfig:
    loss: TypedChoice = field(default_factory=lambda: TypedChoice("mse"))
    optimizer: TypedChoice = field(default_factory=lambda: TypedChoice("adam"))
    schedule: TypedChoice = field(default_factory=lambda: TypedChoice("constant"))
    metrics: list[str] | None = None
    early_stopping: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # batch_size, epochs, until_stopped, pace, seed, dtype, shuffle, clip_norm read like attributes
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(name)

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.params["learning_rate"])

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> TrainingConfig:
        raw = copy.deepcopy(raw or {})
        where = "training"
        loss = _typed(raw.pop("loss", "mse"), LOSSES, f"{where}.loss")
        optimizer = _typed(raw.pop("optimizer", "adam"), OPTIMIZERS, f"{where}.optimizer")
        schedule = _typed(raw.pop("schedule", "constant"), SCHEDULES, f"{where}.schedule")
        metrics = raw.pop("metrics", None)
        if metrics is not None:
            if not isinstance(metrics, list):
                raise ConfigError(f"{where}.metrics must be a list of names, got {metrics!r}")
            for name in metrics:
                METRICS.get(name)
        early = raw.pop("early_stopping", None)
        if early is not None:
            if not isinstance(early, dict):
                raise ConfigError(f"{where}.early_stopping must be an object or null, got {early!r}")
            early = resolve_params(_EarlyStoppingEntry, early, f"{where}.early_stopping")
        settings = resolve_params(_TrainingEntry, raw, where)
        return cls(loss, optimizer, schedule, metrics, early, settings)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "loss": self.loss.to_dict(),
            "optimizer": self.optimizer.to_dict(),
            "schedule": self.schedule.to_dict(),
            **self.settings,
        }
        if self.metrics is not None:
            doc["metrics"] = list(self.metrics)
        if self.early_stopping is not None:
            doc["early_stopping"] = dict(self.early_stopping)
        return doc

    def with_overrides(self, **overrides: Any) -> TrainingConfig:
        """A copy with some settings replaced (None values are ignored).

        Keys: any TRAINING_SPECS name, `learning_rate`, `loss`, `optimizer` (a name or object).
        """
        doc = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "learning_rate":
                doc["optimizer"]["learning_rate"] = value
            elif key == "optimizer" and isinstance(value, str):
                lr = doc["optimizer"].get("learning_rate")
                doc["optimizer"] = {"type": value}
                if lr is not None:
                    doc["optimizer"]["learning_rate"] = lr
            else:
                doc[key] = value
        return TrainingConfig.from_dict(doc)


def _typed(value: Any, registry: Registry[Any], where: str) -> TypedChoice:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or "type" not in value:
        raise ConfigError(f"{where} must be a name or an object with a 'type', got {value!r}")
    params = dict(value)
    name = params.pop("type")
    entry = registry.get(name)
    return TypedChoice(name, resolve_params(entry, params, f"{where} '{name}'"))
