"""Run a layer's work on disjoint parts at once, one part per core, BLAS held to one thread.

A convolution's step is im2col, matrix products, bias and activation, col2im and pooling. Left
to BLAS, only the products use every core: the kernels between them run on one while the other
cores idle, and after each product OpenBLAS's idle threads spin on those cores for a while,
so a second thread of ours started then shares its core with a spinner. So layers that split
their own work (`Layer.splits_work`) do it all: the model holds BLAS to one thread while they
run (`split_work`, from `engine.model.Model`; the other layers' products then go through
`matmul`, in parts too), and each layer calls `in_parts` with ranges of samples or filters,
each part doing its own im2col, its own single-threaded product on its columns, and its own
kernels (compiled `nogil=True`). The caller runs the first part itself, worker threads the others.
Threads of our own rather than Numba's `parallel=True`: Numba's OpenMP workers spin between
parallel regions too, and its workqueue layer aborts when two threads (a training run and a
prediction) launch kernels at once.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from engine._kernels import blas

MIN_VALUES_PER_PART = 1 << 15
"""Fewer values than this per part and handing a part to a thread costs more than it saves."""

_splitting = threading.local()  # .active: this thread runs a model whose layers split their work
_inboxes: list[queue.SimpleQueue] = []  # one per worker thread: (run, lo, hi, done) to do
_workers_lock = threading.Lock()


def _cores() -> int:
    """As many parts as BLAS would run threads (the user's OPENBLAS_NUM_THREADS is respected);
    one where NumPy's BLAS is not an OpenBLAS we can hold to one thread, so nothing runs twice
    as many threads as there are cores."""
    return blas.usable_threads() or 1


def part_count(values: int) -> int:
    """How many parts to cut work over `values` array elements into: one per core, fewer for
    small work."""
    return max(1, min(_cores(), values // MIN_VALUES_PER_PART))


def _serve(inbox: queue.SimpleQueue) -> None:
    """A worker thread: run each part it is handed, then report to the caller's `done` queue
    (None, or the part's exception)."""
    while True:
        run, lo, hi, done = inbox.get()
        try:
            run(lo, hi)
        except BaseException as error:  # handed to the caller, which raises it
            done.put(error)
        else:
            done.put(None)


def _worker_inboxes(count: int) -> list[queue.SimpleQueue]:
    """The inboxes of `count` worker threads, started on first need (daemons: they hold nothing
    that must be finished at exit). A queue hand-off costs ~10 us against ~40 us through a
    concurrent.futures pool, which adds up over the dozen parts of a training step."""
    with _workers_lock:
        while len(_inboxes) < count:
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            name = f"netcanvas-kernel-{len(_inboxes)}"
            threading.Thread(target=_serve, args=(inbox,), name=name, daemon=True).start()
            _inboxes.append(inbox)
        return _inboxes[:count]


def in_parts(count: int, values: int, run: Callable[[int, int], None]) -> None:
    """Call `run(lo, hi)` on ranges that cover [0, count) once, at the same time when the work
    (`values` array elements in all) is large enough to be worth it; returns once all are done
    and raises the first part's error. The parts must write disjoint memory and must not call
    `in_parts` themselves (the workers would wait on each other)."""
    parts = min(count, part_count(values))
    if parts <= 1:
        run(0, count)
        return
    bounds = [count * p // parts for p in range(parts + 1)]
    done: queue.SimpleQueue = queue.SimpleQueue()
    for p, inbox in enumerate(_worker_inboxes(parts - 1), start=1):
        inbox.put((run, bounds[p], bounds[p + 1], done))
    try:
        run(bounds[0], bounds[1])
    finally:
        errors = [done.get() for _ in range(parts - 1)]  # every part ends before the caller goes on
    for error in errors:
        if error is not None:
            raise error


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
