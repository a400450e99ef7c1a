"""Training from the window, driven as a user would: Train, Pause, Step, Stop, close."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

import engine
from engine.graph import NetworkSpec
from engine.network import Network
from gui.main_window import MainWindow
from gui.training.session import IDLE, PAUSED

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _errors(monkeypatch) -> list[str]:
    """The messages shown as errors (gui.errors shows each in a critical message box)."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: shown.append(text))
    return shown


def _open(win, qtbot, example: str) -> None:
    """Open an example and wait until its data is read (Train pressed earlier waits for it)."""
    assert win.load_path(EXAMPLES / example)
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)


def _steps(win) -> int:
    return win.session.worker.network.history.steps


def test_xor_trains_from_the_window_to_97_percent(window, qtbot):
    _open(window, qtbot, "xor.json")
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    history = window.document.network.history.epochs
    assert history["val_accuracy"][-1] >= 0.97
    assert window.document.is_modified()  # trained weights wait to be saved
    assert window.training_panel.curves.epoch_logs["loss"] == history["loss"]


def test_step_pause_resume_change_the_step_count_exactly(window, qtbot):
    _open(window, qtbot, "spiral.json")
    controls = window.training_controls
    controls.step.trigger()  # from idle: a paused run that does one batch
    qtbot.waitUntil(lambda: window.session.worker is not None and _steps(window) == 1, timeout=10000)
    qtbot.wait(300)
    assert _steps(window) == 1 and window.session.state == PAUSED
    controls.step.trigger()
    controls.step.trigger()
    qtbot.waitUntil(lambda: _steps(window) == 3, timeout=10000)
    qtbot.wait(300)
    assert _steps(window) == 3
    per_epoch = window.session.batches_per_epoch
    controls.step_epoch.trigger()
    qtbot.waitUntil(lambda: _steps(window) == 3 + per_epoch, timeout=10000)
    qtbot.wait(300)
    assert _steps(window) == 3 + per_epoch
    controls.pause.trigger()  # paused -> resume
    qtbot.waitUntil(lambda: _steps(window) > 3 + per_epoch + 5, timeout=10000)
    controls.pause.trigger()  # running -> pause
    qtbot.wait(200)
    frozen = _steps(window)
    qtbot.wait(300)
    assert _steps(window) == frozen
    controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)
    assert window.document.network.history.steps == frozen


def test_stop_mid_epoch_returns_within_half_a_second(window, qtbot):
    _open(window, qtbot, "spiral.json")
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.steps_seen > 40, timeout=20000)
    started = time.perf_counter()
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)
    assert time.perf_counter() - started < 0.5
    assert window.document.network.history.steps > 0


def test_closing_while_training_stops_the_thread(qtbot, monkeypatch):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    _open(win, qtbot, "spiral.json")
    win.training_controls.train.trigger()
    qtbot.waitUntil(lambda: win.session.steps_seen > 5, timeout=20000)
    thread = win.session.thread
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win.document.undo_stack.setClean()
    assert win.close()
    assert not thread.isRunning()


def test_closing_waits_for_a_thread_that_cannot_stop_yet(qtbot, monkeypatch):
    """A first-time JIT compile ignores stop for ~10 s. Closing must wait for it: a QThread
    destroyed while running aborts the app (it did, after a 5 s limit)."""
    compiling = threading.Event()

    def uninterruptible_fit(self, *args, **kwargs):
        compiling.set()
        time.sleep(5.5)

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    _open(win, qtbot, "xor.json")
    monkeypatch.setattr(Network, "fit", uninterruptible_fit)
    win.training_controls.train.trigger()
    qtbot.waitUntil(compiling.is_set, timeout=10000)
    thread = win.session.thread
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: QMessageBox.StandardButton.Ok)  # (fake fit)
    win.document.undo_stack.setClean()
    assert win.close()
    assert not thread.isRunning()


def _exploding_network() -> Network:
    spec = NetworkSpec(
        training={
            "loss": "mse",
            "optimizer": {"type": "sgd", "learning_rate": 1e6},
            "batch_size": 16,
            "epochs": 50,
            "seed": 0,
        },
        data={"source": "sine", "n": 200, "seed": 0},
    )
    spec.add_node("Input", {"shape": [1]}, node_id="x")
    spec.add_node("Dense", {"units": 16}, (200, 0), node_id="h")
    spec.add_node("Dense", {"units": 1}, (400, 0), node_id="y")
    spec.connect("x", "h")
    spec.connect("h", "y")
    return Network(spec)


def test_nan_run_restores_finite_weights_and_explains(window, qtbot, monkeypatch):
    shown = _errors(monkeypatch)
    window.document.load_network(_exploding_network())
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=20000)
    assert len(shown) == 1
    assert "learning rate" in shown[0] and "too high" in shown[0]
    assert all(np.isfinite(w).all() for w in window.document.network.get_weights())


