"""Each lesson's claim, checked by training its own network file with the engine (seeds fixed, as
fast as it goes: the files' `pace` is for watching, not for tests). The lessons' "try" entries are
applied as the Lesson panel applies them, so a test also checks that each button does what the
text says."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine.data.sources import load_data
from engine.examples import is_example, lessons_dir
from engine.io import network_from_document
from engine.lessons import list_lessons, read_lesson, width_fits
from engine.losses import get_loss
from engine.network import Network
from engine.registry import LAYERS, resolve_params
from engine.training.config import TrainingConfig
from engine.training.monitor import TrainingMonitor

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"


def lesson_doc(stem: str, tried: str | None = None) -> dict:
    """The lesson's network document at full speed, with its "try" entry `tried` applied."""
    path = LESSONS / f"{stem}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["training"].update(pace=None, until_stopped=False)
    if tried is not None:
        entry = next(e for e in read_lesson(path).tries if e["label"] == tried)
        nodes = {node["id"]: node for node in doc["nodes"]}
        for node_id, params in (entry.get("nodes") or {}).items():
            nodes[node_id]["params"].update(params)
        doc["training"].update(copy.deepcopy(entry.get("training") or {}))
    return doc


def trained(doc: dict) -> tuple[Network, dict[str, list[float]], object, object]:
    """The network of `doc` trained on its data's training part, validated on the rest."""
    network = network_from_document(doc, "lesson")
    data = load_data(doc["data"], base_dir=LESSONS)
    train, val = data.split(doc["data"]["val_split"], doc["data"]["seed"])
    history = network.fit(train.x, train.y, validation_data=(val.x, val.y))
    return network, history, train, val


def gradient_norms(network: Network, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Each layer's weight-gradient norm for the batch (x, y) under binary cross-entropy."""
    model = network.model
    out = model.forward(model.prepare_inputs(x), training=True)
    loss = get_loss("binary_crossentropy")
    model.backward(loss.backward(out, y.reshape(out.shape).astype(out.dtype)))
    return {
        nid: float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in layer.grads.values())))
        for nid, layer in model.layers.items()
        if layer.grads
    }


def test_the_lessons_are_the_bundled_folder_in_order_each_with_its_text():
    lessons = list_lessons()
    assert lessons_dir().resolve() == LESSONS.resolve()
    assert [lesson.path.stem for lesson in lessons] == sorted(p.stem for p in LESSONS.glob("*.json"))
    assert len(lessons) == 11
    for lesson in lessons:
        assert lesson.text.startswith("## ") and "### What to try" in lesson.text, lesson.path.name
        assert is_example(lesson.path)  # opened unmodified, Save asks where
        network = network_from_document(json.loads(lesson.path.read_text()), lesson.name)
        assert network.spec.infer_shapes().problems == [], lesson.name


def test_every_try_entry_names_its_networks_layers_and_valid_settings():
    for lesson in list_lessons():
        doc = json.loads(lesson.path.read_text())
        nodes = {node["id"]: node for node in doc["nodes"]}
        for entry in lesson.tries:
            assert f"**{entry['label']}**" in lesson.text, (lesson.name, entry["label"])
            for node_id, params in (entry.get("nodes") or {}).items():
                node = nodes[node_id]
                resolve_params(LAYERS.get(node["type"]), {**node["params"], **params}, node_id)
            TrainingConfig.from_dict({**doc["training"], **(entry.get("training") or {})})


def test_the_neuron_has_26_parameters():
    assert (
        network_from_document(lesson_doc("01_neuron"), "neuron").count_params() == 26 == 5 * (3 + 1) + 5 + 1
    )


def test_mnist_takes_784_pixels_and_gives_10_probabilities():
    network = network_from_document(lesson_doc("11_mnist"), "mnist")
    assert network.model.input_shape() == (784,) and network.model.output_shape == (10,)
    assert network.model.output_layer.activation.name == "softmax"
    probabilities = network.predict(np.random.default_rng(0).random((3, 784), dtype=np.float32))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_linear_hidden_layer_cannot_cut_the_circle_tanh_and_relu_can():
    accuracy = {
        tried: trained(lesson_doc("04_activations", tried))[1]["val_accuracy"][-1]
        for tried in ("Hidden layers: linear", "Hidden layers: relu", "Hidden layers: tanh")
    }
    assert accuracy["Hidden layers: linear"] < 0.7
    assert accuracy["Hidden layers: relu"] > 0.95 and accuracy["Hidden layers: tanh"] > 0.95


