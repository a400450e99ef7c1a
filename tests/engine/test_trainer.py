"""Training loop: determinism, control requests, divergence, early stopping, callbacks."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest

import engine
from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.callbacks import Callback
from engine.training.control import TrainingControl


def small_network(**training) -> Network:
    spec = NetworkSpec(
        training={
            "loss": "binary_crossentropy",
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "batch_size": 16,
            "epochs": 3,
            "seed": 5,
            **training,
        }
    )
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": "tanh"}, node_id="h")
    spec.add_node("Dropout", {"rate": 0.2}, node_id="drop")
    spec.add_node("Dense", {"units": 1, "activation": "sigmoid"}, node_id="out")
    for s, t in [("in", "h"), ("h", "drop"), ("drop", "out")]:
        spec.connect(s, t)
    return Network(spec)


def xor_data(n=200, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


class Recorder(Callback):
    def __init__(self):
        self.batches, self.epochs = [], []

    def on_batch_end(self, event):
        self.batches.append(event)

    def on_epoch_end(self, event):
        self.epochs.append(event)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_weights_bit_for_bit(dtype):
    x, y = xor_data()
    runs = []
    for _ in range(2):
        net = small_network(dtype=dtype)
        net.fit(x, y, validation_split=0.25)
        runs.append(net.get_weights())
    for a, b in zip(*runs, strict=True):
        assert a.dtype == np.dtype(dtype)
        assert np.array_equal(a, b)
    other = small_network(dtype=dtype, seed=6)
    other.fit(x, y)
    assert not np.array_equal(other.get_weights()[0], runs[0][0])


def test_history_has_keras_keys_and_callbacks_see_every_batch():
    x, y = xor_data()
    recorder = Recorder()
    history = small_network().fit(x, y, validation_data=(x[:50], y[:50]), callbacks=[recorder])
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(history)
    assert len(history["loss"]) == 3
    assert len(recorder.batches) == 3 * 13
    assert [b.step for b in recorder.batches] == list(range(1, 40))
    assert recorder.epochs[-1].logs["val_accuracy"] == history["val_accuracy"][-1]


def test_a_deep_copy_of_the_history_is_equal_and_shares_no_list():
    net = small_network()
    net.fit(*xor_data())
    history = net.history
    copied = copy.deepcopy(history)
    assert copied == history
    assert copied.batch_losses is not history.batch_losses
    assert all(copied.epochs[key] is not history.epochs[key] for key in history.epochs)
    copied.append_batches([1.0, 2.0])
    copied.append_epoch({"loss": 0.5})
    assert history.steps == copied.steps - 2 and len(history.epochs["loss"]) == len(copied.epochs["loss"]) - 1


def test_pause_step_resume_stop_from_another_thread():
    x, y = xor_data(n=160)
    control = TrainingControl()
    control.pause()
    recorder = Recorder()
    net = small_network(epochs=50)
    worker = threading.Thread(
        target=net.fit, args=(x, y), kwargs={"callbacks": [recorder], "control": control}
    )
    worker.start()
    try:
        worker.join(0.2)
        assert recorder.batches == []  # paused before the first batch
        control.step(3)
        _wait_until(lambda: len(recorder.batches) == 3)
        worker.join(0.2)
        assert len(recorder.batches) == 3  # exactly three, then paused again
        control.step(1)
        _wait_until(lambda: len(recorder.batches) == 4)
        control.resume()
        _wait_until(lambda: len(recorder.batches) > 30)
    finally:
        control.stop()
        worker.join(5)
    assert not worker.is_alive()
    assert len(recorder.batches) < 50 * 10


def _wait_until(condition, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_divergence_restores_finite_weights_and_explains():
    # A linear regression net with MSE and a huge step: nothing saturates, the loss overflows.
    x, _ = xor_data()
    y = (x[:, :1] * 3.0).astype(np.float32)
    spec = NetworkSpec(
        training={
            "loss": "mse",
            "optimizer": {"type": "sgd", "learning_rate": 1e3},
            "batch_size": 16,
            "epochs": 20,
            "seed": 5,
        }
    )
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8}, node_id="h")
    spec.add_node("Dense", {"units": 1}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    net = Network(spec)
    net.fit(x, y, epochs=1, learning_rate=1e-3)
    with pytest.raises(engine.TrainingError, match="learning rate .* too high") as info:
        net.fit(x, y)
    assert "became" in str(info.value)
    assert all(np.isfinite(w).all() for w in net.get_weights())


def test_learning_rate_change_while_training_is_applied():
    x, y = xor_data()
    control = TrainingControl()
    recorder = Recorder()

    class ChangeAfterFirst(Callback):
        def on_batch_end(self, event):
            if event.step == 1:
                control.request_change(learning_rate=0.5)

    small_network().fit(x, y, epochs=1, control=control, callbacks=[ChangeAfterFirst(), recorder])
    assert recorder.batches[0].learning_rate == 0.01
    assert recorder.batches[1].learning_rate == 0.5


def test_early_stopping_restores_best_weights():
    x, y = xor_data()
    net = small_network(epochs=200, early_stopping={"monitor": "val_loss", "patience": 3})
    history = net.fit(x, y, validation_data=(x[:40], y[:40]), learning_rate=0.3)
    assert len(history["loss"]) < 200
    assert net.last_stop_reason == "early stopping"


def test_bad_targets_are_named():
    x, _ = xor_data()
    with pytest.raises(engine.DataError):
        small_network().fit(x, np.full(len(x), 3.0))


def test_predict_with_a_standardizer_accepts_a_dict_of_inputs():
    from engine.data.dataset import Standardizer

    net = small_network()
    x, _ = xor_data(n=20)
    net.scaler = Standardizer.fit(x)
    np.testing.assert_array_equal(net.predict({"in": x}), net.predict(x))


def test_empty_training_data_is_named_not_reported_as_divergence():
    net = small_network()
    with pytest.raises(engine.DataError, match="no training samples"):
        net.fit(np.zeros((0, 2), np.float32), np.zeros((0, 1), np.float32))