def test_csv_with_text_in_a_number_column_keeps_the_previous_data(window, qtbot, tmp_path, monkeypatch):
    _open(window, qtbot, "xor.json")
    assert window.session.load_data() is None
    before_data, before_spec = window.session.dataset, dict(window.document.spec.data)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n0.1,0.2,0\n0.3,oops,1\n")
    shown = _errors(monkeypatch)
    ok = window.training_panel.data_panel.apply_config({"source": "csv", "path": str(bad), "target": "label"})
    assert not ok
    assert shown and "bad.csv" in shown[0] and "oops" in shown[0] and "line 3" in shown[0]
    assert window.session.dataset is before_data
    assert window.document.spec.data == before_spec


def test_trained_file_reopens_with_its_curves(window, qtbot, tmp_path):
    _open(window, qtbot, "xor.json")
    window.document.set_training({**window.document.spec.training, "epochs": 5})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=30000)
    path = tmp_path / "trained.ncv"
    window.document.save(path)
    losses = list(window.document.network.history.epochs["loss"])
    other = MainWindow()
    qtbot.addWidget(other)
    other.maybe_save = lambda: True
    assert other.load_path(path)
    assert other.training_panel.curves.epoch_logs["loss"] == losses
    np.testing.assert_array_equal(
        other.document.network.get_weights()[0], window.document.network.get_weights()[0]
    )
    other.session.shutdown()


def test_reset_weights_clears_the_curves_and_health_with_the_history(window, qtbot):
    """Reset forgets the network's history; the views must not keep the old run's curves (the
    next run's steps start at 0 again, and would be drawn on top of them)."""
    _open(window, qtbot, "xor.json")
    window.document.set_training({**window.document.spec.training, "epochs": 3})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=30000)
    panel = window.training_panel
    assert len(panel.curves.epoch_logs["loss"]) == 3 and len(panel.curves.batch_steps) > 0
    assert panel.health.times

    window.training_controls.reset_weights()
    assert window.document.network.history.epoch_count == 0
    assert panel.curves.epoch_logs == {} and len(panel.curves.batch_steps) == 0
    drawn = [
        panel.curves.batch_curve,
        panel.curves.train_curve,
        panel.curves.val_curve,
        panel.curves.metric_train,
        panel.curves.metric_val,
    ]
    assert [len(curve.getData()[0]) for curve in drawn] == [0] * 5  # nothing of the old run is drawn
    assert panel.health.times == [] and panel.health.grad_curves == {}

    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=30000)
    history = window.document.network.history
    assert panel.curves.epoch_logs["loss"] == history.epochs["loss"] and len(history.epochs["loss"]) == 3
    steps = panel.curves.batch_steps.values
    assert len(steps) == history.steps and steps[0] <= 1 and np.all(np.diff(steps) > 0)


def test_data_that_does_not_fit_offers_the_fix(window, qtbot, monkeypatch):
    _open(window, qtbot, "spiral.json")
    window.document.set_data({"source": "spiral_multiclass", "n": 300, "classes": 3, "seed": 0})
    assert window.session.load_data() is None
    problems = window.session.fit_problems()
    assert [p.node_id for p in problems] == ["out"]
    assert "3 classes" in problems[0].message and "1 unit" in problems[0].message
    monkeypatch.setattr(QMessageBox, "exec", lambda box: 0)
    monkeypatch.setattr(QMessageBox, "clickedButton", lambda box: box.buttons()[0])
    assert window.training_controls._ready()
    assert window.document.spec.nodes["out"].params["units"] == 3
    assert window.document.spec.nodes["out"].params["activation"] == "softmax"
    assert window.session.fit_problems() == []


def test_learning_rate_changed_while_training_is_applied_and_marked(window, qtbot):
    _open(window, qtbot, "spiral.json")
    # (the example's 200 epochs take well under a second: this run must outlast the change)
    window.document.set_training({**window.document.spec.training, "epochs": 100_000})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.steps_seen > 20, timeout=20000)
    training = window.document.spec.training
    window.document.set_training({**training, "optimizer": {**training["optimizer"], "learning_rate": 0.002}})
    qtbot.waitUntil(lambda: window.training_panel.curves.marks != [], timeout=5000)
    assert "lr 0.002" in window.training_panel.curves.marks[0][1]
    qtbot.waitUntil(
        lambda: window.session.worker.network.history.epochs.get("lr", [0])[-1] == 0.002, timeout=20000
    )
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)


