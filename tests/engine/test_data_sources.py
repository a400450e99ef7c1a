"""Dataset split/astype, Standardizer, load_data (the network file's "data" section) and the
CLI's --data syntax."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data import Dataset, Standardizer, load_data, parse_data_argument
from engine.errors import ConfigError, DataError
from engine.registry import DATASETS


def small(n: int = 50) -> Dataset:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return Dataset(x=x, y=np.arange(n) % 2, task="classification", n_classes=2, name="small")


# ---------------------------------------------------------------- Dataset
def test_split_is_shuffled_deterministic_and_complete():
    data = small()
    train, val = data.split(0.2, seed=1)
    again_train, again_val = data.split(0.2, seed=1)
    other_train, _ = data.split(0.2, seed=2)
    assert len(train) == 40 and len(val) == 10
    np.testing.assert_array_equal(train.x, again_train.x)
    np.testing.assert_array_equal(val.y, again_val.y)
    assert not np.array_equal(train.x, other_train.x)
    rows = np.concatenate([train.x[:, 0], val.x[:, 0]]) // 3
    np.testing.assert_array_equal(np.sort(rows), np.arange(50))
    assert not np.array_equal(rows[:40], np.arange(40))  # shuffled
    np.testing.assert_array_equal(train.y, (train.x[:, 0] // 3) % 2)  # x and y stay paired
    assert train.n_classes == 2 and val.name == "small"


def test_split_edge_cases():
    data = small(10)
    train, val = data.split(0.0, seed=0)
    assert len(train) == 10 and len(val) == 0 and val.x.shape == (0, 3)
    assert len(data.split(0.01, seed=0)[1]) == 1  # a positive fraction keeps one row at least
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ConfigError, match="val_split"):
            data.split(bad, seed=0)
    with pytest.raises(ConfigError, match="seed"):
        data.split(0.2, seed=-1)


def test_split_uses_the_sources_own_validation_data():
    data = small(10)
    with_val = Dataset(
        x=data.x, y=data.y, task="classification", n_classes=2, x_val=data.x[:4] + 100, y_val=data.y[:4]
    )
    train, val = with_val.split(0.5, seed=0)
    np.testing.assert_array_equal(train.x, data.x)
    np.testing.assert_array_equal(val.x, data.x[:4] + 100)
    assert train.x_val is None and val.x_val is None


def test_astype_casts_features_and_regression_targets_only():
    data = small()
    assert data.astype("float64").x.dtype == np.float64
    assert data.astype("float64").y.dtype == data.y.dtype
    assert data.astype("float32").x is data.x  # no copy when nothing changes
    regression = Dataset(x=data.x, y=np.ones((50, 1), np.float32), task="regression")
    assert regression.astype(np.float64).y.dtype == np.float64
    with pytest.raises(ConfigError, match="float32, float64"):
        data.astype("int32")


def test_inconsistent_datasets_are_refused():
    with pytest.raises(DataError, match="same number of rows"):
        Dataset(x=np.zeros((3, 2)), y=np.zeros(4), task="classification")
    with pytest.raises(DataError, match="task must be one of"):
        Dataset(x=np.zeros((3, 2)), y=np.zeros(3), task="ranking")
    with pytest.raises(DataError, match="given together"):
        Dataset(x=np.zeros((3, 2)), y=np.zeros(3), task="regression", x_val=np.zeros((1, 2)))


# ------------------------------------------------------------ Standardizer
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardizer_round_trip(dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(200, 3)) * [1, 10, 100] + [5, -3, 1000]).astype(dtype)
    x[:, 1] = 7.0  # a constant column gets std 1
    scaler = Standardizer.fit(x)
    z = scaler.transform(x)
    assert z.dtype == dtype and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), [1, 0, 1], atol=1e-4)
    assert scaler.std[1] == 1.0
    np.testing.assert_allclose(scaler.inverse_transform(z), x, rtol=1e-5)
    np.testing.assert_allclose(scaler.transform(x[0]), z[0], rtol=1e-5)  # one sample works too


def test_standardizer_dict_survives_json():
    scaler = Standardizer.fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    doc = json.loads(json.dumps(scaler.to_dict()))
    assert doc == {"mean": [2.0, 20.0], "std": [1.0, 10.0]}
    again = Standardizer.from_dict(doc)
    np.testing.assert_array_equal(again.mean, scaler.mean)
    np.testing.assert_array_equal(again.std, scaler.std)


@pytest.mark.parametrize(
    "doc, words",
    [
        ([1, 2], "expected an object with 'mean' and 'std'"),
        ({"mean": [1.0]}, "expected an object with 'mean' and 'std'"),
        ({"mean": ["a"], "std": [1.0]}, "preprocessing.standardize.mean: expected a list of numbers"),
        ({"mean": [1.0, 2.0], "std": [1.0]}, "mean has shape (2,) but std has shape (1,)"),
        ({"mean": [1.0], "std": [0.0]}, "every std must be above 0"),
    ],
)
def test_standardizer_from_bad_dict(doc, words):
    with pytest.raises(DataError) as info:
        Standardizer.from_dict(doc)
    assert words in str(info.value)


def test_standardizer_checks_the_feature_shape():
    scaler = Standardizer.fit(np.zeros((4, 3)))
    with pytest.raises(DataError, match=r"fitted on features of shape \(3,\) got data of shape \(4, 2\)"):
        scaler.transform(np.zeros((4, 2)))


# -------------------------------------------------------------- load_data
def test_load_data_synthetic_keys():
    config = {"source": "xor", "n": 500, "noise": 0.1, "seed": 0, "val_split": 0.2}
    data = load_data(config)
    np.testing.assert_array_equal(data.x, DATASETS.get("xor").generate(n=500, noise=0.1, seed=0).x)
    with pytest.raises(ConfigError) as info:
        load_data({"source": "xor", "points": 10})
    assert "unknown key(s) points" in str(info.value)
    assert "known: source, val_split, seed, n, noise" in str(info.value)
    with pytest.raises(ConfigError, match="'source' must be one of circle, xor"):
        load_data({"source": "iris"})
    with pytest.raises(ConfigError, match="'source' must be one of"):
        load_data({"n": 5})
    with pytest.raises(ConfigError, match="val_split must be at least 0 and below 1"):
        load_data({"source": "xor", "val_split": 1.5})
    with pytest.raises(ConfigError, match="at least 10"):
        load_data({"source": "xor", "n": 3})


def test_load_data_files_resolve_against_base_dir(tmp_path):
    folder = tmp_path / "nets"
    folder.mkdir()
    (folder / "t.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(10)))
    config = {
        "source": "csv",
        "path": "t.csv",
        "target": "label",
        "features": ["b", "a"],
        "task": "auto",
        "standardize": True,
        "val_split": 0.2,
        "seed": 5,
    }
    data = load_data(config, base_dir=folder, dtype="float64")
    assert data.feature_names == ["b", "a"] and data.x.dtype == np.float64
    train, _ = data.split(0.2, 5)
    np.testing.assert_allclose(data.scaler.mean, train.x.mean(axis=0))  # fitted on these rows
    np.savez(folder / "d.npz", x=np.zeros((4, 2)), y=np.array([0, 1, 1, 0]))
    assert load_data({"source": "npz", "path": "d.npz"}, base_dir=folder).n_classes == 2
    assert len(load_data({"source": "npz", "path": str(folder / "d.npz")})) == 4
    with pytest.raises(
        ConfigError, match="unknown key.* target for source 'npz'; known: source, val_split, seed, path"
    ):
        load_data({"source": "npz", "path": "d.npz", "target": "y"}, base_dir=folder)
    with pytest.raises(ConfigError, match="source 'mnist' needs a 'path'"):
        load_data({"source": "mnist", "path": ""})
    with pytest.raises(DataError, match="MNIST folder not found"):
        load_data({"source": "mnist", "path": "no_such_dir"}, base_dir=folder)
    with pytest.raises(ConfigError, match="standardize expects true or false"):
        load_data({**config, "standardize": "yes"}, base_dir=folder)
    with pytest.raises(ConfigError, match="features must be a list"):
        load_data({**config, "features": "a"}, base_dir=folder)


def test_load_data_with_the_example_files():
    examples = Path(__file__).resolve().parents[2] / "resources" / "examples"
    for path in sorted(examples.glob("*.json")):
        config = json.loads(path.read_text())["data"]
        if config["source"] == "mnist":
            continue  # covered by test_data_files with the real files
        data = load_data(config, base_dir=examples)
        train, val = data.split(config.get("val_split", 0.2), config.get("seed", 0))
        assert len(train) > len(val) > 0, path.name


# ----------------------------------------------------- parse_data_argument
@pytest.mark.parametrize(
    "text, expected",
    [
        ("xor", {"source": "xor"}),
        (" spiral_multiclass ", {"source": "spiral_multiclass"}),
        ("mnist:data/mnist", {"source": "mnist", "path": "data/mnist"}),
        ("mnist", {"source": "mnist"}),
        ("fashion_mnist", {"source": "fashion_mnist"}),
        ("fashion_mnist:clothes", {"source": "fashion_mnist", "path": "clothes"}),
        ("MNIST:C:\\data\\mnist", {"source": "mnist", "path": "C:\\data\\mnist"}),
        ("npz:/tmp/a:b.npz", {"source": "npz", "path": "/tmp/a:b.npz"}),
        ("csv:data.csv", {"source": "csv", "path": "data.csv"}),
        ("csv:data.csv:label", {"source": "csv", "path": "data.csv", "target": "label"}),
        ("csv:C:\\d\\x.csv", {"source": "csv", "path": "C:\\d\\x.csv"}),
        ("csv:C:\\d\\x.csv:species", {"source": "csv", "path": "C:\\d\\x.csv", "target": "species"}),
        ("csv:C:x.csv", {"source": "csv", "path": "C:x.csv"}),
        ("csv:/a/b.csv:", {"source": "csv", "path": "/a/b.csv:"}),
    ],
)
def test_parse_data_argument(text, expected):
    assert parse_data_argument(text) == expected


def test_parse_data_argument_prefers_an_existing_file(tmp_path):
    odd = tmp_path / "odd:name.csv"
    odd.write_text("a,y\n1,2\n")
    assert parse_data_argument(f"csv:{odd}") == {"source": "csv", "path": str(odd)}
    assert parse_data_argument(f"csv:{odd}:y") == {"source": "csv", "path": str(odd), "target": "y"}


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "expected a synthetic set name"),
        ("iris", "unknown data set 'iris'; choose one of circle, xor"),
        ("npz", "'npz' needs a path: npz:PATH"),
        ("csv:", "needs a path"),
        ("hdf5:file.h5", "unknown kind 'hdf5'"),
    ],
)
def test_bad_data_arguments(text, words):
    with pytest.raises(ConfigError) as info:
        parse_data_argument(text)
    assert words in str(info.value)
