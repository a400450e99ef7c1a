"""The in-memory data set every source produces, its train/validation split and feature scaling.

`Dataset.x` always holds the raw feature values. When a source standardizes (CSV by default), the
fitted `Standardizer` travels in `Dataset.scaler` and the consumer applies it: `Network` does so in
`fit`, `evaluate` and `predict` once `network.scaler` is set, which is also what gets saved in the
network file, so predictions later take raw values too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError, DataError

TASKS = ("classification", "regression")
FLOAT_DTYPES = ("float32", "float64")


def check_dtype(dtype: Any) -> np.dtype:
    """`dtype` as a NumPy float dtype, or ConfigError (only float32 and float64 are supported)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in FLOAT_DTYPES:
        raise ConfigError(f"data dtype must be one of {', '.join(FLOAT_DTYPES)}; got {dtype!r}")
    return resolved


def check_split(val_fraction: Any, seed: Any) -> None:
    """ConfigError unless 0 <= val_fraction < 1 and seed is a whole number >= 0."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.floating)):
        raise ConfigError(f"data: val_split expects a number from 0 to below 1, got {val_fraction!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data: val_split must be at least 0 and below 1, got {val_fraction}")
    integral = isinstance(seed, (int, np.integer)) or (isinstance(seed, float) and seed.is_integer())
    if isinstance(seed, bool) or not integral or seed < 0:
        raise ConfigError(f"data: seed expects a whole number of 0 or more, got {seed!r}")


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled row indices (train, validation) for `n` rows; the same for the same arguments.

    The validation part has round(n * val_fraction) rows, at least one when the fraction is
    above zero, and the training part keeps at least one row.
    """
    check_split(val_fraction, seed)
    order = np.random.default_rng(int(seed)).permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0.0:
        if n < 2:
            raise DataError(f"cannot split {n} sample(s) into training and validation parts")
        n_val = min(max(n_val, 1), n - 1)
    return order[n_val:], order[:n_val]


@dataclass(eq=False)
class Standardizer:
    """Per-feature standardization z = (x - mean) / std.

    `mean` and `std` have the feature shape (one value per column for tabular data, shape
    `x.shape[1:]` in general). They are fitted on training rows only; constant features get
    std 1 so they map to 0 instead of dividing by zero.
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.std = np.asarray(self.std, dtype=np.float64)
        if self.mean.shape != self.std.shape:
            raise DataError(
                f"standardizer: mean has shape {self.mean.shape} but std has shape {self.std.shape}"
            )
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))):
            raise DataError("standardizer: mean and std must be finite numbers")
        if np.any(self.std <= 0):
            raise DataError("standardizer: every std must be above 0")

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        """Fit on training features `x` of shape (N, *feature_shape), N >= 1."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"standardizer: expected features of shape (N, ...) with N >= 1, got {x.shape}")
        mean = x.mean(axis=0, dtype=np.float64)
        std = x.std(axis=0, dtype=np.float64)
        std[~(std > 1e-12)] = 1.0
        return cls(mean, std)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        shape = self.mean.shape
        if x.ndim < len(shape) or x.shape[x.ndim - len(shape) :] != shape:
            raise DataError(f"standardizer fitted on features of shape {shape} got data of shape {x.shape}")
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std for `x` of shape (N, *feature_shape) or one sample; float32 and
        float64 inputs keep their dtype, other inputs become float64."""
        x = self._check(x)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return ((x - self.mean.astype(dtype)) / self.std.astype(dtype)).astype(dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """z * std + mean: the raw values back from standardized ones (same shapes as transform)."""
        z = self._check(z)
        dtype = z.dtype if z.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return (z * self.std.astype(dtype) + self.mean.astype(dtype)).astype(dtype, copy=False)

    def to_dict(self) -> dict[str, list]:
        """Plain (nested) lists for the network file: {"mean": [...], "std": [...]}."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, doc: Any) -> Standardizer:
        """The reverse of `to_dict`; DataError naming the field when it is malformed."""
        where = "preprocessing.standardize"
        if not isinstance(doc, dict) or not {"mean", "std"} <= set(doc):
            got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            raise DataError(f"{where}: expected an object with 'mean' and 'std' lists, got {got}")
        arrays = {}
        for key in ("mean", "std"):
            try:
                arrays[key] = np.asarray(doc[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{where}.{key}: expected a list of numbers, got {doc[key]!r}") from None
            if arrays[key].ndim == 0:
                raise DataError(f"{where}.{key}: expected a list of numbers, got {doc[key]!r}")
        return cls(arrays["mean"], arrays["std"])


@dataclass(eq=False)
class Dataset:
    """Samples `x` (N, *feature_shape) float and targets `y`: (N,) int64 class ids for
    classification, (N, k) float for regression.

    `x_val`/`y_val` are the source's own validation (test) data, e.g. MNIST's t10k files; when
    present `split` returns them instead of cutting a part off `x`.
    """

    x: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int | None = None
    name: str = ""
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    scaler: Standardizer | None = None

    def __post_init__(self) -> None:
        where = f"data set '{self.name}'" if self.name else "data set"
        if self.task not in TASKS:
            raise DataError(f"{where}: task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if self.x.ndim < 2 or len(self.x) != len(self.y):
            raise DataError(
                f"{where}: x {self.x.shape} and y {self.y.shape} must have the same "
                "number of rows, and x at least 2 dimensions"
            )
        if (self.x_val is None) != (self.y_val is None):
            raise DataError(f"{where}: x_val and y_val must be given together")
        if self.x_val is not None and (
            self.x_val.shape[1:] != self.x.shape[1:] or len(self.x_val) != len(self.y_val)
        ):
            raise DataError(
                f"{where}: validation x {self.x_val.shape} / y {self.y_val.shape} do not "
                f"match the training x {self.x.shape}"
            )

    def __len__(self) -> int:
        return len(self.x)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one sample (what the network's Input shape must be)."""
        return tuple(self.x.shape[1:])

    def split(self, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """(train, validation). Rows are shuffled with `seed` (deterministic); not stratified.

        If the source has its own validation data (`x_val`), that is returned as the validation
        part and `val_fraction` is ignored. `val_fraction` 0 gives an empty validation part.
        """
        plain = dataclasses.replace(self, x_val=None, y_val=None)
        if self.x_val is not None:
            return plain, dataclasses.replace(plain, x=self.x_val, y=self.y_val)
        train, val = split_indices(len(self), val_fraction, seed)
        return (
            dataclasses.replace(plain, x=self.x[train], y=self.y[train]),
            dataclasses.replace(plain, x=self.x[val], y=self.y[val]),
        )

    def astype(self, dtype: Any) -> Dataset:
        """The same data with float features (and regression targets) in `dtype` (float32 or
        float64); arrays already in that dtype are not copied."""
        dtype = check_dtype(dtype)

        def cast(array: np.ndarray | None, is_target: bool) -> np.ndarray | None:
            if array is None or (is_target and self.task == "classification"):
                return array
            return array.astype(dtype, copy=False)

        return dataclasses.replace(
            self,
            x=cast(self.x, False),
            y=cast(self.y, True),
            x_val=cast(self.x_val, False),
            y_val=cast(self.y_val, True),
        )
