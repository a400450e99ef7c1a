"""Watching it learn: a chosen pace of optimizer steps a second, and training until stopped.

The pace test is the one that measures time (the pace is a promise about time): it counts the
steps reported over a window that starts after the first steps (compilation, warm caches)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import engine
from engine.graph import NetworkSpec
from engine.network import Network
from engine.training.callbacks import Callback
from engine.training.config import TrainingConfig
from engine.training.control import TrainingControl

WARM_UP_SECONDS = 0.4


def playground_network(**training) -> Network:
    """2 -> 8 tanh -> 1 sigmoid, the kind of network the pace is for (the fused small-net path)."""
    spec = NetworkSpec(
        training={
            "loss": "binary_crossentropy",
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "batch_size": 16,
            "epochs": 2,
            "seed": 1,
            **training,
        }
    )
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": "tanh"}, node_id="h")
    spec.add_node("Dense", {"units": 1, "activation": "sigmoid"}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    return Network(spec)


def xor_data(n: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


class StepClock(Callback):
    """The time each optimizer step was reported at; stops the run after `seconds`."""

    def __init__(self, control: TrainingControl, seconds: float):
        self.control, self.seconds = control, seconds
        self.times: list[float] = []
        self.epochs: list[int] = []

    def on_batches_end(self, event) -> None:
        now = time.monotonic()
        self.times.extend([now] * len(event.losses))
        if now - self.times[0] > self.seconds:
            self.control.stop()

    def on_epoch_end(self, event) -> None:
        self.epochs.append(event.epochs)


def measured_pace(pace: float, seconds: float) -> float:
    """Steps a second over the window from WARM_UP_SECONDS after the first step to the stop."""
    control = TrainingControl()
    clock = StepClock(control, WARM_UP_SECONDS + seconds)
    x, y = xor_data()
    playground_network().fit(x, y, until_stopped=True, pace=pace, control=control, callbacks=[clock])
    times = np.asarray(clock.times)
    start = times[0] + WARM_UP_SECONDS
    window = times[times >= start]
    return (len(window) - 1) / (window[-1] - window[0])


@pytest.mark.parametrize(("pace", "seconds"), [(20.0, 2.5), (100.0, 1.5)])
def test_pace_runs_the_chosen_steps_a_second(pace, seconds):
    rate = measured_pace(pace, seconds)
    assert rate == pytest.approx(pace, rel=0.10), f"{rate:.1f} steps/s at a pace of {pace:g}"


def test_until_stopped_runs_past_the_epoch_count_until_stop():
    control = TrainingControl()

    class StopAfterSix(Callback):
        def __init__(self):
            self.ends: list[int] = []

        def on_epoch_end(self, event) -> None:
            self.ends.append(event.epochs)
            if event.epoch + 1 >= 6:
                control.stop()

    net = playground_network(epochs=2, until_stopped=True)
    x, y = xor_data()
    stopper = StopAfterSix()
    net.fit(x, y, control=control, callbacks=[stopper])
    assert net.history.epoch_count >= 6  # the file says 2
    assert net.last_stop_reason == "stopped"
    assert set(stopper.ends) == {0}  # no end to show
    # The same network without "until stopped" ends at its epoch count.
    finite = playground_network(epochs=2)
    finite.fit(x, y)
    assert finite.history.epoch_count == 2
    assert finite.last_stop_reason == "finished"


def test_pace_changes_while_it_runs_and_stop_ends_a_slow_wait():
    control = TrainingControl()
    clock = StepClock(control, 60.0)
    x, y = xor_data()
    net = playground_network()
    thread = threading.Thread(
        target=net.fit,
        args=(x, y),
        kwargs={"until_stopped": True, "pace": 0.05, "control": control, "callbacks": [clock]},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30.0
        while not clock.times and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(clock.times) == 1  # the next step's turn is 20 s away
        control.set_pace(None)  # as fast as it goes, at once
        while len(clock.times) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(clock.times) >= 50
        control.set_pace(0.05)
        time.sleep(0.05)
    finally:
        control.stop()
        thread.join(10.0)
    assert not thread.is_alive()  # the stop woke the wait for a turn 20 s away


def test_the_files_pace_is_the_apps_a_script_asks_for_one():
    control = TrainingControl()
    net = playground_network(pace=0.05, epochs=1)  # 10 steps: 200 s at the file's pace
    x, y = xor_data()
    thread = threading.Thread(target=net.fit, args=(x, y), kwargs={"control": control})
    thread.start()
    thread.join(30.0)
    control.stop()
    thread.join(10.0)
    assert net.history.steps == 10 and net.last_stop_reason == "finished"
    assert control.pace is None and net.training.pace == 0.05


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_pace_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="positive number of steps a second"):
        TrainingControl().set_pace(bad)


def test_until_stopped_and_pace_are_saved_and_loaded(tmp_path):
    net = playground_network(until_stopped=True, pace=300.0)
    path = tmp_path / "watch.json"
    engine.save(net, path)
    loaded = engine.load(path)
    assert loaded.training.until_stopped is True
    assert loaded.training.pace == 300.0
    old = TrainingConfig.from_dict({"epochs": 5})  # a file from before these settings
    assert old.until_stopped is False
    assert old.pace is None
    with pytest.raises(engine.ConfigError, match="pace"):
        TrainingConfig.from_dict({"pace": 0})
