"""The fused small-net path gives the general path's numbers; kernels agree with their twins."""

from __future__ import annotations

import numpy as np
import pytest

import engine.network as network_module
import engine.training.trainer as trainer_module
from engine._kernels import small_net as KS
from engine.errors import TrainingError
from engine.graph import NetworkSpec
from engine.network import Network
from engine.optimizers import get_optimizer
from engine.training.callbacks import Callback
from engine.training.control import TrainingControl
from engine.training.runners.dense_chain import DenseChainStep
from engine.training.trainer import EPOCH_RUN_SAMPLES, Trainer

CASES = [
    ({"type": "sgd", "learning_rate": 0.05}, "mse", "linear", 1),
    ({"type": "sgd", "learning_rate": 0.02, "momentum": 0.9, "nesterov": True}, "mse", "tanh", 2),
    ({"type": "adam", "learning_rate": 0.01}, "binary_crossentropy", "sigmoid", 1),
    (
        {"type": "sgd", "learning_rate": 0.05, "momentum": 0.5},
        "sparse_categorical_crossentropy",
        "softmax",
        3,
    ),
    ({"type": "adam"}, "categorical_crossentropy", "softmax", 3),
]


def small_net(
    optimizer, loss, output, outputs, dtype="float64", hidden=(8, 8), act="tanh", batch_size=10, extra=None
) -> Network:
    spec = NetworkSpec(
        training={
            "loss": loss,
            "optimizer": optimizer,
            "batch_size": batch_size,
            "epochs": 1,
            "seed": 3,
            "dtype": dtype,
        }
    )
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    previous = "in"
    for i, units in enumerate(hidden):
        spec.add_node("Dense", {"units": units, "activation": act}, node_id=f"h{i}")
        spec.connect(previous, f"h{i}")
        previous = f"h{i}"
    if extra is not None:
        spec.add_node(extra[0], extra[1], node_id="extra")
        spec.connect(previous, "extra")
        previous = "extra"
    spec.add_node("Dense", {"units": outputs, "activation": output}, node_id="out")
    spec.connect(previous, "out")
    return Network(spec)


def data(loss: str, outputs: int, count: int = 203):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 2))
    if loss == "sparse_categorical_crossentropy":
        return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    if loss == "categorical_crossentropy":
        return x, np.eye(3)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0)]
    y = (x[:, 0] * x[:, 1] > 0).astype(float)
    return x, np.repeat(y[:, None], outputs, axis=1)


class Recorder(Callback):
    def __init__(self, trainer_paths: list[str]):
        self.events = []
        self.paths = trainer_paths

    def on_train_begin(self, trainer):
        self.trainer = trainer

    def on_batch_end(self, event):
        self.events.append((event.epoch, event.batch, event.step, event.loss, event.size))

    def on_train_end(self, trainer):
        self.paths.append(trainer.path)


def fit(net: Network, x, y, small_net_path, monkeypatch, epochs=4, **kwargs):
    paths: list[str] = []
    recorder = Recorder(paths)

    class Chosen(Trainer):
        def __init__(self, *args, **kw):
            kw["fused_paths"] = small_net_path
            super().__init__(*args, **kw)

    monkeypatch.setattr(network_module, "Trainer", Chosen)
    callbacks = [recorder, *kwargs.pop("callbacks", [])]
    history = net.fit(x, y, epochs=epochs, callbacks=callbacks, **kwargs)
    return history, recorder.events, paths[0]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]}-{c[0]['type']}" for c in CASES])
