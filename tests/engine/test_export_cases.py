"""The networks every exporter test runs on: each example network (briefly trained) and random
DAGs that use every layer type and every activation of the registry. Also checks that coverage."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engine
from engine.data import Standardizer, load_data
from engine.errors import ConfigError
from engine.export import EXPORT_FORMATS, check_export, exportable_layers, python_names
from engine.registry import ACTIVATIONS, LAYERS

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.json"))
DAG_SEEDS = (0, 1, 2)
CASES = [*EXAMPLES, *(f"dag{s}" for s in DAG_SEEDS), "dag_standardized"]
TOLERANCE = 1e-5  # float32, max abs difference


@cache
def example_network(name: str) -> engine.Network:
    """An example network after a short fit on (part of) its own data, so weights are not trivial."""
    path = EXAMPLES_DIR / name
    network = engine.load(path)
    try:
        data = load_data(network.spec.data, base_dir=path.parent, dtype=network.training.dtype)
    except engine.NetCanvasError:  # e.g. MNIST not downloaded: keep the seeded initial weights
        return network
    if data.scaler is not None:
        network.scaler = data.scaler
    count = min(len(data), 1000)
    network.fit(data.x[:count], data.y[:count], epochs=2)
    return network


def every_layer_dag(seed: int, standardize: bool = False) -> engine.Network:
    """A random DAG with two Inputs using every layer type and every activation, random weights
    and BatchNormalization statistics (inference uses them)."""
    rng = np.random.default_rng(seed)
    acts = ACTIVATIONS.names()
    units = int(rng.integers(3, 7))
    spec = engine.NetworkSpec(training={"loss": "sparse_categorical_crossentropy", "seed": seed})
    add = spec.add_node
    add("Input", {"shape": [6]}, node_id="x")
    add("Input", {"shape": [2, 3, 4]}, node_id="image-in")
    add("Dense", {"units": units, "activation": str(rng.choice(acts))}, node_id="d1")
    add("BatchNormalization", {"epsilon": 0.01, "center": bool(seed % 2)}, node_id="bn1")
    spec.connect("x", "d1")
    spec.connect("d1", "bn1")
    for name in acts:
        alpha = {"alpha": 0.2} if name in ("leaky_relu", "elu") else {}
        add("Activation", {"activation": name, **alpha}, node_id=f"act_{name}")
        spec.connect("bn1", f"act_{name}")
    add("Concatenate", {"axis": -1}, node_id="all_acts")
    for name in acts:
        spec.connect(f"act_{name}", "all_acts")
    add(
        "Dense",
        {"units": units, "activation": str(rng.choice(acts)), "use_bias": False, "kernel_l2": 0.01},
        node_id="d3",
    )
    spec.connect("all_acts", "d3")
    add("BatchNormalization", {"scale": bool(seed % 2 == 0)}, node_id="bn_img")
    add("Reshape", {"target_shape": [6, 4]}, node_id="r1")
    add("Reshape", {"target_shape": [6, 4]}, node_id="r2")
    add("Concatenate", {"axis": 0}, node_id="stack")
    conv = {"filters": 2, "kernel_size": [3, 2], "padding": "same"}  # pads: top 1, left 0, bottom 1, right 1
    add("Conv2D", {**conv, "activation": str(rng.choice(acts))}, node_id="conv2d")
    add("Reshape", {"target_shape": [6, 4]}, node_id="r_signal")
    add(
        "Conv1D",
        {"filters": 2, "kernel_size": [3], "dilation_rate": [2], "padding": "same"},
        node_id="conv1d",
    )
    add("Flatten", {}, node_id="flat")
    add("Dropout", {"rate": 0.3}, node_id="drop")
    add("Dense", {"units": units, "activation": str(rng.choice(acts))}, node_id="d2")
    for a, b in (
        ("image-in", "bn_img"),
        ("bn_img", "r1"),
        ("image-in", "r2"),
        ("r1", "stack"),
        ("r2", "stack"),
        ("image-in", "conv2d"),
        ("conv2d", "r_signal"),
        ("r_signal", "conv1d"),
        ("conv1d", "stack"),
        ("stack", "flat"),
        ("flat", "drop"),
        ("drop", "d2"),
    ):
        spec.connect(a, b)
    # Padding and pooling on the image; each "same" here has stride 1, which ONNX import reads back.
    add("ZeroPadding2D", {"padding": "0, 1, 1, 0"}, node_id="pad")  # (2, 4, 5)
    add("MaxPooling2D", {"pool_size": [3], "strides": [1], "padding": "same"}, node_id="max2d")
    add("AveragePooling2D", {"pool_size": [2, 3], "strides": [1], "padding": "same"}, node_id="avg2d")
    add("AveragePooling2D", {"pool_size": [2]}, node_id="avg_valid")  # (2, 2, 2)
    add("GlobalAveragePooling2D", {}, node_id="gap")
    add("GlobalMaxPooling2D", {}, node_id="gmp")
    add("MaxPooling1D", {"pool_size": [3], "strides": [2]}, node_id="max1d")  # (6, 4) -> (6, 1)
    add("Flatten", {}, node_id="flat1d")
    add("Concatenate", {"axis": -1}, node_id="pooled")
    add("Dense", {"units": units}, node_id="d_pool")
    for a, b in (
        ("image-in", "pad"),
        ("pad", "max2d"),
        ("max2d", "avg2d"),
        ("avg2d", "avg_valid"),
        ("avg_valid", "gap"),
        ("max2d", "gmp"),
        ("r1", "max1d"),
        ("max1d", "flat1d"),
        ("gap", "pooled"),
        ("gmp", "pooled"),
        ("flat1d", "pooled"),
        ("pooled", "d_pool"),
    ):
        spec.connect(a, b)
    add("Add", {}, node_id="sum")
    for src in ("bn1", "d2", "d3", "d_pool"):
        spec.connect(src, "sum")
    add("Dense", {"units": 3, "activation": "softmax"}, node_id="class")
    spec.connect("sum", "class")
    network = engine.Network(spec)
    for layer in network.model.layers.values():
        for key, array in layer.weights.items():
            if key == "moving_variance":
                array[...] = rng.uniform(0.5, 2.0, array.shape)
            elif key != "kernel":
                array[...] = rng.normal(0, 0.5, array.shape)
    if standardize:
        network.scaler = Standardizer(rng.normal(0, 2, 6), rng.uniform(0.5, 3, 6))
    return network


def dag_standardized_single_input() -> engine.Network:
    """A one-Input DAG with feature standardization (exporters fold the scaler in)."""
    spec = engine.NetworkSpec(training={"loss": "mse"})
    spec.add_node("Input", {"shape": [4]}, node_id="in")
    spec.add_node("Dense", {"units": 5, "activation": "gelu"}, node_id="a")
    spec.add_node("Dense", {"units": 5, "activation": "silu"}, node_id="b")
    spec.add_node("Add", {}, node_id="join")
    spec.add_node("Dense", {"units": 2}, node_id="out")
    for a, b in (("in", "a"), ("in", "b"), ("a", "join"), ("b", "join"), ("join", "out")):
        spec.connect(a, b)
    network = engine.Network(spec)
    rng = np.random.default_rng(7)
    network.scaler = Standardizer(rng.normal(0, 2, 4), rng.uniform(0.5, 3, 4))
    return network


def network_for(case: str) -> engine.Network:
    if case.endswith(".json"):
        return example_network(case)
    if case == "dag_standardized":
        return dag_standardized_single_input()
    return every_layer_dag(int(case.removeprefix("dag")))


def random_inputs(network: engine.Network, count: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw float32 inputs by Input id (values spread like standardized data, or like the raw
    features when the network standardizes)."""
    rng = np.random.default_rng(seed)
    model = network.model
    arrays = {}
    for nid in model.input_ids:
        x = rng.normal(0, 1.5, (count, *model.shapes[nid])).astype(np.float32)
        if network.scaler is not None and nid == model.input_ids[0]:
            x = (x * network.scaler.std + network.scaler.mean).astype(np.float32)
        arrays[nid] = x
    return arrays