def test_every_tab_exports_png_and_csv(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    _open(window, qtbot, "xor.json")
    window.document.set_training({**window.document.spec.training, "epochs": 3})
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=30000)
    panel = window.training_panel
    for index, name in enumerate(("curves", "boundary", "health", "results")):
        panel.tabs.setCurrentIndex(index)
        panel.redraw(everything=True)
        png, csv_path = tmp_path / f"{name}.png", tmp_path / f"{name}.csv"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, p=png, **k: (str(p), ""))
        panel.export_png()
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, p=csv_path, **k: (str(p), ""))
        panel.export_csv()
        assert png.stat().st_size > 1000, name
        lines = csv_path.read_text().splitlines()
        assert len(lines) >= 2, name  # a header and numbers


def _network_with_data(folder: Path, data_file: str) -> Path:
    """The xor network saved in `folder`, its data an .npz named by a path relative to it."""
    network = engine.load(EXAMPLES / "xor.json")
    network.spec.data = {"source": "npz", "path": data_file, "val_split": 0.25}
    path = folder / "net.json"
    engine.save(network, path)
    return path


def test_opening_a_file_reads_its_data_in_the_background(window, qtbot, tmp_path, monkeypatch):
    """The data section is read off the GUI thread, relative to the file's own folder, so
    neither opening nor the first Train freezes the window; a bad file is named quietly."""
    import gui.training.session as session_module

    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "points.npz",
        x=rng.normal(size=(200, 2)).astype(np.float32),
        y=(rng.random(200) > 0.5).astype(np.int64),
    )
    readers = []
    read = session_module._load_and_split
    monkeypatch.setattr(
        session_module,
        "_load_and_split",
        lambda *a: (readers.append(threading.current_thread().name), read(*a))[1],
    )
    assert window.load_path(_network_with_data(tmp_path, "points.npz"))
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert readers == ["NetCanvas data preload"]
    assert len(window.session.train_set) == 150 and len(window.session.val_set) == 50

    other = tmp_path / "other"
    other.mkdir()
    assert window.load_path(_network_with_data(other, "missing.npz"))
    summary = window.training_panel.data_panel.summary
    qtbot.waitUntil(lambda: "missing.npz" in summary.text(), timeout=10000)
    assert "Data not loaded" in summary.text() and readers[-1] == "NetCanvas data preload"


def test_train_pressed_while_the_data_is_read_waits_for_it_instead_of_reading_again(
    window, qtbot, monkeypatch
):
    """Pressing Train right after opening a file used to read the data a second time on the GUI
    thread (MNIST: the window froze ~1.3 s); now the run starts when the background read ends."""
    import gui.training.session as session_module

    gate = threading.Event()
    readers = []
    read = session_module._load_and_split

    def slow_read(*args):
        readers.append(threading.current_thread().name)
        gate.wait(10)
        return read(*args)

    monkeypatch.setattr(session_module, "_load_and_split", slow_read)
    assert window.load_path(EXAMPLES / "xor.json")
    window.training_controls.train.trigger()
    assert window.session.state == IDLE and "Reading the data" in window.statusBar().currentMessage()
    qtbot.wait(100)
    assert window.session.state == IDLE  # still waiting, and the window kept handling events
    gate.set()
    qtbot.waitUntil(lambda: window.session.state != IDLE, timeout=10000)
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    assert readers == ["NetCanvas data preload"]  # read once, never on the GUI thread
    assert window.document.network.history.steps > 0

    gate.clear()  # a Train waiting for one file's data does not start the next file
    assert window.load_path(EXAMPLES / "spiral.json")
    window.training_controls.train.trigger()
    assert window.load_path(EXAMPLES / "xor.json")
    gate.set()
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    qtbot.wait(200)
    assert window.session.state == IDLE and window.document.network.history.steps == 0


def test_a_run_of_well_under_a_second_still_draws_a_gradient_norm_trend(window, qtbot):
    """The spiral example trains in a fraction of a second: the 5 Hz snapshot rate alone gave it
    2-3 health points. Snapshots also come every 1/40 of the run's steps (within a time budget),
    stamped with their step, so the gradient-norm plot shares the loss curve's x axis."""
    _open(window, qtbot, "spiral.json")
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    health = window.training_panel.health
    steps = window.document.network.history.steps
    assert len(health.times) >= 8 and health.times == sorted(set(health.times))
    assert health.times[0] == 0 and health.times[-1] == steps
    header, rows = health.table()
    assert header[0] == "step" and [row[0] for row in rows] == health.times
    # the run was watched on the Curves tab: Health drew its final state when the run ended
    assert window.training_panel.tabs.currentWidget() is window.training_panel.curves
    assert not health.dirty
    window.training_panel.tabs.setCurrentWidget(health)
    assert [len(curve.getData()[0]) for curve in health.grad_curves.values()] == [len(health.times)] * 3
    shown = next(h for h in health.latest.layers if h.node_id == health.layer_choice.currentText())
    assert health.hist_mean.label.toPlainText() == f"mean {shown.mean_activation:.3g}" != "mean 0"
    window.training_controls.reset.trigger()  # a fresh history: the next run's plot starts over
    window.training_controls.step.trigger()
    qtbot.waitUntil(lambda: window.session.worker is not None and _steps(window) == 1, timeout=10000)
    qtbot.waitUntil(lambda: bool(health.times) and health.times[-1] <= 1, timeout=10000)
    assert health.times == sorted(health.times) and health.times[-1] <= 1
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)


