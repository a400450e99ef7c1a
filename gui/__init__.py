"""NetCanvas desktop app (PySide6). Imports the engine; the engine never imports this package."""

import os

# OpenBLAS worker threads spin for 2**28 cycles (~0.1 s) after each call before they sleep. In
# the app a matmul now and then (a health snapshot of a small network) would keep a spinning
# thread on the second core, which the GUI thread needs while a training thread holds the
# first. 2**24 cycles (~7 ms) still bridges the gaps between the matmuls of consecutive training
# steps (bench/gui_training.py, MNIST: 2**20 lost ~10% there). OpenBLAS reads this once, when
# NumPy loads, so it must be set before anything imports NumPy; a user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "24")
