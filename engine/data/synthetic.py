"""Synthetic data sets, registered in `DATASETS`.

The four 2-D classification sets and the two 2-D regression sets re-implement the generators of
TensorFlow Playground (src/dataset.ts) with these changes:
- coordinates are divided by 6 (Playground draws the square [-6, 6]^2), so they lie in about
  [-1, 1]; only gaussian blobs with high noise reach a little beyond;
- labels are 0/1 instead of -1/+1 (Playground's +1 becomes 1);
- exactly `n` points: the classes get n // k points each and the first n % k classes one more;
- rows are shuffled, so any prefix is a fair sample.
`noise` keeps Playground's meaning and range 0..0.5 (see each set's help and docs/data.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.registry import DATASETS, ParamSpec, resolve_params

PLAYGROUND_SCALE = 6.0  # Playground's half-width; coordinates are divided by it


def _common_specs(noise_default: float, noise_help: str, noise_max: float = 0.5) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("n", "int", 500, "number of samples", minimum=10, maximum=1_000_000),
        ParamSpec("noise", "float", noise_default, noise_help, minimum=0.0, maximum=noise_max),
        ParamSpec("seed", "int", 0, "random seed: the same seed gives the same points", minimum=0),
    )


_LABEL_NOISE = (
    "Playground noise (0..0.5): each label is read at the point moved by a uniform offset "
    "of up to 5/6 x noise per coordinate, so labels near the boundary flip"
)


class SyntheticSet(ABC):
    """Base of the registered sets: `generate(**params)` validates and builds the Dataset."""

    name = ""
    group = ""
    description = ""
    task = "classification"
    param_specs: tuple[ParamSpec, ...] = ()

    @classmethod
    def generate(cls, **params: Any) -> Dataset:
        """A Dataset with x float32 (n, 2) (sine: (n, 1)); deterministic for a given seed."""
        p = resolve_params(cls, params, f"data set '{cls.name}'")
        rng = np.random.default_rng(p.pop("seed"))
        x, y = cls._points(rng, **p)
        order = rng.permutation(len(x))
        x = np.ascontiguousarray(x[order], dtype=np.float32)
        y = y[order]
        if cls.task == "classification":
            y = y.astype(np.int64)
            n_classes = int(p.get("classes", 2))
        else:
            y = y.astype(np.float32).reshape(len(y), 1)
            n_classes = None
        names = ["x1", "x2"] if x.shape[1] == 2 else ["x"]
        return Dataset(x=x, y=y, task=cls.task, n_classes=n_classes, name=cls.name, feature_names=names)

    @staticmethod
    @abstractmethod
    def _points(rng: np.random.Generator, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def _counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


@DATASETS.register
class Circle(SyntheticSet):
    name = "circle"
    group = "2-D classification"
    description = "A disc of class 1 inside a ring of class 0 (Playground 'circle')."
    param_specs = _common_specs(0.05, _LABEL_NOISE)

    @staticmethod
    def _points(rng, n, noise):
        radius = 5.0
        inner, outer = _counts(n, 2)
        r = np.concatenate([rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, outer)])
        angle = rng.uniform(0, 2 * np.pi, n)
        x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        shifted = x + rng.uniform(-radius, radius, (n, 2)) * noise
        label = np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5
        return x / PLAYGROUND_SCALE, label


@DATASETS.register
class Xor(SyntheticSet):
    name = "xor"
    group = "2-D classification"
    description = "Four quadrants: class 1 where x1 and x2 have the same sign (Playground 'xor')."
    param_specs = _common_specs(0.1, _LABEL_NOISE)

    @staticmethod
    def _points(rng, n, noise):
        x = rng.uniform(-5, 5, (n, 2))
        x += np.where(x > 0, 0.3, -0.3)  # Playground's padding away from the axes
        shifted = x + rng.uniform(-5, 5, (n, 2)) * noise
        label = shifted[:, 0] * shifted[:, 1] >= 0
        return x / PLAYGROUND_SCALE, label


@DATASETS.register
class Gauss(SyntheticSet):
    name = "gauss"
    group = "2-D classification"
    description = "Two gaussian blobs around (1/3, 1/3) (class 1) and (-1/3, -1/3) (Playground 'gauss')."
    param_specs = _common_specs(
        0.1,
        "Playground noise: the blobs' variance grows linearly from 0.5 (noise 0) to 4 "
        "(noise 0.5) in Playground units, i.e. std 0.12 to 0.33 after scaling",
    )

    @staticmethod
    def _points(rng, n, noise):
        std = np.sqrt(0.5 + (4.0 - 0.5) * noise / 0.5)
        positive, negative = _counts(n, 2)
        x = np.concatenate([rng.normal(2.0, std, (positive, 2)), rng.normal(-2.0, std, (negative, 2))])
        label = np.arange(n) < positive
        return x / PLAYGROUND_SCALE, label


def _spiral_arms(rng: np.random.Generator, n: int, k: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """k interleaved arms, 1.75 turns out to radius 5, arm j turned by 2*pi*j/k; noise moves
    each coordinate by a uniform offset in [-noise, noise] (Playground units)."""
    xs, arms = [], []
    for arm, count in enumerate(_counts(n, k)):
        i = np.arange(count) / count
        r = i * 5.0
        t = 1.75 * i * 2 * np.pi + 2 * np.pi * arm / k
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        arms.append(np.full(count, arm))
    x = np.concatenate(xs) + rng.uniform(-1, 1, (n, 2)) * noise
    return x / PLAYGROUND_SCALE, np.concatenate(arms)


_SPIRAL_NOISE = "Playground noise: each coordinate moves by a uniform offset of up to noise/6"


@DATASETS.register
class Spiral(SyntheticSet):
    name = "spiral"
    group = "2-D classification"
    description = "Two interleaved spiral arms, one per class (Playground 'spiral')."
    param_specs = _common_specs(0.0, _SPIRAL_NOISE)

    @staticmethod
    def _points(rng, n, noise):
        x, arm = _spiral_arms(rng, n, 2, noise)
        return x, arm == 0  # Playground's positive arm starts at angle 0


@DATASETS.register
class SpiralMulticlass(SyntheticSet):
    name = "spiral_multiclass"
    group = "2-D classification"
    description = "k interleaved spiral arms, class j is arm j (Playground's spiral with k arms)."
    param_specs = (
        *_common_specs(0.05, _SPIRAL_NOISE),
        ParamSpec("classes", "int", 3, "number of arms (classes)", minimum=2, maximum=10),
    )

    @staticmethod
    def _points(rng, n, noise, classes):
        return _spiral_arms(rng, n, classes, noise)


@DATASETS.register
class Plane(SyntheticSet):
    name = "plane"
    group = "Regression"
    description = "y = 0.6 (x1 + x2) on the square [-1, 1]^2 (Playground 'reg-plane')."
    task = "regression"
    param_specs = _common_specs(
        0.05,
        "Playground noise: y is taken at the point moved by a uniform "
        "offset of up to noise in each coordinate (scaled units)",
    )

    @staticmethod
    def _points(rng, n, noise):
        x = rng.uniform(-6, 6, (n, 2))
        shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
        return x / PLAYGROUND_SCALE, (shifted[:, 0] + shifted[:, 1]) / 10.0


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


@DATASETS.register
class GaussSurface(SyntheticSet):
    name = "gauss_surface"
    group = "Regression"
    description = (
        "Six cone-shaped bumps of height +1 or -1 on [-1, 1]^2, in a checkerboard of "
        "signs (Playground 'reg-gauss')."
    )
    task = "regression"
    param_specs = _common_specs(
        0.0,
        "Playground noise: y is taken at the point moved by a uniform "
        "offset of up to noise in each coordinate (scaled units)",
    )

    @staticmethod
    def _points(rng, n, noise):
        x = rng.uniform(-6, 6, (n, 2))
        shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
        dist = np.hypot(shifted[:, None, 0] - _BUMPS[:, 0], shifted[:, None, 1] - _BUMPS[:, 1])
        values = _BUMPS[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)  # (n, 6)
        # Playground keeps the bump largest in absolute value (the first one on ties)
        strongest = np.argmax(np.abs(values), axis=1)
        return x / PLAYGROUND_SCALE, values[np.arange(n), strongest]


@DATASETS.register
class Sine(SyntheticSet):
    name = "sine"
    group = "Regression"
    description = "1-D function fit: y = sin(x) + noise for x uniform in [-pi, pi]."
    task = "regression"
    param_specs = _common_specs(0.05, "standard deviation of gaussian noise added to y", noise_max=1.0)

    @staticmethod
    def _points(rng, n, noise):
        x = rng.uniform(-np.pi, np.pi, (n, 1))
        return x, np.sin(x[:, 0]) + rng.normal(0.0, 1.0, n) * noise