def test_a_run_at_the_opened_files_learning_rate_marks_no_edit(window, qtbot):
    """Opening a file sets a learning rate without a settings signal; taking the trained
    weights back at the end of the run does emit one. That must not read as a live edit."""
    _open(window, qtbot, "spiral.json")
    assert window.document.network.training.learning_rate != Network(NetworkSpec()).training.learning_rate
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=30000)
    assert window.training_panel.curves.marks == []


def test_the_status_bar_shows_the_last_progress_of_a_fast_run(window, qtbot):
    """Progress faster than the status bar's rate is shown when the interval ends."""
    _open(window, qtbot, "spiral.json")
    window.watch.pace.until_stopped.trigger()  # (the example's epochs may all end before the pause)
    window.session.start()
    qtbot.waitUntil(lambda: window.session.steps_seen > 100, timeout=20000)
    window.session.pause()
    qtbot.waitUntil(lambda: window.session.state == PAUSED, timeout=5000)
    controls = window.training_controls
    # The worker pauses when its kernel call ends (a multi-epoch call runs ~50 ms), then reports
    # where it stopped; only then has the status bar a last progress to show.
    qtbot.waitUntil(lambda: window.session.steps_seen == _steps(window), timeout=5000)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not controls._status_timer.isActive(), timeout=2000)
    steps, per_epoch = _steps(window), controls.epoch_progress.maximum()  # (a fresh network)
    assert steps == window.session.steps_seen
    assert controls.progress.format() == f"epoch {(steps - 1) // per_epoch + 1} · until Stop"
    assert controls.epoch_progress.value() == (steps - 1) % per_epoch + 1
    assert window.statusBar().updatesEnabled()  # (off only while the bars are set)
    window.session.stop()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)


def test_run_started_tells_when_the_training_thread_began(window, qtbot, monkeypatch):
    """The GUI thread may hear of the start late (it repaints the window for the new state);
    `started_at` is the training thread's own time, taken just before the first batch."""
    _open(window, qtbot, "xor.json")
    fit_entered: list[float] = []
    fit = Network.fit
    monkeypatch.setattr(
        Network, "fit", lambda self, *a, **k: (fit_entered.append(time.perf_counter()), fit(self, *a, **k))[1]
    )
    infos: list[dict] = []
    window.session.run_started.connect(infos.append)
    pressed = time.perf_counter()
    window.session.start()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    assert len(infos) == 1 and len(fit_entered) == 1
    assert pressed < infos[0]["started_at"] <= fit_entered[0]
    assert fit_entered[0] - infos[0]["started_at"] < 0.05  # nothing slow in between


def test_the_gui_objects_are_left_out_of_garbage_collection_only_while_training(window, qtbot):
    import gc

    _open(window, qtbot, "spiral.json")
    gc.unfreeze()  # (the leak check in conftest.py freezes what earlier tests left alive)
    assert gc.get_freeze_count() == 0
    window.session.start()
    assert gc.get_freeze_count() > 1000  # the window's objects: no full collection scans them mid-run
    window.session.stop()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)
    assert gc.get_freeze_count() == 0


def test_a_slow_first_snapshot_does_not_hold_back_the_next_ones(window, qtbot, monkeypatch):
    """The first snapshot also loads kernels (slow when Train is pressed right after opening);
    the live views must still refresh at SNAPSHOT_HZ after it, not after its budget share."""
    from engine.training.monitor import TrainingMonitor

    snapshot = TrainingMonitor.snapshot
    calls = []

    def first_one_slow(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.6)
        return snapshot(self, *args, **kwargs)

    monkeypatch.setattr(TrainingMonitor, "snapshot", first_one_slow)
    _open(window, qtbot, "spiral.json")
    window.document.set_training({**window.document.spec.training, "epochs": 100000})
    surfaces: list[float] = []
    window.session.snapshot_taken.connect(
        lambda s: surfaces.append(time.perf_counter()) if s.surface is not None else None
    )
    window.session.start()
    qtbot.waitUntil(lambda: len(surfaces) >= 1, timeout=20000)
    qtbot.waitUntil(lambda: len(surfaces) >= 3, timeout=3000)  # two more within ~0.4 s at 5 Hz
    window.session.stop()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)
