"""One registry for every named type: layers, activations, losses, optimizers, schedules,
initializers, metrics and datasets.

The palette, the inspector, the model builder, the file loader and the exporters all read these
registries, so a new type is added in one place. Each entry is a class (or function) carrying
`name`, `group`, `description` and `param_specs`; `ParamSpec` says how each parameter is edited,
validated and defaulted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from engine.errors import ConfigError, RegistryError

T = TypeVar("T")

PARAM_KINDS = ("int", "float", "bool", "choice", "shape", "str")


@dataclass(frozen=True)
class ParamSpec:
    """How one parameter of a registered type is edited and checked.

    kind: "int", "float", "bool", "choice" (one of `choices` or of the registry named by
    `choices_from`), "shape" (a tuple of positive ints) or "str".
    optional: None is allowed (for example "no regularization").
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    choices_from: str | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"ParamSpec {self.name!r}: unknown kind {self.kind!r}")

    def allowed_choices(self) -> tuple[str, ...]:
        """The names this choice parameter accepts (read live from the registry if linked)."""
        if self.choices_from is not None:
            return tuple(REGISTRIES[self.choices_from].names())
        return self.choices

    def validate(self, value: Any, where: str) -> Any:
        """Return `value` coerced to this kind, or raise ConfigError naming `where`."""
        label = f"{where}: parameter '{self.name}'"
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{label} must be set (got nothing)")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ConfigError(f"{label} expects true or false, got {value!r}")
        if self.kind == "int":
            if isinstance(value, bool) or not _is_integral(value):
                raise ConfigError(f"{label} expects a whole number, got {value!r}")
            return self._check_range(int(value), label)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{label} expects a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ConfigError(f"{label} expects a finite number, got {value!r}")
            return self._check_range(float(value), label)
        if self.kind == "choice":
            choices = self.allowed_choices()
            if value not in choices:
                raise ConfigError(f"{label} must be one of {', '.join(choices)}; got {value!r}")
            return value
        if self.kind == "shape":
            if isinstance(value, (int,)) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, (list, tuple)) or not value:
                raise ConfigError(f"{label} expects a list of positive whole numbers, got {value!r}")
            if not all(_is_integral(v) and not isinstance(v, bool) and int(v) > 0 for v in value):
                raise ConfigError(f"{label} expects a list of positive whole numbers, got {value!r}")
            return tuple(int(v) for v in value)
        if not isinstance(value, str):
            raise ConfigError(f"{label} expects text, got {value!r}")
        return value

    def _check_range(self, value: float, label: str) -> Any:
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{label} must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{label} must be at most {self.maximum}, got {value}")
        return value


def _is_integral(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


@dataclass
class Registry(Generic[T]):
    """Named entries of one kind. A duplicate name raises; an unknown name lists the choices."""

    kind: str
    _entries: dict[str, T] = field(default_factory=dict)

    def register(self, entry: T) -> T:
        """Add `entry` under its `name` attribute; usable as a class decorator."""
        name = getattr(entry, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} entry needs a non-empty 'name', got {name!r}")
        if name in self._entries:
            raise RegistryError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise RegistryError(
                f"unknown {self.kind} {name!r}; valid choices: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def resolve_params(entry: Any, params: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Fill defaults and validate `params` against `entry.param_specs`.

    Unknown keys are refused with the list of known ones, so a typo in a hand-written file is
    reported instead of silently ignored.
    """
    params = dict(params or {})
    specs = {spec.name: spec for spec in entry.param_specs}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        known = ", ".join(specs) or "none"
        raise ConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)}; known: {known}")
    return {name: spec.validate(params.get(name, spec.default), where) for name, spec in specs.items()}


LAYERS: Registry[Any] = Registry("layer")
ACTIVATIONS: Registry[Any] = Registry("activation")
LOSSES: Registry[Any] = Registry("loss")
OPTIMIZERS: Registry[Any] = Registry("optimizer")
SCHEDULES: Registry[Any] = Registry("learning-rate schedule")
INITIALIZERS: Registry[Any] = Registry("initializer")
METRICS: Registry[Any] = Registry("metric")
DATASETS: Registry[Any] = Registry("dataset")

REGISTRIES: dict[str, Registry[Any]] = {
    "layers": LAYERS,
    "activations": ACTIVATIONS,
    "losses": LOSSES,
    "optimizers": OPTIMIZERS,
    "schedules": SCHEDULES,
    "initializers": INITIALIZERS,
    "metrics": METRICS,
    "datasets": DATASETS,
}
