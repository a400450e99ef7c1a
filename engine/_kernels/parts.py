"""Run a layer's work on disjoint parts at once, one part per core, BLAS held to one thread.

A convolution's step is im2col, matrix products, bias and activation, col2im and pooling. Left
to BLAS, only the products use every core: the kernels between them run on one while the other
cores idle, and after each product OpenBLAS's idle threads spin on those cores for a while,
so a second thread of ours started then shares its core with a spinner. So layers that split
their own work (`Layer.splits_work`) do it all: the model holds BLAS to one thread while they
run (`split_work`, from `engine.model.Model`; the other layers' products then go through
`matmul`, in parts too), and each layer calls `in_parts` with ranges of samples or filters,
each part doing its own im2col, its own single-threaded product on its columns, and its own
kernels (compiled `nogil=True`). The caller runs the first part itself, a small pool the others.
Threads of our own rather than Numba's `parallel=True`: Numba's OpenMP workers spin between
parallel regions too, and its workqueue layer aborts when two threads (a training run and a
prediction) launch kernels at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from engine._kernels import blas

MIN_VALUES_PER_PART = 1 << 15
"""Fewer values than this per part and handing a part to a thread costs more than it saves."""

_splitting = threading.local()  # .active: this thread runs a model whose layers split their work
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def _cores() -> int:
    """As many parts as BLAS would run threads (the user's OPENBLAS_NUM_THREADS is respected);
    one where NumPy's BLAS is not an OpenBLAS we can hold to one thread, so nothing runs twice
    as many threads as there are cores."""
    return blas.usable_threads() or 1


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


@contextlib.contextmanager
def split_work() -> Iterator[None]:
    """While a model whose layers split their own work runs on this thread: BLAS held to one
    thread (their parts call it at once), and `matmul` splits the other layers' products."""
    outer = getattr(_splitting, "active", False)
    _splitting.active = True
    try:
        with blas.single_threaded():
            yield
    finally:
        _splitting.active = outer


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out (m, n) = a (m, k) @ b (k, n): one `np.matmul`, or inside `split_work` one per part of
    out's rows at once (each then BLAS's on one thread)."""
    if not getattr(_splitting, "active", False):
        np.matmul(a, b, out=out)
        return
    in_parts(out.shape[0], a.size + b.size + out.size, lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]))
