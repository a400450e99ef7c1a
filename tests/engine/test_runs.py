"""Runs side by side, engine side: what a Run records (its own epochs, the settings that differ
from the previous run, bounded curves), and how `.ncv` files keep runs (bit-identical round trip,
old files without runs, hostile runs data refused with NetworkFileError)."""

from __future__ import annotations

import copy
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import runs as runs_module
from engine.errors import NetworkFileError
from engine.runs import MAX_RUN_POINTS, GradientNormLog, Run, describe_changes, record_run, settings_of
from engine.training.callbacks import History
from tests.engine.test_io_hostile import members_of as members
from tests.engine.test_io_hostile import npz, repack

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.float32)


def trained_with_runs() -> engine.Network:
    """tiny_3_5_1 trained twice (3 epochs, then 2 at another learning rate), each run recorded."""
    network = engine.load(EXAMPLES / "tiny_3_5_1.json")
    x, y = xor_data()
    runs: list[Run] = []
    for epochs, rate in ((3, 0.01), (2, 0.1)):
        training = copy.deepcopy(network.spec.training)
        training["optimizer"] = {**training["optimizer"], "learning_rate": rate}
        network.spec.training = training
        start = copy.deepcopy(network.history)
        network.fit(x, y, epochs=epochs, batch_size=16, learning_rate=rate)
        log = GradientNormLog(network.history.steps - 8, 4)
        log.add(network.history.steps - 4, {"h": 0.5, "out": None})
        log.add(network.history.steps, {"h": 0.25, "out": 1.5})
        weights = network.model.named_weights()
        runs.append(record_run(runs, network.spec, network.history, start, weights, "finished", log))
    network.runs = runs
    return network


def test_a_run_records_its_own_epochs_and_what_changed():
    network = trained_with_runs()
    first, second = network.runs
    assert (first.name, second.name) == ("Run 1", "Run 2")
    assert first.changes == "first run"
    assert second.changes == "learning rate 0.01 → 0.1"
    assert first.epoch_numbers["loss"] == [0, 1, 2] and second.epoch_numbers["loss"] == [0, 1]
    assert second.epochs["loss"] == network.history.epochs["loss"][3:]
    assert second.metrics["loss"] == network.history.epochs["loss"][-1]
    assert second.grad_epochs == [1.0, 2.0] and second.steps == 2 * 4  # 64 samples, batches of 16
    assert math.isnan(second.grad_norms["out"][0]) and second.grad_norms["out"][1] == 1.5
    assert set(second.weights) == {"h/kernel", "h/bias", "out/kernel", "out/bias"}


def test_changes_name_training_layer_and_data_settings():
    spec = engine.load(EXAMPLES / "vanishing_gradients.json").spec
    before = settings_of(spec)
    after = copy.deepcopy(before)
    after["training"]["optimizer"]["learning_rate"] = 0.1
    hidden = [n for n in after["nodes"] if n["id"].startswith("sigmoid")]
    for node in hidden:
        node["params"]["activation"] = "relu"
    after["nodes"][-1]["params"]["kernel_l2"] = 0.01
    after["data"]["noise"] = 0.3
    assert describe_changes(before, after) == (
        f"learning rate 0.5 → 0.1, activation sigmoid → relu ({len(hidden)} layers), "
        "out kernel l2 0 → 0.01, data noise 0.1 → 0.3"
    )
    assert describe_changes(before, copy.deepcopy(before)) == "same settings"
    after = copy.deepcopy(before)
    after["training"]["optimizer"] = {"type": "adam", "learning_rate": 0.001}
    assert describe_changes(before, after) == "optimizer sgd → adam"


def test_a_long_runs_curves_and_gradient_norms_stay_bounded():
    history = History()
    for epoch in range(3_000):
        history.append_epoch({"loss": 1.0 / (epoch + 1)})
    run = record_run([], engine.load(EXAMPLES / "xor.json").spec, history, History(), {}, "stopped")
    numbers = run.epoch_numbers["loss"]
    assert len(numbers) <= MAX_RUN_POINTS and numbers[-1] == 2_999 and run.epochs["loss"][-1] == 1 / 3_000
    assert numbers == sorted(numbers)
    log = GradientNormLog(0, 10)
    for step in range(5_000):
        log.add(step, {"h": float(step)})
    assert len(log.epochs) <= MAX_RUN_POINTS and log.norms["h"][-1] == 4_999.0 and log.epochs[-1] == 499.9


def test_runs_are_saved_and_reopened_bit_identical(tmp_path):
    network = trained_with_runs()
    network.runs[0].epochs["loss"][1] = math.nan  # a diverged value survives as NaN
    engine.save(network, tmp_path / "runs.ncv")
    loaded = engine.load(tmp_path / "runs.ncv").runs
    assert len(loaded) == 2
    for saved, read in zip(network.runs, loaded, strict=True):
        for name in (
            "name",
            "time",
            "settings",
            "changes",
            "reason",
            "steps",
            "epoch_numbers",
            "grad_epochs",
        ):
            assert getattr(read, name) == getattr(saved, name), name
        for mine, theirs in ((saved.epochs, read.epochs), (saved.grad_norms, read.grad_norms)):
            assert {k: np.array(v).tobytes() for k, v in mine.items()} == {
                k: np.array(v).tobytes() for k, v in theirs.items()
            }
        assert set(read.weights) == set(saved.weights)
        for key, array in saved.weights.items():
            assert read.weights[key].dtype == array.dtype and read.weights[key].tobytes() == array.tobytes()


