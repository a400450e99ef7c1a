"""A layer's numbers for the health views in one pass over its outputs (engine/training/monitor.py).

The NumPy twin makes ~10 calls per layer (min, max, histogram, the dead and saturated masks,
mean), each walking the outputs and most allocating, and those that release the GIL may each
wait for a busy GUI thread to give it back. Here it is one short call, which keeps the GIL (as
the other short kernels do: releasing it would risk that wait again). The histogram follows
np.histogram's rule for equal bins in float64: values in [lo, hi], the last bin closed, an
index computed then corrected against the bin edges.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def activation_stats(flat, lo, hi, find_range, sat_low, sat_high, counts, edges):
    """Of outputs `flat` (N, U): fills `counts` (bins,) with the histogram over [lo, hi] and
    `edges` (bins + 1,) with its bin edges, where `find_range` replaces lo, hi by the finite
    values' min and max (max = min + 1 if they are equal; 0, 1 if no value is finite). Returns
    the mean (NaN if any value is), the fraction of units (columns) <= 0 for every sample, and
    the fraction of values < sat_low or > sat_high."""
    rows, units = flat.shape
    total = 0.0
    saturated = 0
    if find_range:
        lo, hi = np.inf, -np.inf
    for r in range(rows):
        for u in range(units):
            v = float(flat[r, u])
            total += v
            if v < sat_low or v > sat_high:
                saturated += 1
            if find_range and np.isfinite(v):
                lo = min(lo, v)
                hi = max(hi, v)
    if find_range:
        if lo > hi:
            lo, hi = 0.0, 1.0
        elif hi == lo:
            hi = lo + 1.0
    dead = 0
    for u in range(units):
        silent = True
        for r in range(rows):
            if not flat[r, u] <= 0.0:
                silent = False
                break
        if silent:
            dead += 1
    bins = counts.shape[0]
    step = (hi - lo) / bins
    for i in range(bins):
        edges[i] = i * step + lo
        counts[i] = 0
    edges[bins] = hi
    norm = bins / (hi - lo)
    for r in range(rows):
        for u in range(units):
            v = float(flat[r, u])
            if not (lo <= v <= hi):
                continue
            i = min(int((v - lo) * norm), bins - 1)
            if v < edges[i]:
                i -= 1
            elif i != bins - 1 and v >= edges[i + 1]:
                i += 1
            counts[i] += 1
    size = max(rows * units, 1)
    return total / size, dead / max(units, 1), saturated / size


def activation_stats_ref(flat, lo, hi, find_range, sat_low, sat_high, counts, edges):
    """NumPy twin of `activation_stats`."""
    values = flat.astype(np.float64)
    if find_range:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
    counts[...], edges[...] = np.histogram(values, bins=len(counts), range=(lo, hi))
    with np.errstate(invalid="ignore"):  # inf and -inf make a NaN mean, as in the kernel
        mean = float(values.mean()) if values.size else 0.0
    dead = float(np.mean(np.all(values <= 0.0, axis=0))) if values.shape[1] else 0.0
    saturated = float(np.mean((values < sat_low) | (values > sat_high))) if values.size else 0.0
    return mean, dead, saturated
