"""Arrays a layer reuses from batch to batch instead of allocating them for every batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Workspaces:
    """Per batch size, arrays by name, made on first use. A few batch sizes are kept at once (the
    training batch, the last short batch, a monitor's probe and grid batches); the least
    recently used one is dropped first."""

    def __init__(self, batch_sizes: int):
        self.batch_sizes = batch_sizes
        self.arrays: dict[int, dict[str, np.ndarray]] = {}  # batch size -> name -> array

    def get(self, rows: int, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Array `name` for a batch of `rows`; `make()` builds it the first time."""
        arrays = self.arrays.pop(rows, None)  # re-inserted below: least recently used first
        if arrays is None:
            if len(self.arrays) >= self.batch_sizes:
                del self.arrays[next(iter(self.arrays))]
            arrays = {}
        self.arrays[rows] = arrays
        array = arrays.get(name)
        if array is None:
            array = arrays[name] = make()
        return array
