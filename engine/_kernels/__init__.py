"""Numba kernels: private, small, serial; each has a plain NumPy twin `<name>_ref` for tests.

A caller may run a `nogil` kernel on disjoint parts of its work at once (parts.py).

FASTMATH keeps NaN/inf semantics (no `nnan`/`ninf`) so a diverging loss is still detected.
Importing the package first drops cached kernels compiled from older sources (cache_guard).
"""

import numpy as np

from engine._kernels.cache_guard import guard_package_cache

guard_package_cache()

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes the kernels are compiled for; other float dtypes use the NumPy twins."""
