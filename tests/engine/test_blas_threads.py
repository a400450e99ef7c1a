"""NumPy's BLAS runs one thread while the fused small-net path trains, and as before after."""

from __future__ import annotations

import threading

import pytest

from engine._kernels import blas
from engine.training.callbacks import Callback
from tests.engine.test_dense_chain import classifier, data, small_classifier

pytestmark = pytest.mark.skipif(
    blas.threads() is None or blas.threads() < 2,
    reason="NumPy's BLAS is not an OpenBLAS found next to NumPy, or already runs one thread "
    "(OPENBLAS_NUM_THREADS=1): there is no thread count to hold and give back",
)


def test_single_threaded_holds_one_thread_and_gives_the_count_back():
    before = blas.threads()
    with blas.single_threaded():
        assert blas.threads() == 1
        with blas.single_threaded():
            assert blas.threads() == 1
        assert blas.threads() == 1  # the outer use still holds it
    assert blas.threads() == before


def test_overlapping_uses_from_two_threads_restore_the_count_once_both_are_out():
    before = blas.threads()
    inside, leave = threading.Event(), threading.Event()
    seen = []

    def other() -> None:
        with blas.single_threaded():
            inside.set()
            leave.wait(5)
            seen.append(blas.threads())

    worker = threading.Thread(target=other)
    with blas.single_threaded():
        worker.start()
        assert inside.wait(5)
    # This thread is out first: the other one still trains on one thread.
    assert blas.threads() == 1
    leave.set()
    worker.join(5)
    assert seen == [1]
    assert blas.threads() == before


class RecordsThreads(Callback):
    def __init__(self, fail: bool = False):
        self.during: set[int] = set()
        self.fail = fail

    def on_train_begin(self, trainer):
        self.path = trainer.path
        self.during.add(blas.threads())

    def on_batches_end(self, event):
        self.during.add(blas.threads())
        if self.fail:
            raise RuntimeError("a callback failed")


def test_the_fused_small_net_path_trains_with_one_blas_thread_and_the_others_keep_theirs():
    before = blas.threads()
    x, y = data()
    paths = {}
    for name, net in {
        "small": small_classifier(),
        "chain": classifier(),
        "clipped": classifier(clip_norm=1.0),
    }.items():
        seen = RecordsThreads()
        net.fit(x, y, epochs=2, callbacks=[seen])
        paths[name] = (seen.path, seen.during)
        assert blas.threads() == before
    assert paths == {
        "small": ("fused small net", {1}),
        "chain": ("fused BLAS chain", {before}),
        "clipped": ("general", {before}),
    }


def test_the_thread_count_comes_back_when_training_fails():
    before = blas.threads()
    x, y = data()
    failing = RecordsThreads(fail=True)
    with pytest.raises(RuntimeError, match="a callback failed"):
        small_classifier().fit(x, y, epochs=1, callbacks=[failing])
    assert failing.path == "fused small net"
    assert failing.during == {1}
    assert blas.threads() == before