def predict(network: engine.Network, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Network.predict on inputs by id (one array for a single Input: Network.predict applies
    a scaler to array input only)."""
    return network.predict(inputs if len(inputs) > 1 else next(iter(inputs.values())))


def load_module(path: Path, name: str) -> ModuleType:
    """Import a generated Python file under a unique module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ tests
def test_the_dags_use_every_layer_type_and_activation():
    network = every_layer_dag(0)
    types = {node.type for node in network.spec.nodes.values()}
    assert types == set(LAYERS.names())
    for fmt in EXPORT_FORMATS:
        assert set(exportable_layers(fmt)) == types, fmt
    used = {node.params.get("activation") for node in network.spec.nodes.values()}
    assert set(ACTIVATIONS.names()) <= used
    assert len(predict(network, random_inputs(network, 4))) == 4


def test_check_export_names_unknown_formats():
    with pytest.raises(ConfigError, match="unknown export format 'tflite'; choose one of onnx"):
        check_export(every_layer_dag(0), "tflite")


def test_python_names_are_valid_unique_identifiers():
    names = python_names(["in", "hidden-1", "hidden_1", "1st", "self", "a.b"])
    assert names == {
        "in": "in_",
        "hidden-1": "hidden_1",
        "hidden_1": "hidden_1_2",
        "1st": "_1st",
        "self": "self_",
        "a.b": "a_b",
    }
