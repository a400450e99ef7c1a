"""Numba kernels: private, small, serial; each has a plain NumPy twin `<name>_ref` for tests.

FASTMATH keeps NaN/inf semantics (no `nnan`/`ninf`) so a diverging loss is still detected.
"""

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
