"""Run a kernel on disjoint parts of its work at once, one part per core.

BLAS spreads each matrix product over every core, but the kernels between the products
(im2col, col2im, bias and activation, pooling) are serial: in a convolutional network they
are a third of a training step, run on one core while the others idle. `in_parts` calls such
a kernel on disjoint ranges (of samples or of filters) from a small pool of threads; the
kernels are compiled with `nogil=True`, so the parts really run side by side, and the caller
runs the first part itself. Threads of our own rather than Numba's `parallel=True`: Numba's
OpenMP workers spin between parallel regions and take the cores BLAS needs, and its workqueue
layer aborts when two threads (a training run and a prediction) launch kernels at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from engine._kernels import blas

MIN_VALUES_PER_PART = 1 << 15
"""Fewer values than this per part and handing a part to a thread costs more than it saves."""

_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def _cores() -> int:
    """The threads BLAS runs (1 while a fused path holds it to one), else the usable cores."""
    threads = blas.threads()
    if threads:
        return threads
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def part_count(values: int) -> int:
    """How many parts to cut work over `values` array elements into: one per core, fewer for
    small work."""
    return max(1, min(_cores(), values // MIN_VALUES_PER_PART))


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, with at least `workers` threads (it grows, never shrinks)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            old = _pool
            _pool, _pool_workers = ThreadPoolExecutor(workers, thread_name_prefix="netcanvas-kernel"), workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def in_parts(count: int, values: int, run: Callable[[int, int], None]) -> None:
    """Call `run(lo, hi)` on ranges that cover [0, count) once, at the same time when the work
    (`values` array elements in all) is large enough to be worth it; returns once all are done
    and raises the first part's error. The parts must write disjoint memory."""
    parts = min(count, part_count(values))
    if parts <= 1:
        run(0, count)
        return
    bounds = [count * p // parts for p in range(parts + 1)]
    pool = _executor(parts - 1)
    futures: list[Future] = [pool.submit(run, bounds[p], bounds[p + 1]) for p in range(1, parts)]
    try:
        run(bounds[0], bounds[1])
    finally:
        for future in futures:
            future.result()
