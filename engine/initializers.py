"""Weight initializers, with Keras' definitions (VarianceScaling).

`*_uniform` draw from U(-limit, limit) with limit = sqrt(3·scale/n); `*_normal` draw from a normal
truncated at two standard deviations, with stddev = sqrt(scale/n) / 0.87962566103423978 so the
truncated values have standard deviation sqrt(scale/n). n is fan_in (he: scale 2, lecun: scale 1)
or (fan_in + fan_out)/2 (glorot: scale 1), at least 1.

Random values are drawn in float64 and then rounded to `dtype`, so a float32 network starts from
the float64 network's weights rounded (same seed, same draws).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.registry import INITIALIZERS, ParamSpec, resolve_params

# Standard deviation of a unit normal truncated to [-2, 2] (Keras' correction factor).
TRUNCATED_STDDEV = 0.87962566103423978


class Initializer(ABC):
    """Base class: `init(shape, fan_in, fan_out, rng, dtype)` returns a new C-contiguous array."""

    name = ""
    group = "Initializer"
    description = ""
    param_specs: tuple[ParamSpec, ...] = ()

    def __init__(self, **params: Any):
        self.params = resolve_params(self, params, f"initializer '{self.name}'")

    def __call__(
        self, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator, dtype: Any
    ) -> np.ndarray:
        """An array of `shape` and exactly `dtype` (float32 or float64); deterministic for a given
        `rng` state. `fan_in`/`fan_out`: inputs and outputs per unit (Dense: the kernel's rows and
        columns)."""
        where = f"initializer '{self.name}'"
        if not isinstance(shape, tuple) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ConfigError(f"{where}: shape must be a tuple of whole numbers >= 0, got {shape!r}")
        for label, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
            if not isinstance(fan, (int, np.integer)) or isinstance(fan, bool) or fan < 0:
                raise ConfigError(f"{where}: {label} must be a whole number >= 0, got {fan!r}")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"{where}: rng must be a numpy Generator, got {type(rng).__name__}")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"{where}: dtype must be float32 or float64, got {dtype!r}") from None
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ConfigError(f"{where}: dtype must be float32 or float64, got {dt}")
        values = self._draw(tuple(int(d) for d in shape), int(fan_in), int(fan_out), rng)
        return np.ascontiguousarray(values, dtype=dt)

    @abstractmethod
    def _draw(
        self, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError


class _VarianceScaling(Initializer):
    scale = 1.0
    mode = "fan_in"  # or "fan_avg"
    distribution = "uniform"  # or "truncated_normal"

    def _draw(self, shape, fan_in, fan_out, rng):
        n = max(1.0, fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2.0)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * self.scale / n)
            return rng.uniform(-limit, limit, size=shape)
        return truncated_normal(shape, math.sqrt(self.scale / n) / TRUNCATED_STDDEV, rng)


def truncated_normal(shape: tuple[int, ...], stddev: float, rng: np.random.Generator) -> np.ndarray:
    """float64 normal(0, stddev) values of `shape`; any beyond 2·stddev is drawn again."""
    x = rng.standard_normal(math.prod(shape))
    redo = np.flatnonzero(np.abs(x) > 2.0)
    while redo.size:
        x[redo] = rng.standard_normal(redo.size)
        redo = redo[np.abs(x[redo]) > 2.0]
    return (x * stddev).reshape(shape)


@INITIALIZERS.register
class GlorotUniform(_VarianceScaling):
    name = "glorot_uniform"
    description = "Uniform in ±sqrt(6 / (fan_in + fan_out)); the usual default (Xavier)"
    mode = "fan_avg"


@INITIALIZERS.register
class GlorotNormal(_VarianceScaling):
    name = "glorot_normal"
    description = "Truncated normal with standard deviation sqrt(2 / (fan_in + fan_out)) (Xavier)"
    mode = "fan_avg"
    distribution = "truncated_normal"


@INITIALIZERS.register
class HeUniform(_VarianceScaling):
    name = "he_uniform"
    description = "Uniform in ±sqrt(6 / fan_in); suits ReLU layers"
    scale = 2.0


@INITIALIZERS.register
class HeNormal(_VarianceScaling):
    name = "he_normal"
    description = "Truncated normal with standard deviation sqrt(2 / fan_in); suits ReLU layers"
    scale = 2.0
    distribution = "truncated_normal"


@INITIALIZERS.register
class LecunUniform(_VarianceScaling):
    name = "lecun_uniform"
    description = "Uniform in ±sqrt(3 / fan_in); suits SELU layers"


@INITIALIZERS.register
class LecunNormal(_VarianceScaling):
    name = "lecun_normal"
    description = "Truncated normal with standard deviation sqrt(1 / fan_in); suits SELU layers"
    distribution = "truncated_normal"


@INITIALIZERS.register
class Zeros(Initializer):
    name = "zeros"
    description = "All zeros (the usual bias start)"

    def _draw(self, shape, fan_in, fan_out, rng):
        return np.zeros(shape)


@INITIALIZERS.register
class Ones(Initializer):
    name = "ones"
    description = "All ones"

    def _draw(self, shape, fan_in, fan_out, rng):
        return np.ones(shape)


@INITIALIZERS.register
class Constant(Initializer):
    name = "constant"
    description = "Every value the same number"
    param_specs = (ParamSpec("value", "float", 0.0, "The value of every entry"),)

    def _draw(self, shape, fan_in, fan_out, rng):
        return np.full(shape, self.params["value"])


def get_initializer(name: str, **params: Any) -> Initializer:
    """A new initializer of registered type `name` (RegistryError lists the valid names)."""
    return INITIALIZERS.get(name)(**params)
