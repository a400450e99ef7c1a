"""One benchmark process. Run by bench/run.py, never by hand:

python -m bench.worker train CASE IMPL [--quick]   warm up, calibrate, then time one block per
                                                   "run" line read from stdin (JSON per block)
python -m bench.worker blas-peak                   best SGEMM / DGEMM GFLOP/s of big squares
python -m bench.worker first-step CASE             import, build, first step, warmup timings
python -m bench.worker memory CASE                 tracemalloc peak of one epoch's training
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from bench.cases import CASES, Case, memory_budget


def _emit(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def train(case: Case, impl: str, quick: bool) -> None:
    from bench.implementations import build

    x, y = case.data(quick)
    runner = build(impl, case, x, y)
    runner.epoch()  # warm-up: JIT (or cache load), BLAS buffers, first-touch memory
    target = 0.15 if quick else 0.6  # seconds per timed block
    started = time.perf_counter()
    runner.epoch()
    one = max(time.perf_counter() - started, 1e-6)
    epochs = max(1, round(target / one))
    info = {"ready": True, "epochs": epochs}
    if hasattr(runner, "path"):
        info["path"] = runner.path
    _emit(info)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        runner.epoch(epochs)
        seconds = time.perf_counter() - started
        steps = epochs * runner.steps_per_epoch
        _emit({"seconds": seconds, "steps": steps, "samples": epochs * len(x)})


def blas_peak() -> None:
    out = {}
    for dtype, n in ((np.float32, 2048), (np.float64, 2048)):
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        b = a.copy()
        c = np.empty_like(a)
        np.matmul(a, b, out=c)
        best = min(_timed(lambda a=a, b=b, c=c: np.matmul(a, b, out=c)) for _ in range(5))
        out[np.dtype(dtype).name] = 2.0 * n**3 / best / 1e9
    _emit(out)


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def first_step(case: Case) -> None:
    """Seconds to import the engine; then, for a fresh network, its first training step (one
    batch: JIT compile or cache load included, as when Train is pressed without warm-up); then,
    for a second network of another case, Network.warmup() (what the GUI runs in the background
    when a network is opened) and the first step after it."""
    started = time.perf_counter()
    import engine.network  # noqa: F401
    from bench.implementations import NetCanvas

    imported = time.perf_counter() - started
    x, y = case.data(quick=True)
    first = NetCanvas(case, x[: case.batch], y[: case.batch])
    step = _timed(first.epoch)
    other = CASES["deep-narrow-f64" if case.loss == "softmax_ce" else "playground-b1-f64"]
    x, y = other.data(quick=True)
    second = NetCanvas(other, x[: other.batch], y[: other.batch])
    warm = second.network.warmup()
    after = _timed(second.epoch)
    _emit(
        {
            "import": imported,
            "first_step": step,
            "warmup": warm,
            "step_after_warmup": after,
            "warmup_case": other.name,
        }
    )


def memory(case: Case) -> None:
    """Peak bytes allocated while building the network and training one epoch, beyond the data
    (tracemalloc sees NumPy's allocations), and the budget: parameters + optimizer state (Adam:
    2 x parameters) + one batch's activations (every layer's input and output) + the
    convolutions' im2col buffers (bench/cases.py `memory_budget`)."""
    import tracemalloc

    from bench.implementations import NetCanvas

    x, y = case.data()
    small = NetCanvas(case, x[: case.batch * 2], y[: case.batch * 2])
    small.epoch()  # compile outside the measurement (Numba's own allocations are not training)
    tracemalloc.start()
    runner = NetCanvas(case, x, y)
    runner.epoch()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    itemsize = np.dtype(case.dtype).itemsize
    from engine._kernels.parts import part_count

    cores = part_count(1 << 62)  # the parts a large layer's work is cut into
    parts = {name: count * itemsize for name, count in memory_budget(case, cores).items()}
    _emit({"peak": peak, "budget": sum(parts.values()), **parts, "data": x.nbytes + y.nbytes})


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "train":
        train(CASES[argv[1]], argv[2], "--quick" in argv)
    elif mode == "blas-peak":
        blas_peak()
    elif mode == "first-step":
        first_step(CASES[argv[1]])
    elif mode == "memory":
        memory(CASES[argv[1]])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
