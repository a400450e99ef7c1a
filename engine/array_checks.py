"""Checks on the arrays handed to the public API, made before any kernel runs.

`Network.fit`, `evaluate`, `predict` and `validation_data` pass what the caller gave through
`checked_inputs` and `checked_targets`; `Trainer.fit` and the fused paths then only see arrays
whose lengths, shapes, dtypes and values the kernels' loops can rely on (`check_prepared`). The
kernels do not check bounds themselves: a row count that differs between x and y made them read
and write past the end of an array. Every message names the call and the argument, e.g.
"fit: x has 1 row but y has 5,000,000".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import DataError
from engine.losses import Loss
from engine.model import Model

_REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def rows(count: int) -> str:
    """A row count as people write it: 1 row, 5,000,000 rows."""
    return f"{count:,} row" + ("" if count == 1 else "s")


def as_data_array(value: Any, where: str, name: str) -> np.ndarray:
    """`value` as an array of real numbers with at least one sample; DataError naming `name`."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested lists
        raise DataError(f"{where}: {name} is not a rectangular array of numbers ({_short(exc)})") from None
    if array.dtype.kind == "c":
        raise DataError(f"{where}: {name} holds complex numbers; only real numbers can be used")
    if array.dtype.kind not in _REAL_KINDS:
        raise DataError(f"{where}: {name} must hold numbers, got values of type {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{where}: {name} must have one row per sample, got a single value")
    if len(array) == 0:
        purpose = {"fit": "training ", "validation_data": "validation "}.get(where, "")
        raise DataError(f"{where}: {name} is empty: there are no {purpose}samples")
    return array


def check_finite(array: np.ndarray, where: str, name: str) -> None:
    """DataError naming the first sample of `array` that holds NaN or an infinity."""
    if array.dtype.kind != "f":
        return
    # One sum (no temporary array) is enough when it is finite; only then can nothing be NaN/inf.
    if np.isfinite(np.add.reduce(array, axis=None)):
        return
    bad = ~np.isfinite(array.reshape(len(array), -1))
    if bad.any():
        sample = int(np.argmax(bad.any(axis=1)))
        value = array.reshape(len(array), -1)[sample][bad[sample]][0]
        raise DataError(
            f"{where}: {name} holds {value} at sample {sample}; every value must be a finite number"
        )


def checked_inputs(x: Any, where: str, name: str = "x") -> Any:
    """The inputs `x` (one array, a list, or a dict keyed by Input id) as checked arrays, in the
    same form; every array real, finite, non-empty and as long as the others."""
    if isinstance(x, dict):
        labels = {key: f"{name}[{key!r}]" for key in x}
        checked: Any = {key: as_data_array(value, where, labels[key]) for key, value in x.items()}
        named = {labels[key]: array for key, array in checked.items()}
    elif isinstance(x, (list, tuple)):
        if not x:
            raise DataError(f"{where}: {name} is an empty list: give one array per Input")
        labels = [name] if len(x) == 1 else [f"{name}[{i}]" for i in range(len(x))]
        checked = [as_data_array(value, where, label) for value, label in zip(x, labels, strict=True)]
        named = dict(zip(labels, checked, strict=True))
    else:
        checked = as_data_array(x, where, name)
        named = {name: checked}
    if not named:
        raise DataError(f"{where}: {name} is empty: give one array per Input")
    for label, array in named.items():
        check_finite(array, where, label)
    check_same_length(named, where)
    return checked


def check_same_length(arrays: dict[str, np.ndarray], where: str) -> None:
    """DataError unless every named array has as many rows as the first."""
    items = list(arrays.items())
    first_name, first = items[0]
    for other_name, other in items[1:]:
        if len(other) != len(first):
            raise DataError(
                f"{where}: {first_name} has {rows(len(first))} but {other_name} has {len(other):,}"
            )


def checked_targets(
    y: Any, loss: Loss, output_shape: tuple[int, ...], count: int, where: str, name: str = "y"
) -> np.ndarray:
    """`y` checked against the `count` input samples, the loss's target rule and the output
    (class ids whole and in range, values finite), before any cast could truncate 2.7 to 2 or drop
    an imaginary part; the row counts are compared first, before any copy of `y` is made."""
    array = as_data_array(y, where, name)
    if len(array) != count:
        raise DataError(f"{where}: x has {rows(count)} but {name} has {len(array):,}")
    loss.validate_targets(array, output_shape, target_label(where, name))
    return array


def target_label(where: str, name: str = "y") -> str:
    """How a loss's target messages name `name`: fit's y keeps the words the data-fit check
    (engine.data_fit) shows before training, so both say the same."""
    return "training targets" if (where, name) == ("fit", "y") else f"{where}: {name}"


def check_prepared(
    model: Model,
    x: list[np.ndarray],
    y: np.ndarray | None,
    where: str,
    y_name: str = "y",
) -> None:
    """What the trainer and the kernels rely on for prepared arrays (`Model.prepare_inputs`): one
    C-contiguous array of the model's dtype per Input, shaped (N, *input shape), N >= 1, and as
    many targets as samples."""
    if len(x) != len(model.input_ids):
        raise DataError(f"{where}: the network has {len(model.input_ids)} inputs, got {len(x)} arrays")
    for i, array in enumerate(x):
        label = "x" if len(x) == 1 else f"x[{i}]"
        shape = model.input_shape(i)
        if not isinstance(array, np.ndarray) or array.ndim != len(shape) + 1 or array.shape[1:] != shape:
            got = getattr(array, "shape", type(array).__name__)
            raise DataError(f"{where}: {label} must be shaped (N, {', '.join(map(str, shape))}), got {got}")
        if array.dtype != model.dtype or not array.flags.c_contiguous:
            raise DataError(f"{where}: {label} must be C-contiguous {model.dtype}, got {array.dtype}")
        if len(array) == 0:
            raise DataError(f"{where}: {label} is empty (0 samples)")
        if len(array) != len(x[0]):
            raise DataError(f"{where}: x[0] has {rows(len(x[0]))} but {label} has {len(array):,}")
    if y is not None and len(y) != len(x[0]):
        label = "x" if len(x) == 1 else "x[0]"
        raise DataError(f"{where}: {label} has {rows(len(x[0]))} but {y_name} has {len(y):,}")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."
