"""File loaders: IDX/MNIST, CSV and NPZ; good files load, every bad one is a precise DataError."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_mnist, read_idx
from engine.errors import DataError

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


# ------------------------------------------------------------------- IDX
def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian).tobytes()


def write_idx(path: Path, array: np.ndarray, code: int = 0x08, compress: bool = False) -> Path:
    data = idx_bytes(array, code)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize(
    "code, dtype",
    [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ],
)
def test_read_idx_every_type_raw_and_gzip(tmp_path, code, dtype):
    array = (np.arange(24).reshape(2, 3, 4) * (1 if dtype == np.uint8 else -3)).astype(dtype)
    raw = read_idx(write_idx(tmp_path / "a.idx", array, code))
    packed = read_idx(write_idx(tmp_path / "b.idx.gz", array, code, compress=True))
    for result in (raw, packed):
        assert result.dtype == dtype and result.dtype.isnative and result.shape == (2, 3, 4)
        np.testing.assert_array_equal(result, array)
        assert result.flags.writeable


def test_gzip_is_detected_by_content_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    disguised = write_idx(tmp_path / "labels-idx1-ubyte", array, compress=True)
    np.testing.assert_array_equal(read_idx(disguised), array)
    plain = write_idx(tmp_path / "labels-idx1-ubyte.gz", array)  # not compressed despite .gz
    np.testing.assert_array_equal(read_idx(plain), array)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", ["not an IDX file", "two zero bytes"]),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x05", ["unknown IDX data type code 0x0A"]),
        (b"\x00\x00\x08\x00", ["0 dimensions"]),
        (b"\x00\x00\x08\x03\x00\x00", ["truncated header"]),
        (b"\x00\x00", ["too short"]),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02\x05\x06\x07", ["1 unexpected bytes after the data"]),
    ],
)
def test_bad_idx_headers(tmp_path, data, words):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert "bad.idx" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_truncated_idx_names_expected_and_received_bytes(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header + bytes(1000 - len(header)))
    with pytest.raises(DataError, match=r"truncated: expected 47040016 bytes .* got 1000"):
        read_idx(path)
    gz = tmp_path / "images.gz"
    gz.write_bytes(gzip.compress(header + bytes(500)))
    with pytest.raises(DataError, match=r"images.gz: truncated"):
        read_idx(gz)


def test_damaged_gzip_and_missing_file(tmp_path):
    damaged = tmp_path / "damaged.gz"
    damaged.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))[:40])
    with pytest.raises(DataError, match="damaged.gz: damaged gzip data"):
        read_idx(damaged)
    with pytest.raises(DataError, match="nothing.idx: file not found"):
        read_idx(tmp_path / "nothing.idx")


# ------------------------------------------------------------------ MNIST
def write_mnist(
    folder: Path,
    n_train: int = 6,
    n_test: int = 4,
    compress: bool = True,
    train_labels: np.ndarray | None = None,
) -> Path:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        if prefix == "train" and train_labels is not None:
            labels = train_labels
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
    return folder


@pytest.mark.parametrize("compress", [True, False])
def test_small_mnist_folder(tmp_path, compress):
    data = load_mnist(write_mnist(tmp_path / "m", compress=compress))
    assert data.x.shape == (6, 1, 28, 28) and data.x.dtype == np.float32
    assert data.x_val.shape == (4, 1, 28, 28) and data.y_val.dtype == np.int64
    assert data.x.min() >= 0.0 and data.x.max() <= 1.0 and data.x.max() > 0.99
    np.testing.assert_array_equal(data.y, [0, 1, 2, 3, 4, 5])
    assert data.n_classes == 10 and data.task == "classification"
    train, val = data.split(0.5, seed=0)
    assert len(train) == 6 and len(val) == 4  # the t10k files are the validation part
    assert load_mnist(tmp_path / "m", dtype="float64").x.dtype == np.float64


def test_mnist_label_out_of_range(tmp_path):
    folder = write_mnist(tmp_path / "m", train_labels=np.array([0, 1, 2, 12, 4, 5], dtype=np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: label 12 at index 3 is outside 0..9"):
        load_mnist(folder)


def test_mnist_count_mismatch_and_missing_files(tmp_path):
    folder = write_mnist(tmp_path / "m")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), compress=True)
    with pytest.raises(
        DataError, match="t10k-images-idx3-ubyte.gz has 4 images but t10k-labels-idx1-ubyte.gz has 3"
    ):
        load_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_mnist(folder)
    assert "missing" in str(info.value)
    assert "train-images-idx3-ubyte" in str(info.value) and "t10k-labels-idx1-ubyte" in str(info.value)
    with pytest.raises(DataError, match="MNIST folder not found"):
        load_mnist(tmp_path / "nowhere")


def test_mnist_images_must_be_three_dimensional_bytes(tmp_path):
    folder = write_mnist(tmp_path / "m")
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((6, 784), dtype=np.uint8), compress=True)
    with pytest.raises(DataError, match=r"expected unsigned-byte images of shape \(N, rows, cols\)"):
        load_mnist(folder)


def test_real_mnist_files():
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found at {MNIST}")
    data = load_mnist(MNIST)
    assert data.x.shape == (60000, 1, 28, 28) and data.y.shape == (60000,)
    assert data.x_val.shape == (10000, 1, 28, 28) and data.y_val.shape == (10000,)
    assert data.y.min() == 0 and data.y.max() == 9 and data.y_val.min() == 0 and data.y_val.max() == 9
    assert np.all(np.bincount(data.y) > 5000)
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    np.testing.assert_array_equal(data.y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