def test_files_without_runs_load_with_none(tmp_path):
    network = engine.load(EXAMPLES / "xor.json")
    assert network.runs == []
    engine.save(network, tmp_path / "plain.ncv")
    with zipfile.ZipFile(tmp_path / "plain.ncv") as archive:
        assert "runs.json" not in archive.namelist()
    assert engine.load(tmp_path / "plain.ncv").runs == []


def test_the_oldest_runs_are_saved_without_weights_when_they_pass_the_cap(tmp_path, monkeypatch):
    network = trained_with_runs()
    one_run = sum(a.nbytes + 1024 for a in network.runs[1].weights.values())
    monkeypatch.setattr(runs_module, "MAX_RUN_WEIGHT_BYTES", one_run)
    engine.save(network, tmp_path / "capped.ncv")
    first, second = engine.load(tmp_path / "capped.ncv").runs
    assert first.weights is None and set(second.weights) == set(network.runs[1].weights)


def test_a_run_with_weights_not_finite_is_saved_without_them(tmp_path):
    network = trained_with_runs()
    network.runs[0].weights["h/bias"][0] = np.inf
    engine.save(network, tmp_path / "inf.ncv")
    first, second = engine.load(tmp_path / "inf.ncv").runs
    assert first.weights is None and set(second.weights) == set(network.runs[1].weights)


# ------------------------------------------------------------------ hostile
@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, bytes]:
    path = tmp_path_factory.mktemp("runs") / "runs.ncv"
    engine.save(trained_with_runs(), path)
    return members(path)


def _edit_run(key, value):
    def edit(doc):
        doc["runs"][0][key] = value

    return edit


HOSTILE_JSON = [
    (lambda doc: doc.update(runs={"a": 1}), "list of at most"),
    (lambda doc: doc.update(runs=doc["runs"] * 51), "list of at most 100"),
    (_edit_run("name", "x" * 81), "at most 80 characters"),
    (_edit_run("time", 12), "text of at most"),
    (_edit_run("steps", -1), "whole number from 0"),
    (_edit_run("epochs", {"loss": ["0.5"]}), "expected float values"),
    (_edit_run("epochs", {"loss": [0.5] * 600}), "at most 512"),
    (_edit_run("epoch_numbers", {"loss": [0]}), "one whole number per value"),
    (_edit_run("epoch_numbers", {"loss": [0, 1, -2]}), "expected int values"),
    (_edit_run("gradient_norms", {"epochs": [0.0], "layers": {"h": [1.0, 2.0]}}), "must match"),
    (_edit_run("gradient_norms", [1]), "must be an object"),
    (_edit_run("settings", {"nodes": [{"id": "a", "type": "Nope"}], "edges": []}), "Nope"),
    (_edit_run("settings", {"nodes": "x", "edges": []}), "expected nodes, edges"),
    (_edit_run("settings", None), "must be an object"),
    (lambda doc: doc["runs"].__setitem__(0, [1, 2]), "must be an object"),
]


@pytest.mark.parametrize(("edit", "match"), HOSTILE_JSON)
def test_hostile_runs_json_is_refused(saved, tmp_path, edit, match):
    doc = json.loads(saved["runs.json"])
    edit(doc)
    path = repack(tmp_path / "bad.ncv", {**saved, "runs.json": json.dumps(doc).encode()})
    with pytest.raises(NetworkFileError, match=match) as caught:
        engine.load(path)
    assert str(caught.value).startswith("bad.ncv/runs.json")


HOSTILE_NPZ = [
    ({"5/h/kernel": np.zeros((3, 5), np.float32)}, "unexpected array '5/h/kernel'"),
    ({"0/zz/kernel": np.zeros((3, 5), np.float32)}, "unexpected array '0/zz/kernel'"),
    ({"0/h/kernel": np.zeros((3, 5), np.int64)}, "unexpected array"),
    ({"0/h/kernel": np.zeros((1, 1, 1, 1, 1), np.float32)}, "unexpected array"),
    ({"0/h/kernel": np.full((3, 5), np.nan, np.float32)}, "NaN or infinite"),
    ({"0/h/kernel": np.array(["x"])}, "unexpected array"),
]


@pytest.mark.parametrize(("arrays", "match"), HOSTILE_NPZ)
def test_hostile_runs_weights_are_refused(saved, tmp_path, arrays, match):
    path = repack(tmp_path / "bad.ncv", {**saved, "runs.npz": npz(arrays)})
    with pytest.raises(NetworkFileError, match=match):
        engine.load(path)


def test_runs_weights_larger_than_the_cap_are_refused_before_inflating(saved, tmp_path, monkeypatch):
    monkeypatch.setattr("engine.io.MAX_RUN_WEIGHT_BYTES", 1_000)
    path = repack(tmp_path / "big.ncv", saved)
    with pytest.raises(NetworkFileError, match="runs.npz: .* bytes uncompressed; at most 1,000"):
        engine.load(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
RUN_KEYS = [
    "name",
    "time",
    "reason",
    "steps",
    "changes",
    "settings",
    "epochs",
    "epoch_numbers",
    "gradient_norms",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(RUN_KEYS), inner=st.booleans(), value=json_values)
def test_mutated_runs_give_a_network_or_a_network_file_error(saved, tmp_path, key, inner, value):
    doc = json.loads(saved["runs.json"])
    target = doc["runs"][1]
    if inner and isinstance(target[key], dict) and target[key]:
        target[key][sorted(target[key])[0]] = value
    else:
        target[key] = value
    path = repack(tmp_path / "fuzz.ncv", {**saved, "runs.json": json.dumps(doc).encode()})
    try:
        engine.load(path)
    except NetworkFileError as exc:
        assert str(exc).startswith("fuzz.ncv/runs.json") and len(str(exc)) <= 400
