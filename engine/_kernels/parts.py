"""Run a layer's work on disjoint parts at once, one part per core, BLAS held to one thread.

A convolution's step is im2col, matrix products, bias and activation, col2im and pooling. Left
to BLAS, only the products use every core: the kernels between them run on one while the other
cores idle, and after each product OpenBLAS's idle threads spin on those cores for a while,
so a second thread of ours started then shares its core with a spinner. So layers that split
their own work (`Layer.splits_work`) do it all: the model holds BLAS to one thread while they
run (`split_work`, from `engine.model.Model`; the other layers' products then go through
`matmul`, in parts too), and each layer calls `in_parts` or `in_chunks` with ranges of samples
or rows, each range doing its own im2col, its own single-threaded product on its columns, and its
own kernels (compiled `nogil=True`). The caller and one worker thread per further core take the
ranges in turn, as each comes free. Threads of our own rather than Numba's `parallel=True`: Numba's OpenMP workers spin between
parallel regions too, and its workqueue layer aborts when two threads (a training run and a
prediction) launch kernels at once.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from engine._kernels import blas

MIN_VALUES_PER_PART = 1 << 15
"""Fewer values than this per part and handing a part to a thread costs more than it saves."""
PIECES_PER_PART = 4
"""`in_parts` cuts its work into this many ranges per core, so that the cores can even out."""

_splitting = threading.local()  # .active: this thread runs a model whose layers split their work
_scratch = threading.local()  # .arrays: (name, dtype) -> a flat array this thread reuses
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
    """A worker thread: run each job it is handed, then report to the caller's `done` queue
    (None, or the job's exception)."""
    while True:
        job, done = inbox.get()
        try:
            job()
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


def _share(ranges: list[tuple[int, int]], threads: int, run: Callable[[int, int], None]) -> None:
    """`run(lo, hi)` on each range once, on the caller and `threads - 1` workers, each taking the
    next range as it comes free: a worker that wakes late (tens of microseconds on a busy
    machine) or runs slower does fewer ranges instead of holding the caller up. Returns once
    all are done and raises the first error."""
    pending = iter(ranges)  # next() on it is atomic: the GIL is held

    def take() -> None:
        for lo, hi in pending:
            run(lo, hi)

    done: queue.SimpleQueue = queue.SimpleQueue()
    for inbox in _worker_inboxes(threads - 1):
        inbox.put((take, done))
    try:
        take()
    finally:
        errors = [done.get() for _ in range(threads - 1)]  # every job ends before the caller goes on
    for error in errors:
        if error is not None:
            raise error


def in_parts(count: int, values: int, run: Callable[[int, int], None]) -> None:
    """Call `run(lo, hi)` on ranges that cover [0, count) once, on every core at once when the
    work (`values` array elements in all) is large enough to be worth it: PIECES_PER_PART
    ranges a core, handed out as the cores come free. The ranges depend only on `count` and
    the cores, never on timing, so a caller that sums results across ranges keys them by `lo`
    and adds them in that order: the same sums every run. Returns once all are done and raises
    the first error. The ranges must write disjoint memory and `run` must not call `in_parts`
    or `in_chunks` (the workers would wait on each other)."""
    parts = min(count, part_count(values))
    if parts <= 1:
        run(0, count)
        return
    pieces = min(count, parts * PIECES_PER_PART)
    bounds = [count * p // pieces for p in range(pieces + 1)]
    _share(list(zip(bounds[:-1], bounds[1:], strict=True)), parts, run)


def in_chunks(count: int, chunk: int, values: int, run: Callable[[int, int], None]) -> None:
    """As `in_parts`, over the chunks [0, chunk), [chunk, 2*chunk), ... of [0, count)."""
    ranges = [(lo, min(lo + chunk, count)) for lo in range(0, count, chunk)]
    threads = min(len(ranges), part_count(values))
    if threads <= 1:
        for lo, hi in ranges:
            run(lo, hi)
        return
    _share(ranges, threads, run)


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
    """out (m, n) = a (m, k) @ b (k, n): one `np.matmul`, or inside `split_work` one product per
    core at once (each then BLAS's on one thread), over the rows of a when it is the larger
    operand, else over the columns of b, so that no core packs the larger one whole: a Dense
    layer's (64, 1600) @ (1600, 128) took 291 us in two column halves and 313 in two row halves
    on the bench machine (278 whole), and 493 in eight row pieces."""
    values = a.size + b.size + out.size
    parts = part_count(values)
    if not getattr(_splitting, "active", False) or parts <= 1:
        np.matmul(a, b, out=out)
    elif a.size >= b.size:
        rows = out.shape[0]
        in_chunks(rows, -(-rows // parts), values, lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]))
    else:
        cols = out.shape[1]
        in_chunks(
            cols, -(-cols // parts), values, lambda lo, hi: np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
        )


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A C-contiguous array of `shape`, this thread's own, valid until this thread asks for `name`
    again: one flat buffer per name and dtype, grown when too small and then kept. For the
    chunk-sized arrays a part works in, which every layer's parts need in turn (a worker thread
    runs one part at a time, so no two parts share one)."""
    arrays = getattr(_scratch, "arrays", None)
    if arrays is None:
        arrays = _scratch.arrays = {}
    size = math.prod(shape)  # np.prod costs ~4 us, and a step asks a few hundred times
    flat = arrays.get((name, dtype))
    if flat is None or flat.size < size:
        flat = arrays[(name, dtype)] = np.empty(size, dtype)
    return flat[:size].reshape(shape)
