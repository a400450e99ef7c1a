"""CSV and NPZ loaders: good tables load; every bad one is a DataError naming file, line, column."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_csv, load_npz
from engine.errors import ConfigError, DataError


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -------------------------------------------------------------------- CSV
def test_text_labels_become_sorted_classes(tmp_path):
    path = write(tmp_path, "age,height,kind\n30,1.80,dog\n4,0.5,cat\n12,1.1,bird\n7,0.9,cat\n")
    data = load_csv(path, standardize=False)
    assert data.task == "classification" and data.n_classes == 3
    assert data.class_names == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(data.y, [2, 1, 0, 1])
    assert data.y.dtype == np.int64 and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, [[30, 1.8], [4, 0.5], [12, 1.1], [7, 0.9]], rtol=1e-6)
    assert data.feature_names == ["age", "height"] and data.name == "data" and data.scaler is None


def test_target_features_and_quoting(tmp_path):
    path = write(tmp_path, 'label,"a, b",c,unused\n"yes",1,2,x\nno, 3 ,4,y\n')
    data = load_csv(path, target="label", features=["c", "a, b"], standardize=False)
    assert data.feature_names == ["c", "a, b"] and data.class_names == ["no", "yes"]
    np.testing.assert_array_equal(data.x, [[2, 1], [4, 3]])
    np.testing.assert_array_equal(data.y, [1, 0])


def test_integer_and_float_targets(tmp_path):
    ints = load_csv(write(tmp_path, "a,b\n1,10\n2,2\n3,10\n4,0\n"), standardize=False)
    assert ints.task == "classification" and ints.class_names == ["0", "2", "10"]  # numeric order
    np.testing.assert_array_equal(ints.y, [2, 1, 2, 0])
    floats = load_csv(write(tmp_path, "a,b\n1,0.5\n2,1.5\n3,2\n", "f.csv"), standardize=False)
    assert floats.task == "regression" and floats.n_classes is None
    assert floats.y.shape == (3, 1) and floats.y.dtype == np.float32
    many = "a,b\n" + "".join(f"{i},{i * 3}\n" for i in range(30))  # 30 distinct whole numbers
    assert load_csv(write(tmp_path, many, "m.csv")).task == "regression"
    forced = load_csv(write(tmp_path, many, "m.csv"), task="classification")
    assert forced.n_classes == 30
    assert load_csv(write(tmp_path, "a,b\n1,0\n2,1\n", "r.csv"), task="regression").y.shape == (2, 1)


def test_standardizer_is_fitted_on_training_rows_only(tmp_path):
    rows = "".join(f"{i},{i * i},{i % 2}\n" for i in range(20))
    path = write(tmp_path, "a,b,t\n" + rows)
    data = load_csv(path, val_split=0.25, seed=4)
    train, val = data.split(0.25, seed=4)
    assert len(train) == 15 and len(val) == 5
    np.testing.assert_allclose(data.scaler.mean, train.x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(data.scaler.std, train.x.std(axis=0), rtol=1e-6)
    z = data.scaler.transform(train.x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    assert z.dtype == np.float32
    assert not np.allclose(data.scaler.mean, data.x.mean(axis=0))  # the validation rows were left out


def test_bom_semicolons_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffx;y;class\r\n1;2;a\r\n\r\n3;4;b\r\n;;\r\n".encode())
    data = load_csv(path, standardize=False)
    assert data.feature_names == ["x", "y"] and data.class_names == ["a", "b"] and len(data) == 2


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "age,y\n" + "1,0\n" * 15 + "abc,1\n",
            ["data.csv line 17, column 'age': expected a number, got 'abc'"],
        ),
        ("a,b,y\n1,2,0\n3,4\n", ["data.csv line 3", "expected 3 values", "got 2"]),
        ("a,b,y\n1,2,0\n3,4,5,6\n", ["data.csv line 3", "expected 3 values", "got 4"]),
        ("", ["data.csv is empty"]),
        ("\n\n", ["data.csv is empty"]),
        ("a,b,y\n", ["data.csv has a header row but no data rows"]),
        ("a,b,y\n1,,0\n", ["data.csv line 2, column 'b': empty cell"]),
        ("a,b,y\n1,2,\n", ["data.csv line 2, column 'y': empty cell"]),
        ("a,b,y\n1,nan,0\n", ["data.csv line 2, column 'b': expected a finite number, got 'nan'"]),
        ('a,b,y\n1,2,"two\nlines"\n5,x,1\n', ["data.csv line 4, column 'b'", "got 'x'"]),  # quoted newline
        ("a,a,y\n1,2,0\n", ["column name 'a' appears twice"]),
        ("y\n1\n", ["no feature columns"]),
    ],
)
def test_bad_csv_files(tmp_path, text, words):
    with pytest.raises(DataError) as info:
        load_csv(write(tmp_path, text))
    for word in words:
        assert word in str(info.value)


def test_missing_target_or_feature_lists_the_columns(tmp_path):
    path = write(tmp_path, "age,height,label\n1,2,a\n")
    with pytest.raises(DataError, match="no target column 'kind'; the columns are: age, height, label"):
        load_csv(path, target="kind")
    with pytest.raises(DataError, match="no feature column.* weight; the columns are: age, height, label"):
        load_csv(path, features=["age", "weight"])
    with pytest.raises(DataError, match="both the target and a feature"):
        load_csv(path, target="age", features=["age"])


def test_regression_target_must_be_numeric(tmp_path):
    path = write(tmp_path, "a,y\n1,2.5\n2,high\n")
    with pytest.raises(DataError, match="data.csv line 3, column 'y': expected a finite number"):
        load_csv(path, task="regression")


def test_bad_options_and_missing_file(tmp_path):
    path = write(tmp_path, "a,y\n1,2\n")
    with pytest.raises(ConfigError, match="task must be one of auto, classification, regression"):
        load_csv(path, task="clustering")
    with pytest.raises(DataError, match="missing.csv: file not found"):
        load_csv(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,y\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv: not UTF-8 text"):
        load_csv(latin)


def test_the_example_csv_loads():
    example = Path(__file__).resolve().parents[2] / "resources" / "examples" / "sphere_3d.csv"
    data = load_csv(example, target="region")
    assert data.x.shape == (400, 3) and data.class_names == ["inside", "outside"]
    assert data.scaler is not None and data.scaler.mean.shape == (3,)


# -------------------------------------------------------------------- NPZ
def test_npz_classification_and_regression(tmp_path):
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(20, 4, 2)), rng.integers(0, 3, 20)
    np.savez(tmp_path / "c.npz", x=x, y=labels, x_val=x[:5], y_val=labels[:5], note=np.arange(2))
    data = load_npz(tmp_path / "c.npz")
    assert data.task == "classification" and data.n_classes == labels.max() + 1
    # (N, H, W) is one channel of images: (N, 1, H, W)
    assert data.x.shape == (20, 1, 4, 2) and data.x.dtype == np.float32 and data.y.dtype == np.int64
    assert data.x_val.shape == (5, 1, 4, 2)
    np.savez(tmp_path / "r.npz", x=x[:, :, 0], y=x[:, 0, 1])
    reg = load_npz(tmp_path / "r.npz", dtype="float64")
    assert reg.task == "regression" and reg.y.shape == (20, 1) and reg.y.dtype == np.float64
    assert reg.x_val is None


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"x": np.array([[1], "a"], dtype=object), "y": np.zeros(2)}, ["array 'x' holds Python objects"]),
        (
            {"features": np.zeros((3, 2)), "labels": np.zeros(3)},
            ["missing array(s) 'x', 'y'", "the archive holds: features, labels"],
        ),
        ({"x": np.zeros((3, 2)), "y": np.zeros(4)}, ["'x' has 3 rows but 'y' has 4"]),
        ({"x": np.array([["a", "b"]]), "y": np.zeros(1)}, ["array 'x' must be numeric, got dtype <U1"]),
        ({"x": np.zeros((2, 2)), "y": np.array([0, -1])}, ["class id -1"]),
        ({"x": np.zeros((2, 2)), "y": np.zeros(2), "x_val": np.zeros((1, 2))}, ["stored together"]),
        (
            {"x": np.zeros((2, 2)), "y": np.zeros(2), "x_val": np.zeros((1, 3)), "y_val": np.zeros(1)},
            ["'x_val' samples have shape (3,)"],
        ),
        ({"x": np.array([[np.nan, 1.0]]), "y": np.zeros(1)}, ["NaN or infinite"]),
    ],
)
def test_bad_npz_files(tmp_path, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load_npz(path)
    assert "bad.npz" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_corrupt_npz_files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(DataError, match="garbage.npz: not a readable .npz archive"):
        load_npz(garbage)
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((1000, 10)), y=np.zeros(1000))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(DataError, match="cut.npz"):
        load_npz(cut)
    damaged = tmp_path / "damaged.npz"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info)[:50])  # a member cut short inside the zip
    with pytest.raises(DataError, match="damaged.npz: array 'x' is damaged"):
        load_npz(damaged)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(DataError, match="got a single .npy array"):
        load_npz(single)
    with pytest.raises(DataError, match="none.npz: file not found"):
        load_npz(tmp_path / "none.npz")