def test_fused_path_matches_the_general_path_in_float64(case, monkeypatch):
    optimizer, loss, output, outputs = case
    x, y = data(loss, outputs)
    results = []
    for flag in (None, False):
        net = small_net(optimizer, loss, output, outputs)
        history, events, path = fit(net, x, y, flag, monkeypatch, validation_split=0.2)
        results.append((net, history, events, path))
    (fused, h_fused, e_fused, p_fused), (general, h_general, e_general, p_general) = results
    assert (p_fused, p_general) == ("fused small net", "general")
    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
    assert h_fused.keys() == h_general.keys()
    for key in h_fused:
        np.testing.assert_allclose(h_fused[key], h_general[key], rtol=1e-6)
    assert [e[:3] + e[4:] for e in e_fused] == [e[:3] + e[4:] for e in e_general]
    np.testing.assert_allclose([e[3] for e in e_fused], [e[3] for e in e_general], rtol=1e-6)
    assert fused.optimizer.iterations == general.optimizer.iterations
    for key, value in fused.optimizer.state().items():
        np.testing.assert_allclose(value, general.optimizer.state()[key], rtol=1e-6, atol=1e-12)
    for nid, layer in fused.model.layers.items():  # gradients of the last batch stay meaningful
        for key, g in layer.grads.items():
            np.testing.assert_allclose(g, general.model.layers[nid].grads[key], rtol=1e-6, atol=1e-12)


