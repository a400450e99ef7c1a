"""A long run's history stays bounded: the per-epoch values are thinned like the per-batch losses,
each kept value with the epoch it belongs to, and saved files keep (and old files lack) that."""

from __future__ import annotations

import copy
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from engine import io
from engine.training.callbacks import MAX_EPOCH_POINTS, Callback, History
from tests.engine.test_trainer import small_network, xor_data

EPOCHS = 1_000_000


def loss_at(epoch: int) -> float:
    return 1.0 / (1.0 + epoch)


class TrainerGrabber(Callback):
    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer


def assert_thinned(history: History, first: dict[str, int]) -> None:
    """Each key's values are f(epoch) of their epoch numbers: multiples of the stride from the
    key's first epoch on, and the latest epoch."""
    stride = history.epoch_stride
    for key, values in history.epochs.items():
        numbers = history.epoch_numbers[key]
        assert len(values) == len(numbers) <= MAX_EPOCH_POINTS + 1
        assert numbers[-1] == history.epoch_count - 1
        assert all(n % stride == 0 for n in numbers[:-1])
        assert np.all(np.diff(numbers[:-1]) == stride)
        assert numbers[0] < first[key] + stride
        scale = 2.0 if key.startswith("val_") else 1.0
        assert values == [scale * loss_at(n) for n in numbers]


@pytest.mark.slow  # ~15 s: a million epoch ends
def test_a_million_epochs_stay_a_bounded_thinned_curve():
    net = small_network(epochs=1)
    grabber = TrainerGrabber()
    net.fit(*xor_data(n=32), callbacks=[grabber])
    trainer = grabber.trainer
    trainer.history = History()
    tracemalloc.start()
    try:
        for epoch in range(EPOCHS):
            val = {"loss": 2.0 * loss_at(epoch)} if epoch >= 1000 else None  # validation from 1000 on
            trainer._end_epoch(epoch, EPOCHS, {"loss": loss_at(epoch)}, 0.1, 1, val, 0.0, [])
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    history = trainer.history
    assert held < 4_000_000, f"{held / 1e6:.1f} MB held by a {EPOCHS}-epoch history"
    assert history.epoch_count == EPOCHS and history.epoch_stride >= EPOCHS // MAX_EPOCH_POINTS // 2
    assert set(history.epochs) == {"loss", "val_loss", "lr"}
    history.epochs["lr"] = [loss_at(n) for n in history.epoch_numbers["lr"]]  # (a constant otherwise)
    assert_thinned(history, {"loss": 0, "lr": 0, "val_loss": 1000})


def test_the_latest_epoch_is_kept_until_the_next_replaces_it():
    history = History()
    for epoch in range(3 * MAX_EPOCH_POINTS + 7):
        history.append_epoch({"loss": loss_at(epoch)})
        assert history.epochs["loss"][-1] == loss_at(epoch)
    assert_thinned(history, {"loss": 0})


def test_a_thinned_history_saves_and_loads(tmp_path):
    net = small_network(epochs=1)
    net.fit(*xor_data(n=32))
    history = History()
    for epoch in range(2 * MAX_EPOCH_POINTS + 3):
        history.append_epoch({"loss": loss_at(epoch)})
    net.history = history
    path = tmp_path / "long.ncv"
    io.save(net, path)
    loaded = io.load(path).history
    assert loaded == history and loaded.epoch_stride == history.epoch_stride > 1


def test_a_file_saved_before_thinning_loads_as_one_value_per_epoch(tmp_path):
    net = small_network(epochs=3)
    net.fit(*xor_data(n=32))
    path = tmp_path / "old.ncv"
    io.save(net, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(members[io.HISTORY_MEMBER])
    for key in ("epoch_numbers", "epoch_stride", "epoch_count"):
        del doc[key]
    doc["epochs"]["val_loss"] = [0.5]  # validation only in the last epoch
    members[io.HISTORY_MEMBER] = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    loaded = io.load(path).history
    assert loaded.epoch_count == 3 and loaded.epoch_stride == 1
    assert loaded.epoch_numbers["loss"] == [0, 1, 2] and loaded.epoch_numbers["val_loss"] == [2]
    loaded.append_epoch({"loss": 0.1})
    assert loaded.epoch_count == 4 and loaded.epoch_numbers["loss"] == [0, 1, 2, 3]


def test_a_kept_history_shares_equal_epoch_numbers_until_appended_to():
    history = History()
    for epoch in range(5):
        history.append_epoch({"loss": loss_at(epoch), "accuracy": 0.5})
    history.append_epoch({"loss": 0.1})  # accuracy not this epoch: its own numbers
    history.share_numbers()
    numbers = history.epoch_numbers
    assert numbers["loss"] == [0, 1, 2, 3, 4, 5] and numbers["accuracy"] == [0, 1, 2, 3, 4]
    history.epoch_numbers["val_loss"] = history.epochs["val_loss"] = []
    history.epoch_numbers["lr"] = list(numbers["loss"])
    history.epochs["lr"] = [0.01] * 6
    history.share_numbers()
    assert numbers["lr"] is numbers["loss"] and numbers["accuracy"] is not numbers["loss"]
    copied = copy.deepcopy(history)
    assert copied == history
    history.append_epoch({"loss": 0.05, "accuracy": 0.9})
    assert history.epoch_numbers["loss"] == [0, 1, 2, 3, 4, 5, 6]
    assert history.epoch_numbers["lr"] == [0, 1, 2, 3, 4, 5]
    assert history.epoch_numbers["accuracy"] == [0, 1, 2, 3, 4, 6]
    assert copied.epoch_numbers["loss"] == [0, 1, 2, 3, 4, 5]


def test_a_history_longer_than_the_caps_comes_back_under_them():
    """A file saved when more points were kept (20,000 batch losses, 10,000 epochs a key) loads,
    and training on shrinks it under today's caps within a few epochs."""
    from engine.training.callbacks import MAX_BATCH_LOSSES

    old = History(
        {"loss": [loss_at(e) for e in range(10_000)]},
        [loss_at(s) for s in range(20_000)],
        batch_stride=1,
        steps=20_000,
    )
    for epoch in range(10_000, 10_004):
        old.append_batches([loss_at(s) for s in range(old.steps, old.steps + 30)])
        old.append_epoch({"loss": loss_at(epoch)})
    assert len(old.batch_losses) < MAX_BATCH_LOSSES and old.steps == 20_120
    assert old.batch_losses == [loss_at(s) for s in range(0, old.steps, old.batch_stride)]
    assert len(old.epochs["loss"]) <= MAX_EPOCH_POINTS + 1
    assert_thinned(old, {"loss": 0})
