"""IDX files (the MNIST format) and the MNIST folder loader.

IDX layout: two zero bytes, a type code, the number of dimensions d, then d big-endian uint32
sizes, then the values in big-endian order. Files may be gzip-compressed (recognised by their
first two bytes 1f 8b, whatever the file name says). Files are opened by
`files.open_data_file`: regular files of at most 1 GiB, and at most 1 GiB once unpacked.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from engine.data.dataset import Dataset, check_dtype
from engine.data.files import MAX_IDX_BYTES, open_data_file, size_text
from engine.errors import DataError

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
UNPACK_CHUNK = 1 << 22  # bytes unpacked at a time, so the size limit is checked as they come

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_CLASSES = 10
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it starts with the gzip magic bytes."""
    with open_data_file(path, "IDX", MAX_IDX_BYTES) as handle:
        if handle.peek(2)[:2] != GZIP_MAGIC:
            return handle.read()
        chunks: list[bytes] = []
        total = 0
        try:
            with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
                while chunk := unpacked.read(UNPACK_CHUNK):
                    total += len(chunk)
                    if total > MAX_IDX_BYTES:
                        raise DataError(
                            f"{path}: unpacks to more than the {size_text(MAX_IDX_BYTES)} limit for IDX files"
                        )
                    chunks.append(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: damaged gzip data ({exc})") from None
    return b"".join(chunks)


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (raw or gzip), shape as in its header, native byte order.

    Raises DataError for a wrong magic number, an unknown type code, or a data length that does
    not match the header (truncated or with extra bytes).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(data)} bytes; the header needs 4+)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, "
            f"got {data[:4].hex(' ')}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise DataError(f"{path}: unknown IDX data type code 0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header says 0 dimensions (expected 1 or more)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: truncated header: {ndim} dimensions need {header} bytes, the file has {len(data)}"
        )
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        raise DataError(
            f"{path}: truncated: expected {header + expected} bytes ({header}-byte header + {expected} "
            f"bytes of data for shape {shape}), got {len(data)}"
        )
    if got > expected:
        raise DataError(f"{path}: {got - expected} unexpected bytes after the data of shape {shape}")
    values = np.frombuffer(data, dtype=dtype, offset=header)
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    """`stem` or `stem.gz`, also with the '-idx' spelled '.idx' as some downloads name them."""
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _images_and_labels(
    images_path: Path, labels_path: Path, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected unsigned-byte images of shape (N, rows, cols), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(
            f"{labels_path}: expected unsigned-byte labels of shape (N,), got {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} has {len(images)} images but {labels_path.name} has {len(labels)} labels"
        )
    bad = np.flatnonzero(labels >= MNIST_CLASSES)
    if len(bad):
        raise DataError(
            f"{labels_path}: label {int(labels[bad[0]])} at index {int(bad[0])} is outside "
            f"0..{MNIST_CLASSES - 1} ({len(bad)} such labels)"
        )
    x = images.astype(dtype).reshape(len(images), 1, *images.shape[1:])
    x *= dtype.type(1.0 / 255.0)
    return x, labels.astype(np.int64)


def load_mnist(folder: str | Path, dtype: str = "float32", name: str = "mnist") -> Dataset:
    """MNIST (or, with `name="fashion_mnist"`, Fashion-MNIST: same files, same layout) from a
    folder with the four standard IDX files (raw or .gz).

    Returns x (60000, 1, 28, 28) in [0, 1], y (60000,) int64 in 0..9, and the t10k files as
    x_val (10000, 1, 28, 28) / y_val (10000,); n_classes 10.
    """
    folder = Path(folder)
    resolved_dtype = check_dtype(dtype)
    title = TITLES.get(name, name)
    if not folder.is_dir():
        raise DataError(f"{title} folder not found: {folder}")
    paths = {key: _find(folder, stem) for key, stem in MNIST_FILES.items()}
    missing = [f"{MNIST_FILES[key]}[.gz]" for key, path in paths.items() if path is None]
    if missing:
        raise DataError(f"{title} folder {folder} is missing {', '.join(missing)}")
    x, y = _images_and_labels(paths["train_images"], paths["train_labels"], resolved_dtype)
    x_val, y_val = _images_and_labels(paths["test_images"], paths["test_labels"], resolved_dtype)
    if x_val.shape[1:] != x.shape[1:]:
        raise DataError(
            f"{title} folder {folder}: test images are {x_val.shape[2:]} but training "
            f"images are {x.shape[2:]}"
        )
    classes = FASHION_CLASSES if name == "fashion_mnist" else [str(i) for i in range(MNIST_CLASSES)]
    return Dataset(
        x=x,
        y=y,
        task="classification",
        n_classes=MNIST_CLASSES,
        name=name,
        class_names=list(classes),
        x_val=x_val,
        y_val=y_val,
    )


def load_fashion_mnist(folder: str | Path, dtype: str = "float32") -> Dataset:
    """Fashion-MNIST (Zalando's clothing images, MNIST's file layout) from a folder; see load_mnist."""
    return load_mnist(folder, dtype=dtype, name="fashion_mnist")