def test_fused_path_in_float32_stays_close(monkeypatch):
    x, y = data("mse", 1)
    nets = [small_net({"type": "adam"}, "mse", "linear", 1, dtype="float32") for _ in range(2)]
    for net, flag in zip(nets, (None, False), strict=True):
        fit(net, x, y, flag, monkeypatch)
    for a, b in zip(nets[0].get_weights(), nets[1].get_weights(), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("change", ["dropout", "clip", "l2", "wide", "adamw", "softmax_mse"])
def test_unsupported_set_ups_fall_back_to_the_general_path(change, monkeypatch):
    x, y = data("mse", 1)
    kwargs, net = {}, None
    if change == "dropout":
        net = small_net({"type": "sgd"}, "mse", "linear", 1, extra=("Dropout", {"rate": 0.2}))
    elif change == "clip":
        net, kwargs = small_net({"type": "sgd"}, "mse", "linear", 1), {"clip_norm": 1.0}
    elif change == "l2":
        net = small_net({"type": "sgd"}, "mse", "linear", 1, extra=("Dense", {"units": 4, "kernel_l2": 0.1}))
    elif change == "wide":
        net = small_net({"type": "sgd"}, "mse", "linear", 1, hidden=(64,))
    elif change == "adamw":
        net = small_net({"type": "adamw"}, "mse", "linear", 1)
    else:
        net = small_net({"type": "sgd"}, "mse", "softmax", 2)
        x, y = data("mse", 2)
    _, _, path = fit(net, x, y, None, monkeypatch, epochs=1, **kwargs)
    assert path == "general"


def check_stop_and_single_steps(net: Network, x, y, batches_per_call: int) -> None:
    """A stop asked for after the third batch lands within the kernel call running it (at most
    `batches_per_call` batches in); control.step(2) then runs exactly two batches."""
    control = TrainingControl()

    class StopAfter(Callback):
        def __init__(self):
            self.batches = 0

        def on_batch_end(self, event):
            self.batches += 1
            if self.batches == 3:
                control.stop()

    stopper = StopAfter()
    net.fit(x, y, epochs=1, control=control, callbacks=[stopper])
    assert net.last_stop_reason == "stopped"
    assert 3 <= stopper.batches <= batches_per_call < len(x) and net.optimizer.iterations == stopper.batches

    control = TrainingControl()
    control.step(2)
    counted = []

    class Count(Callback):
        def on_batch_end(self, event):
            counted.append(event.batch)
            if len(counted) == 2:
                control.stop()

    net.fit(x, y, epochs=1, control=control, callbacks=[Count()])
    assert counted == [0, 1]


def test_stop_is_honoured_within_one_chunk_and_single_steps_run_one_batch():
    net = small_net({"type": "sgd"}, "mse", "linear", 1, batch_size=1)
    check_stop_and_single_steps(net, *data("mse", 1, count=5000), batches_per_call=256)


def test_a_loss_that_diverges_inside_a_multi_epoch_call_ends_as_on_the_general_path(monkeypatch):
    """The learning rate warms up to where the loss overflows in epoch 10 of 12, inside one
    `train_epochs` call: the same epochs are reported, the same message is raised and the same
    weights (from the start of epoch 10) are restored as on the general path."""
    x, y = data("mse", 1)
    runs = []
    for flag in (None, False):
        spec = NetworkSpec(
            training={
                "loss": "mse",
                "optimizer": {"type": "sgd", "learning_rate": 0.5},
                "batch_size": 10,
                "epochs": 12,
                "seed": 3,
                "dtype": "float64",
                "schedule": {"type": "cosine", "warmup_epochs": 10},
            }
        )
        spec.add_node("Input", {"shape": [2]}, node_id="in")
        spec.add_node("Dense", {"units": 8, "activation": "linear"}, node_id="h")
        spec.add_node("Dense", {"units": 1, "activation": "linear"}, node_id="out")
        spec.connect("in", "h")
        spec.connect("h", "out")
        net = Network(spec)
        with pytest.raises(TrainingError) as info, np.errstate(all="ignore"):
            fit(net, x, 3 * y, flag, monkeypatch, epochs=12, validation_split=0.2)
        runs.append((net, str(info.value)))
    (fused, message), (general, general_message) = runs
    assert message == general_message and "at epoch 10, batch 9" in message
    assert fused.history.epochs.keys() == general.history.epochs.keys()
    for key, values in general.history.epochs.items():
        np.testing.assert_allclose(fused.history.epochs[key], values, rtol=1e-6)
    assert fused.history.steps == general.history.steps == 9 * 17 + 8
    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


class EpochsPerCall(Callback):
    """Records how many epochs each multi-epoch kernel call (`run_epochs`) ran."""

    def __init__(self, calls: list[int]):
        self.calls = calls

    def on_train_begin(self, trainer):
        original = trainer.runner.run_epochs
        trainer.runner.run_epochs = lambda *a: self.calls.append(len(a[2])) or original(*a)


def test_whole_epochs_run_per_kernel_call_only_where_every_epoch_need_not_be_seen_first():
    net = small_net({"type": "adam"}, "mse", "linear", 1)
    x, y = data("mse", 1, count=400)
    calls = []
    net.fit(x, y, epochs=50, callbacks=[EpochsPerCall(calls)])
    # (then sized by time; an epoch may run on its own while a first call's kernels load)
    assert len(calls) >= 2 and calls[0] == EPOCH_RUN_SAMPLES // 400 and sum(calls) <= 50
    calls.clear()
    net.fit(x, y, epochs=5, callbacks=[EpochsPerCall(calls)], early_stopping={"patience": 2})
    assert calls == []


class ClockOfDurations:
    """A stand-in for the trainer's `time`: each (start, end) pair of perf_counter readings is
    the next of `durations` apart."""

    def __init__(self, durations):
        self.durations, self.now, self.readings = iter(durations), 0.0, 0

    def perf_counter(self) -> float:
        if self.readings % 2:
            self.now += next(self.durations)
        self.readings += 1
        return self.now


def test_multi_epoch_calls_are_sized_to_last_epoch_run_seconds(monkeypatch):
    """The first call runs EPOCH_RUN_SAMPLES samples' worth of epochs; each later one as many as
    fit in EPOCH_RUN_SECONDS at the last measured speed, up to 1/EPOCH_RUN_PARTS of the run (or
    the first call's size, if more) and EPOCH_RUN_MAX_SAMPLES. Where not even two fit, an epoch
    runs on its own, and calls come back once epochs are fast again."""
    net = small_net({"type": "adam"}, "mse", "linear", 1)
    x, y = data("mse", 1, count=400)

    def fit(epochs: int, durations) -> list[int]:
        calls: list[int] = []
        monkeypatch.setattr(trainer_module, "time", ClockOfDurations(durations))
        net.fit(x, y, epochs=epochs, callbacks=[EpochsPerCall(calls)])
        return calls

    def split(epochs: int, size: int) -> list[int]:
        """The first call's epochs, then calls of `size`; each epoch takes 1/16 s (exact sums)."""
        rest = epochs - first
        return [first] + [size] * (rest // size) + ([rest % size] if rest % size else [])

    first = EPOCH_RUN_SAMPLES // 400  # 20 epochs
    monkeypatch.setattr(trainer_module, "EPOCH_RUN_SECONDS", 2.5)  # 40 epochs of 1/16 s
    for epochs, size in ((1000, 40), (600, 30), (200, first)):  # 30 = 600 / EPOCH_RUN_PARTS; 10 < first
        expected = split(epochs, size)
        assert fit(epochs, [n / 16 for n in expected]) == expected
    monkeypatch.setattr(trainer_module, "EPOCH_RUN_MAX_SAMPLES", 25 * 400)
    expected = split(1000, 25)
    assert fit(1000, [n / 16 for n in expected]) == expected
    monkeypatch.setattr(trainer_module, "EPOCH_RUN_SECONDS", 0.125)  # no two epochs of 0.1 s
    # The first call takes 2 s; epoch 21 alone takes 1/32 s; then calls of 4 such epochs
    assert fit(41, [2.0, 1 / 32] + [1 / 8] * 10) == [first, 4, 4, 4, 4, 4]


class PenaltyAt(Callback):
    """Asks for an L2 penalty of 0.05 on `node_id` once `step` batches have run."""

    def __init__(self, control: TrainingControl, step: int, node_id: str = "h1"):
        self.control, self.step, self.node_id = control, step, node_id

    def on_batch_end(self, event):
        if event.step == self.step:
            self.control.request_change(regularization={self.node_id: {"kernel_l2": 0.05}})


@pytest.mark.parametrize("step", [0, 7, 18])  # before training, mid-epoch, at an epoch's end
def test_a_live_weight_penalty_moves_training_to_the_general_path_from_the_next_batch(step, monkeypatch):
    """The fused kernel has no penalties: a live L2 change hands the rest of the epoch to the
    general path, and the numbers equal a general-path run given the same change."""
    x, y = data("binary_crossentropy", 1, count=105)  # 84 to train: 9 batches an epoch, the last of 4
    runs = []
    for flag in (None, False):
        net = small_net({"type": "adam"}, "binary_crossentropy", "sigmoid", 1)
        control = TrainingControl()
        control.step(10_000)  # one batch per kernel call, so the change lands on the next batch
        if step == 0:
            control.request_change(regularization={"h1": {"kernel_l2": 0.05}})
        history, events, path = fit(
            net,
            x,
            y,
            flag,
            monkeypatch,
            epochs=3,
            control=control,
            callbacks=[PenaltyAt(control, step)],
            validation_split=0.2,
        )
        runs.append((net, history, events, path))
    (fused, h_fused, e_fused, p_fused), (general, h_general, e_general, _) = runs
    assert p_fused == "general" and fused.model.layers["h1"].params["kernel_l2"] == 0.05
    assert [e[:3] for e in e_fused] == [e[:3] for e in e_general] and len(e_fused) == 3 * 9
    np.testing.assert_allclose([e[3] for e in e_fused], [e[3] for e in e_general], rtol=1e-6)
    for key in h_general:
        np.testing.assert_allclose(h_fused[key], h_general[key], rtol=1e-6)
    for a, b in zip(fused.get_weights(), general.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_model_arrays_are_views_of_flat_buffers_and_optimizer_state_of_slabs():
    net = small_net({"type": "adam"}, "mse", "linear", 1)
    model = net.model
    for _, _, arr in model.weight_entries():
        assert np.shares_memory(arr, model.weight_buffer)
    for g in model.trainable()[1]:
        assert np.shares_memory(g, model.grad_buffer)
    x, y = data("mse", 1)
    net.fit(x, y, epochs=1)
    slabs = net.optimizer.slabs(model.trainable()[0])
    assert set(slabs) == {"m", "v"} and slabs["m"].size == model.weight_buffer.size
    assert np.any(slabs["m"] != 0)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adagrad", "adam", "adamw"])
def test_one_pass_over_flat_buffers_equals_one_pass_per_array(name):
    rng = np.random.default_rng(4)
    shapes = [(5, 3), (3,), (3, 2), (2,)]
    flat = rng.normal(size=sum(int(np.prod(s)) for s in shapes))
    flat_grads = np.empty_like(flat)
    views, grad_views, offset = [], [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        views.append(flat[offset : offset + size].reshape(shape))
        grad_views.append(flat_grads[offset : offset + size].reshape(shape))
        offset += size
    separate = [v.copy() for v in views]
    mask = [True, False, True, False]
    fast, slow = get_optimizer(name), get_optimizer(name)
    for _ in range(4):
        grads = [rng.normal(size=s) for s in shapes]
        for gv, g in zip(grad_views, grads, strict=True):
            gv[...] = g
        fast.step(views, grad_views, 0.01, mask)
        slow.step(separate, [g.copy() for g in grads], 0.01, mask)
        assert (fast._whole(views, grad_views, mask) is not None) == (name != "adamw")
    for a, b in zip(views, separate, strict=True):
        np.testing.assert_array_equal(a, b)
    for key, value in fast.state().items():
        np.testing.assert_array_equal(value, slow.state()[key])


class MonitorProbe(Callback):
    """Runs the monitor's kind of forward/backward on its own batch after every batch."""

    def __init__(self, model, probe):
        self.model, self.probe = model, probe

    def on_batch_end(self, event):
        model = self.model
        out = model.forward(model.prepare_inputs(self.probe), training=False)
        assert model.outputs[model.output_id] is out and out.shape == (len(self.probe), 3)
        model.backward(np.ones_like(out))
        assert all(np.all(np.isfinite(g)) for g in model.trainable()[1])


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("probe_rows", [10, 7])
def test_probe_forward_backward_between_batches_leaves_training_unchanged(probe_rows, lean, monkeypatch):
    """The monitor contract: Model.forward/backward on a probe batch between batches (reused
    workspaces included) changes nothing in training, with the general path's lean Dense-chain
    step or layer by layer; outputs and grads stay per-node arrays."""
    x, y = data("sparse_categorical_crossentropy", 3)
    probe = np.random.default_rng(5).normal(size=(probe_rows, 2))
    results = []
    for with_probe in (False, True):
        if not lean:
            monkeypatch.setattr(DenseChainStep, "plan", classmethod(lambda cls, *args: None))
        net = small_net({"type": "adam"}, "sparse_categorical_crossentropy", "softmax", 3, act="relu")
        callbacks = [MonitorProbe(net.model, probe)] if with_probe else []
        _, _, path = fit(net, x, y, False, monkeypatch, epochs=2, callbacks=callbacks)
        assert path == "general"
        if with_probe or not lean:
            assert net.model.outputs["h0"].shape[1] == 8
        results.append(net.get_weights())
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", [{"type": "sgd", "momentum": 0.9}, {"type": "adam"}])
def test_fused_optimizer_steps_flush_decaying_moments_like_the_general_path(optimizer, dtype):
    """A weight whose gradient has gone to zero (an MNIST border pixel) keeps a moment that
    decays by beta each step. The fused kernels' update must flush it at the constants table's
    threshold, as `Optimizer.step` does: it once read the threshold from the wrong column, and
    Adam's loop over subnormal moments then took a third of a real-MNIST training step."""
    opt = get_optimizer(optimizer["type"], **{k: v for k, v in optimizer.items() if k != "type"})
    weights = np.ones(64, dtype)
    slabs = opt.slabs([weights])
    slots = (slabs["m"], slabs["v"]) if "m" in slabs else (slabs["momentum"], slabs["momentum"][:0])
    table = opt.constants_table(1e-3, 500)
    tiny = float(table[0, -1])
    start = 20 * tiny  # 0.9**n * start drops below tiny after ~29 steps, below the subnormal
    for slot in slots:  # limit after ~190 (float32) or ~390 (float64) without the flush
        slot[:] = start
    code = KS.ADAM if "m" in slabs else KS.SGD
    grads = np.zeros(64, dtype)
    for row in table:
        KS.optimizer_update(weights, grads, *slots, code, False, row)
        magnitude = np.abs(slots[0])
        assert not np.any((magnitude > 0) & (magnitude < tiny))
    assert not slots[0].any()