def test_cross_entropy_pushes_a_confidently_wrong_sigmoid_output_mse_hardly():
    z = np.array([[-6.9]])  # p = sigmoid(z) = 0.001, the label is 1
    p = 1.0 / (1.0 + np.exp(-z))
    y = np.ones((1, 1))
    bce = get_loss("binary_crossentropy").backward(p, y) * p * (1 - p)
    mse = get_loss("mse").backward(p, y) * p * (1 - p)
    assert bce.item() == pytest.approx(-1.0, abs=0.01)
    assert abs(mse.item()) < 0.003 and abs(bce.item()) > 300 * abs(mse.item())


def test_learning_rate_too_small_barely_moves_right_converges_too_large_jumps():
    histories = {
        tried: trained(lesson_doc("06_learning_rate", tried))[1]
        for tried in ("Learning rate 0.01", "Learning rate 1.0", "Learning rate 30.0")
    }
    small, right, large = (history["loss"] for history in histories.values())
    assert histories["Learning rate 30.0"]["val_accuracy"][-1] < 0.7  # near chance
    assert small[-1] > 0.95 * small[0]
    assert right[-1] < 0.1
    assert min(large) > 10 * right[-1] and int(np.sum(np.diff(large) > 0)) >= 5  # jumps up, again and again


def test_deep_sigmoid_gradients_vanish_relu_gradients_do_not():
    data = load_data(lesson_doc("07_vanishing_gradients")["data"])
    x, y = data.x[:256], data.y[:256]
    sigmoid = gradient_norms(network_from_document(lesson_doc("07_vanishing_gradients"), "s"), x, y)
    relu = gradient_norms(
        network_from_document(lesson_doc("07_vanishing_gradients", "Hidden layers: relu"), "r"), x, y
    )
    assert sigmoid["sigmoid1"] * 100 <= sigmoid["out"]
    assert relu["sigmoid1"] * 10 > relu["out"]


def test_the_deep_sigmoid_net_stays_flat_for_20_epochs_the_relu_one_learns():
    histories = {}
    for tried in ("Hidden layers: sigmoid", "Hidden layers: relu"):
        doc = lesson_doc("07_vanishing_gradients", tried)
        doc["training"]["epochs"] = 20
        histories[tried] = trained(doc)[1]
    sigmoid, relu = histories.values()
    assert min(sigmoid["loss"]) > 0.69 and max(sigmoid["val_accuracy"]) <= 0.55
    assert relu["loss"][-1] < 0.3 and relu["val_accuracy"][-1] > 0.85


def test_a_large_learning_rate_kills_most_relu_units():
    dead = {}
    for tried in ("Learning rate 3.0", "Learning rate 0.1"):
        network, _history, train, _val = trained(lesson_doc("08_dead_relu", tried))
        layers = TrainingMonitor(network.model, train.x).snapshot(with_surface=False).layers
        fractions = [layer.dead_fraction for layer in layers if layer.dead_fraction is not None]
        dead[tried] = float(np.mean(fractions))
    assert dead["Learning rate 3.0"] >= 0.5
    assert dead["Learning rate 0.1"] <= 0.1


def test_overfitting_then_dropout_and_l2_narrow_the_gap():
    gaps = {}
    for tried in ("Neither", "Dropout 0.5", "L2 0.01"):
        network, history, train, val = trained(lesson_doc("09_overfitting", tried))
        if tried == "Neither":
            assert history["loss"][-1] < 0.1 * history["loss"][0]  # train falls
            best = int(np.argmin(history["val_loss"]))
            assert best < 30 and history["val_loss"][-1] > 2 * history["val_loss"][best]  # val rises
        gaps[tried] = network.evaluate(val.x, val.y)["loss"] - network.evaluate(train.x, train.y)["loss"]
    assert gaps["Dropout 0.5"] < 0.5 * gaps["Neither"]
    assert gaps["L2 0.01"] < 0.5 * gaps["Dropout 0.5"]  # "and even more with L2"


def test_the_sine_needs_more_than_one_unit():
    lesson = read_lesson(LESSONS / "10_universal_approximation.json")
    seen = []
    fits = width_fits(
        lesson.path, lesson.fits["node"], lesson.fits["units"], on_data=lambda x, y: seen.append(x)
    )
    errors = {fit.units: fit.val_mse for fit in fits}
    assert list(errors) == [1, 2, 4, 8, 16] and len(seen) == 1
    assert errors[1] > 0.1 and errors[16] < 0.01
    assert all(fit.prediction.shape == fit.xs.shape == (200,) for fit in fits)
