"""The pre-training check: every problem it finds has a fix that trains, and what it passes trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_data
from engine.data.dataset import Dataset
from engine.data_fit import NO_DATA, apply_fit_fix, fit_problems
from engine.errors import DataError
from engine.graph import NetworkSpec
from engine.network import Network
from engine.registry import DATASETS
from engine.training.config import TrainingConfig

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "examples").glob("*.json"))


def _problems(spec: NetworkSpec, dataset) -> list:
    return fit_problems(spec, spec.infer_shapes(), TrainingConfig.from_dict(spec.training), dataset)


def _fix_all(spec: NetworkSpec, dataset) -> list:
    """Take the offered fixes, as a user clicking each fix button would, until none is left."""
    taken = []
    for _ in range(4):
        problems = _problems(spec, dataset)
        if not problems:
            return taken
        assert problems[0].fix is not None, problems[0].message
        apply_fit_fix(spec, problems[0].fix)
        taken.append(problems[0].fix.label)
    raise AssertionError(f"fixes do not converge: {taken}, still {_problems(spec, dataset)}")


def _chain(units: int, activation: str, loss: str) -> NetworkSpec:
    spec = NetworkSpec(training={"loss": loss, "batch_size": 16})
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 8, "activation": "tanh"}, node_id="hidden")
    spec.add_node("Dense", {"units": units, "activation": activation}, node_id="dense_1")
    spec.connect("in", "hidden")
    spec.connect("hidden", "dense_1")
    return spec


def _train_one_epoch(spec: NetworkSpec, dataset) -> None:
    network = Network(spec)
    history = network.fit(dataset.x, dataset.y, epochs=1, batch_size=16)
    assert np.isfinite(history["loss"][-1])


def _is_image_network(example: Path) -> bool:
    doc = json.loads(example.read_text())
    return any(n["type"] == "Input" and len(n["params"]["shape"]) == 3 for n in doc["nodes"])


IMAGE_EXAMPLES = [p for p in EXAMPLES if _is_image_network(p)]
TABLE_EXAMPLES = [p for p in EXAMPLES if not _is_image_network(p)]


def _images(n: int = 48, shape: tuple[int, ...] = (1, 28, 28), classes: int = 3) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(
        x=rng.random((n, *shape)).astype(np.float32),
        y=np.arange(n) % classes,
        task="classification",
        n_classes=classes,
    )


@pytest.mark.parametrize("source", list(DATASETS.names()))
@pytest.mark.parametrize("example", TABLE_EXAMPLES, ids=lambda p: p.stem)
def test_every_example_on_every_synthetic_set_trains_after_the_offered_fixes(example, source):
    spec = NetworkSpec.from_dict(json.loads(example.read_text()))
    spec.data = {"source": source, "n": 64, "seed": 0}
    dataset = load_data(spec.data)
    _fix_all(spec, dataset)
    assert _problems(spec, dataset) == []
    _train_one_epoch(spec, dataset)


@pytest.mark.parametrize("example", IMAGE_EXAMPLES, ids=lambda p: p.stem)
def test_every_image_example_trains_on_other_images_after_the_offered_fixes(example):
    spec = NetworkSpec.from_dict(json.loads(example.read_text()))
    dataset = _images()
    assert _fix_all(spec, dataset) == ["Set 'digits' to 3 units"]
    _train_one_epoch(spec, dataset)
    problem = _problems(spec, load_data({"source": "xor", "n": 32}))[0]
    assert problem.node_id == "image" and problem.fix is None
    assert problem.message == (
        "the data has samples of shape (2,) but Input 'image' expects (1, 28, 28): "
        "this network cannot take such samples; choose other data"
    )


def _image_chain(shape: list[int]) -> NetworkSpec:
    spec = NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "batch_size": 16})
    spec.add_node("Input", {"shape": shape}, node_id="in")
    spec.add_node("Flatten", {}, node_id="flat")
    spec.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    spec.connect("in", "flat")
    spec.connect("flat", "out")
    return spec


@pytest.mark.parametrize("shape", [[1, 28, 28], [28, 28], [784]])
def test_images_go_as_they_are_into_their_own_shape_flat_or_without_the_channel(shape):
    spec = _image_chain(shape)
    assert _problems(spec, _images()) == []
    _train_one_epoch(spec, _images())


def test_images_into_another_image_shape_of_the_same_size_get_one_problem_and_its_fix():
    spec = _image_chain([28, 28, 1])  # channels last: the same 784 values, other pixels
    (problem,) = _problems(spec, _images())
    assert problem.message == (
        "the data has images of shape (1, 28, 28) (channels, height, width) but Input 'in' expects (28, 28, 1)"
    )
    assert problem.fix.label == "Set Input 'in' to shape [1, 28, 28]"
    apply_fit_fix(spec, problem.fix)
    assert _problems(spec, _images()) == []
    (problem,) = _problems(spec, _images(shape=(3, 16, 16)))
    assert problem.fix.node_params == {"in": {"shape": [3, 16, 16]}}


@pytest.mark.parametrize(
    ("units", "activation", "loss", "label"),
    [
        # the case: the old fix set 2 units and left binary cross-entropy, which then failed
        (32, "relu", "binary_crossentropy", "Set 'dense_1' to 1 sigmoid unit"),
        (32, "linear", "mse", "Set 'dense_1' to 1 sigmoid unit and the loss to binary_crossentropy"),
        (2, "softmax", "binary_crossentropy", "Set 'dense_1' to 1 sigmoid unit"),
        (2, "softmax", "categorical_crossentropy", "Set the loss to sparse_categorical_crossentropy"),
        (1, "linear", "binary_crossentropy", "Set 'dense_1' to a sigmoid activation"),
    ],
)
def test_two_classes_get_units_activation_and_loss_together(units, activation, loss, label):
    spec = _chain(units, activation, loss)
    dataset = load_data({"source": "xor", "n": 64})
    problems = _problems(spec, dataset)
    assert [p.fix.label for p in problems] == [label]
    assert problems[0].node_id == "dense_1"
    apply_fit_fix(spec, problems[0].fix)
    assert _problems(spec, dataset) == []
    _train_one_epoch(spec, dataset)


def test_a_loss_target_failure_is_foreseen_with_the_trainers_message():
    spec = _chain(2, "softmax", "categorical_crossentropy")
    dataset = load_data({"source": "circle", "n": 64})
    (problem,) = _problems(spec, dataset)
    with pytest.raises(DataError) as failure:
        Network(spec.copy()).fit(dataset.x, dataset.y, epochs=1)
    # the same rule and words; the check sees the class ids as the data holds them, (N,)
    assert problem.message.split(", got")[0] == str(failure.value).split(", got")[0]
    assert problem.message.endswith("got (64,); integer class ids need sparse_categorical_crossentropy")


def test_three_classes_through_a_separate_activation_layer():
    spec = _chain(8, "relu", "binary_crossentropy")
    spec.add_node("Activation", {"activation": "sigmoid"}, node_id="act")
    spec.connect("dense_1", "act")
    dataset = load_data({"source": "spiral_multiclass", "n": 90, "classes": 3})
    (problem,) = _problems(spec, dataset)
    assert problem.message == "the data has 3 classes but the output 'act' has 8 unit(s)"
    assert problem.fix.node_params == {"dense_1": {"units": 3}, "act": {"activation": "softmax"}}
    apply_fit_fix(spec, problem.fix)
    assert spec.training["loss"] == {"type": "sparse_categorical_crossentropy"}
    _train_one_epoch(spec, dataset)


def test_regression_data_with_a_classification_loss_and_extra_units():
    spec = _chain(4, "softmax", "sparse_categorical_crossentropy")
    spec.training["metrics"] = ["accuracy"]
    dataset = load_data({"source": "plane", "n": 64})
    (problem,) = _problems(spec, dataset)
    assert "continuous targets" in problem.message
    apply_fit_fix(spec, problem.fix)
    out = spec.nodes["dense_1"].params
    assert (out["units"], out["activation"], spec.training["loss"]["type"]) == (1, "linear", "mse")
    assert "metrics" not in spec.training  # the new loss's defaults, not the classifier's accuracy
    spec.set_params("dense_1", {"units": 3})
    (problem,) = _problems(spec, dataset)
    assert (
        problem.message == "the data has 1 target value(s) per sample but the output 'dense_1' has 3 unit(s)"
    )


def test_no_data_chosen_is_a_problem_that_points_to_the_data_tab():
    (problem,) = _problems(_chain(1, "sigmoid", "binary_crossentropy"), None)
    assert problem.message == NO_DATA and "Data tab" in problem.message and problem.fix is None


def test_input_shape_and_several_inputs():
    spec = _chain(1, "sigmoid", "binary_crossentropy")
    dataset = load_data({"source": "sine", "n": 32})
    problems = _problems(spec, dataset)
    assert problems[0].fix.node_params == {"in": {"shape": [1]}}
    spec.add_node("Input", {"shape": [1]}, node_id="in2")
    assert "2 Input layers" in _problems(spec, dataset)[0].message


def test_softmax_over_one_unit_is_a_problem_of_its_node():
    spec = _chain(1, "softmax", "binary_crossentropy")
    report = spec.infer_shapes()
    assert [(p.node_id, p.message) for p in report.problems] == [
        ("dense_1", "Dense 'dense_1': softmax over 1 unit is always 1: use sigmoid")
    ]
    assert report.shapes["dense_1"] == (1,)
    spec.set_params("dense_1", {"activation": "sigmoid"})
    spec.add_node("Activation", {"activation": "softmax"}, node_id="act")
    spec.connect("dense_1", "act")
    assert [p.node_id for p in spec.infer_shapes().problems] == ["act"]


def test_the_cli_train_stops_early_with_the_fix_in_words(tmp_path, capsys):
    from engine.cli.commands import run_cli

    xor = next(p for p in EXAMPLES if p.stem == "xor")
    code = run_cli(
        ["train", str(xor), "--data", "spiral_multiclass", "--epochs", "1", "-o", str(tmp_path / "out.ncv")]
    )
    assert code == 1 and not (tmp_path / "out.ncv").exists()
    assert capsys.readouterr().err.strip() == (
        "error: the data does not fit the network: the data has 3 classes but the output 'out' has "
        "1 unit(s) (fix: set 'out' to 3 softmax units and the loss to sparse_categorical_crossentropy)"
    )


def test_a_problem_of_the_output_layer_itself_is_not_reported_twice():
    spec = _chain(1, "softmax", "binary_crossentropy")
    report = spec.infer_shapes()
    dataset = load_data({"source": "xor", "n": 32})
    assert len(report.problems) == 1
    assert fit_problems(spec, report, TrainingConfig.from_dict(spec.training), dataset) == []
