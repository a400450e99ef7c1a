"""Convolution and pooling run on parts of their work at once (one per core): the parts cover
the work once, errors come back, a network trains as on one core, and BLAS runs one thread
while they do."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import engine._kernels.parts as parts
from engine.graph import NetworkSpec
from engine.network import Network


def test_the_parts_cover_the_range_once_on_several_threads(monkeypatch):
    monkeypatch.setattr(parts, "_cores", lambda: 3)
    seen: list[tuple[int, int]] = []
    threads: set[int] = set()
    lock = threading.Lock()

    def run(lo: int, hi: int) -> None:
        with lock:
            seen.append((lo, hi))
            threads.add(threading.get_ident())
        time.sleep(0.002)  # long enough for the workers to wake and take pieces too

    parts.in_parts(24, 24 * parts.MIN_VALUES_PER_PART, run)
    pieces = 3 * parts.PIECES_PER_PART  # fixed by the count and the cores, whatever the timing
    assert sorted(seen) == [(24 * p // pieces, 24 * (p + 1) // pieces) for p in range(pieces)]
    assert threading.get_ident() in threads and len(threads) >= 2  # the caller and the pool


def test_small_work_runs_whole_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(parts, "_cores", lambda: 4)
    seen = []
    parts.in_parts(
        64, parts.MIN_VALUES_PER_PART - 1, lambda lo, hi: seen.append((lo, hi, threading.get_ident()))
    )
    assert seen == [(0, 64, threading.get_ident())]


def test_an_error_in_any_part_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(parts, "_cores", lambda: 2)

    def run(lo: int, hi: int) -> None:
        if lo == 4:
            raise ValueError(f"part {lo}-{hi} failed")

    with pytest.raises(ValueError, match="part 4-5 failed"):
        parts.in_parts(8, 8 * parts.MIN_VALUES_PER_PART, run)


def test_the_chunks_are_each_taken_once_by_whichever_thread_is_free(monkeypatch):
    monkeypatch.setattr(parts, "_cores", lambda: 2)
    seen: list[tuple[int, int]] = []
    threads: set[int] = set()
    lock = threading.Lock()
    worker_started = threading.Event()

    def run(lo: int, hi: int) -> None:
        with lock:
            seen.append((lo, hi))
            threads.add(threading.get_ident())
        if threading.get_ident() != caller:
            worker_started.set()
        elif lo == 0:  # the caller waits until the worker has taken a chunk too
            assert worker_started.wait(5)

    caller = threading.get_ident()
    parts.in_chunks(10, 3, 10 * parts.MIN_VALUES_PER_PART, run)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert caller in threads and len(threads) == 2  # the caller and the worker


def test_a_late_worker_leaves_its_chunks_to_the_caller(monkeypatch):
    monkeypatch.setattr(parts, "_cores", lambda: 2)
    release = threading.Event()
    [inbox] = parts._worker_inboxes(1)
    inbox.put((lambda: release.wait(5), parts.queue.SimpleQueue()))  # a busy worker
    caller, seen = threading.get_ident(), []

    def run(lo: int, hi: int) -> None:
        seen.append((lo, hi, threading.get_ident()))
        if hi == 8:  # the last chunk done: the worker may come, to find nothing left
            release.set()

    try:
        parts.in_chunks(8, 2, 8 * parts.MIN_VALUES_PER_PART, run)
    finally:
        release.set()
    assert sorted(seen) == [(0, 2, caller), (2, 4, caller), (4, 6, caller), (6, 8, caller)]


def _image_net(dtype: str) -> Network:
    spec = NetworkSpec(
        training={"loss": "sparse_categorical_crossentropy", "optimizer": "sgd", "dtype": dtype, "seed": 3}
    )
    spec.add_node("Input", {"shape": [2, 12, 12]}, node_id="image")
    spec.add_node(
        "Conv2D", {"filters": 6, "kernel_size": [3], "padding": "same", "activation": "relu"}, node_id="conv"
    )
    spec.add_node("MaxPooling2D", {"pool_size": [2]}, node_id="max")
    spec.add_node("Conv2D", {"filters": 4, "kernel_size": [3], "activation": "tanh"}, node_id="conv_2")
    spec.add_node("AveragePooling2D", {"pool_size": [2], "padding": "same"}, node_id="avg")
    spec.add_node("Flatten", {}, node_id="flat")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    for a, b in (
        ("image", "conv"),
        ("conv", "max"),
        ("max", "conv_2"),
        ("conv_2", "avg"),
        ("avg", "flat"),
        ("flat", "out"),
    ):
        spec.connect(a, b)
    return Network(spec)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_convolutional_network_trains_as_on_one_core(monkeypatch, dtype):
    """The same training on 1, 2 and 3 parts: the kernels' parts are bit for bit one run's
    (test_conv_kernels.py); each part's matrix product is BLAS's on fewer columns, which may
    round the last bit differently, as a different BLAS thread count does."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2, 12, 12))
    y = rng.integers(0, 3, 400)
    results = []
    for cores in (1, 2, 3):
        monkeypatch.setattr(parts, "_cores", lambda c=cores: c)
        monkeypatch.setattr(parts, "MIN_VALUES_PER_PART", 256)  # split even this small work
        net = _image_net(dtype)
        history = net.fit(x, y, epochs=2, batch_size=100, shuffle=False)
        results.append((history["loss"], [w.copy() for w in net.get_weights()], net.predict(x[:50])))
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for loss, weights, predicted in results[1:]:
        np.testing.assert_allclose(loss, results[0][0], rtol=tolerance)
        for a, b in zip(weights, results[0][1], strict=True):
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(predicted, results[0][2], rtol=tolerance, atol=tolerance)


def test_blas_runs_one_thread_while_a_splitting_layer_runs_and_as_before_after(monkeypatch):
    from engine._kernels import blas

    if blas.usable_threads() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS found next to NumPy: nothing is split")
    seen = []
    net = _image_net("float32")
    layer = net.model.layers["conv"]
    forward = layer.forward
    monkeypatch.setattr(layer, "forward", lambda *a: (seen.append(blas.threads()), forward(*a))[1])
    before = blas.threads()
    net.predict(np.zeros((4, 2, 12, 12)))
    assert seen == [1] and blas.threads() == before


def test_inside_split_work_products_run_in_parts_and_outside_whole(monkeypatch):
    """Inside split_work a product is cut once per core, over the larger operand: a's rows when
    a is larger, else b's columns (so that no core packs the larger operand whole)."""
    monkeypatch.setattr(parts, "_cores", lambda: 2)
    rng = np.random.default_rng(5)
    calls = []
    real = parts.in_chunks

    def counting(count, chunk, values, run):
        calls.append((count, chunk))
        real(count, chunk, values, run)

    monkeypatch.setattr(parts, "in_chunks", counting)
    for a_shape, b_shape, expected in (
        ((300, 200), (200, 150), (300, 150)),  # a larger: its rows
        ((64, 160), (160, 900), (900, 450)),  # b larger: its columns
    ):
        a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
        out = np.empty((a_shape[0], b_shape[1]))
        calls.clear()
        parts.matmul(a, b, out)
        assert calls == [] and np.array_equal(out, a @ b)  # outside: one np.matmul
        out[...] = np.nan
        with parts.split_work():
            parts.matmul(a, b, out)
        assert calls == [expected]
        np.testing.assert_allclose(out, a @ b, rtol=1e-12)
