"""Central-difference gradient checks in float64, shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEP = 1e-6


def numeric_gradient(f: Callable[[], float], array: np.ndarray, step: float = STEP) -> np.ndarray:
    """d f / d array by central differences, perturbing `array` in place (restored after)."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat = array.reshape(-1)
    out = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + step
        up = f()
        flat[i] = original - step
        down = f()
        flat[i] = original
        out[i] = (up - down) / (2 * step)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |a - n| / max(|a| + |n|, tiny): 0 when equal, ~1 when unrelated."""
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
    return float(np.max(np.abs(analytic - numeric) / scale))
