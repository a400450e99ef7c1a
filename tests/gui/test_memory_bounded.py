"""Long runs and many runs stay bounded in the window: the curve and health buffers thin out
like the network's History, and a Train→Stop cycle leaves little behind (the Undo step it adds)."""

from __future__ import annotations

import dataclasses
import gc
import os

import numpy as np
import pytest

from engine.training.callbacks import MAX_EPOCH_POINTS
from gui.training.curves import MAX_BATCH_POINTS, SMOOTHING
from gui.training.health_view import MAX_SNAPSHOTS
from gui.training.session import IDLE, PAUSED
from gui.training.worker import describe
from tests.gui.test_training import _open

STEPS = 1_000_000
EPOCHS = 50_000
PER_EPOCH = STEPS // EPOCHS


def batch_loss(steps: np.ndarray) -> np.ndarray:
    return 1.0 + np.sin(steps / 5000.0)


def epoch_logs(epoch: int) -> dict[str, float]:
    return {"loss": 1.0 / (1 + epoch), "accuracy": epoch / EPOCHS, "val_loss": 2.0 / (1 + epoch)}


def test_curves_of_a_million_steps_keep_a_bounded_exact_thinning(window):
    curves = window.training_panel.curves
    for first in range(0, STEPS, 10_000):
        curves.add_batches(first, batch_loss(np.arange(first, first + 10_000)))
    for epoch in range(EPOCHS):
        curves.add_epoch(epoch_logs(epoch), (epoch + 1) * PER_EPOCH)
    curves.redraw()

    steps = curves.batch_steps.values
    assert len(steps) <= MAX_BATCH_POINTS
    stride = steps[1] - steps[0]
    assert stride > 1 and np.all(np.diff(steps) == stride) and steps[-1] > STEPS - 2 * stride
    losses = batch_loss(np.arange(STEPS))
    smoothed = np.empty(STEPS)
    acc = losses[0]
    for i, loss in enumerate(losses):  # the moving average over every batch, thinned or not
        acc = SMOOTHING * acc + (1 - SMOOTHING) * loss
        smoothed[i] = acc
    assert np.allclose(curves.smoothed, smoothed[steps.astype(np.int64)])

    assert len(curves.epoch_logs["loss"]) <= MAX_EPOCH_POINTS + 1
    x, y = curves.train_curve.getData()  # the loss per epoch, where each epoch ended
    epochs = x / PER_EPOCH - 1
    assert x[-1] == STEPS and np.allclose(y, 1.0 / (1 + epochs))
    x, y = curves.val_curve.getData()
    assert x[-1] == STEPS and np.allclose(y, 2.0 / (1 + x / PER_EPOCH - 1))
    x, y = curves.metric_train.getData()  # accuracy by epoch (1-based)
    assert x[-1] == EPOCHS and np.allclose(y, (x - 1) / EPOCHS)

    header, rows = curves.table()  # what Export CSV writes: a row per epoch kept, numbered
    assert header == ["epoch", "loss", "accuracy", "val_loss"] and len(rows) == len(curves.epoch_logs["loss"])
    assert all(row[1:] == list(epoch_logs(row[0] - 1).values()) for row in rows)
    assert rows[-1][0] == EPOCHS


def test_gradient_norms_of_a_long_run_stay_bounded(window, qtbot):
    _open(window, qtbot, "spiral.json")
    snapshot, _report = describe(window.document.network, window.session.train_set.x, None, None)
    health = window.training_panel.health
    for step in range(1, 3 * MAX_SNAPSHOTS):
        layers = [dataclasses.replace(layer, gradient_norm=float(step)) for layer in snapshot.layers]
        health.add_snapshot(dataclasses.replace(snapshot, layers=layers, step=step))
    health.redraw()
    assert len(health.times) <= MAX_SNAPSHOTS and health.times[-1] == 3 * MAX_SNAPSHOTS - 1
    for series in health.grad_norms.values():
        assert len(series) == len(health.times) and series == [float(t) for t in health.times]
    header, rows = health.table()
    assert len(rows) == len(health.times)


def _epochs_done(session) -> int:
    return session.worker.network.history.epoch_count


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_train_stop_cycles_leave_less_than_half_a_megabyte_each(window, qtbot):
    """Each cycle is a run of one epoch (Step one epoch), then Stop: the same few batches every
    time, so what a cycle must keep (its Undo step: weights, optimizer state, a history a little
    longer than the last) stays small and the same, and whatever else it leaves shows."""
    _open(window, qtbot, "spiral.json")
    controls, session = window.training_controls, window.session
    sizes = []
    for cycle in range(20):
        controls.step_epoch.trigger()
        qtbot.waitUntil(lambda c=cycle: session.worker is not None and _epochs_done(session) == c + 1)
        assert session.state == PAUSED
        controls.stop.trigger()
        qtbot.waitUntil(lambda: session.state == IDLE, timeout=20000)
        qtbot.wait(50)
        gc.collect()
        sizes.append(_resident_bytes())
    assert window.document.undo_stack.count() == 20  # each run is an Undo step (kept by design)
    assert window.document.network.history.epoch_count == 20
    warm = 5
    per_cycle = (sizes[-1] - sizes[warm]) / (len(sizes) - 1 - warm)
    assert per_cycle < 500_000, f"{per_cycle / 1e6:.2f} MB a Train→Stop cycle"


@pytest.mark.slow
def test_whole_training_runs_each_keep_less_than_half_a_megabyte(window, qtbot):
    """50 cycles of Train (up to 3,000 batches of the spiral example) then Stop. Each run's Undo
    step keeps its history, which grows run by run until the History caps hold it: what a cycle
    adds stays under 0.5 MB all the same (with caps of 20,000 / 10,000 points: 0.68 MB)."""
    _open(window, qtbot, "spiral.json")
    controls, session = window.training_controls, window.session
    sizes = []
    for _cycle in range(50):
        start = window.document.network.history.steps
        controls.train.trigger()
        qtbot.waitUntil(lambda s=start: session.state == IDLE or session.steps_seen > s + 3000, timeout=20000)
        controls.stop.trigger()
        qtbot.waitUntil(lambda: session.state == IDLE, timeout=20000)
        qtbot.wait(50)
        gc.collect()
        sizes.append(_resident_bytes())
    history = window.document.network.history
    # long runs: the history grew past both caps, however fast this machine trains
    assert history.epoch_count > MAX_EPOCH_POINTS and history.epoch_stride > 1
    assert history.batch_stride > 1
    warm = 10
    per_cycle = (sizes[-1] - sizes[warm]) / (len(sizes) - 1 - warm)
    assert per_cycle < 500_000, f"{per_cycle / 1e6:.2f} MB a Train→Stop cycle"
