"""The data a NetCanvas network file names, read without NetCanvas (NumPy only).

Copied verbatim into every PyTorch export (as data_sources.py next to train.py). It reproduces
NetCanvas's own loaders exactly (the tests compare both): the synthetic sets are generated with
the same formulas and random draws (TensorFlow Playground's generators, coordinates divided by 6),
MNIST and Fashion-MNIST from a folder of IDX files (raw or .gz), NPZ archives with x / y (and
x_val / y_val), CSV tables with a header row, and folders of PNG images in one sub-folder per
class (these need Pillow). The train/validation split is NetCanvas's too.

    data = load(config, dtype="float32")   # config: the file's "data" section, every key filled
    data.x, data.y, data.x_val, data.y_val, data.mean, data.std
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCALE = 6.0  # Playground's half-width; coordinates are divided by it
MAX_AUTO_CLASSES = 20  # CSV: whole-number targets with at most this many values are classes


@dataclass
class Data:
    """Training and validation arrays; `mean`/`std` when the source standardizes (CSV)."""

    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "classification" (y: int64 class ids) or "regression" (y: (N, k) floats)
    mean: np.ndarray | None = None
    std: np.ndarray | None = None


# ----------------------------------------------------------------------- synthetic sets
def _counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def circle(rng, n, noise):
    radius = 5.0
    inner, outer = _counts(n, 2)
    r = np.concatenate([rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, outer)])
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    shifted = x + rng.uniform(-radius, radius, (n, 2)) * noise
    return x / SCALE, np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5


def xor(rng, n, noise):
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + rng.uniform(-5, 5, (n, 2)) * noise
    return x / SCALE, shifted[:, 0] * shifted[:, 1] >= 0


def gauss(rng, n, noise):
    std = np.sqrt(0.5 + (4.0 - 0.5) * noise / 0.5)
    positive, negative = _counts(n, 2)
    x = np.concatenate([rng.normal(2.0, std, (positive, 2)), rng.normal(-2.0, std, (negative, 2))])
    return x / SCALE, np.arange(n) < positive


def _spiral_arms(rng, n, k, noise):
    xs, arms = [], []
    for arm, count in enumerate(_counts(n, k)):
        i = np.arange(count) / count
        r = i * 5.0
        t = 1.75 * i * 2 * np.pi + 2 * np.pi * arm / k
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        arms.append(np.full(count, arm))
    x = np.concatenate(xs) + rng.uniform(-1, 1, (n, 2)) * noise
    return x / SCALE, np.concatenate(arms)


def spiral(rng, n, noise):
    x, arm = _spiral_arms(rng, n, 2, noise)
    return x, arm == 0


def spiral_multiclass(rng, n, noise, classes):
    return _spiral_arms(rng, n, classes, noise)


def plane(rng, n, noise):
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    return x / SCALE, (shifted[:, 0] + shifted[:, 1]) / 10.0


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def gauss_surface(rng, n, noise):
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    dist = np.hypot(shifted[:, None, 0] - _BUMPS[:, 0], shifted[:, None, 1] - _BUMPS[:, 1])
    values = _BUMPS[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)
    strongest = np.argmax(np.abs(values), axis=1)
    return x / SCALE, values[np.arange(n), strongest]


def sine(rng, n, noise):
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x[:, 0]) + rng.normal(0.0, 1.0, n) * noise


SYNTHETIC = {
    "circle": (circle, "classification"),
    "xor": (xor, "classification"),
    "gauss": (gauss, "classification"),
    "spiral": (spiral, "classification"),
    "spiral_multiclass": (spiral_multiclass, "classification"),
    "plane": (plane, "regression"),
    "gauss_surface": (gauss_surface, "regression"),
    "sine": (sine, "regression"),
}


def synthetic(name: str, params: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """(x float32 (n, 2) or (n, 1), y, task) of a synthetic set; `params` has every parameter."""
    generator, task = SYNTHETIC[name]
    params = dict(params)
    rng = np.random.default_rng(params.pop("seed"))
    x, y = generator(rng, **params)
    order = rng.permutation(len(x))
    x = np.ascontiguousarray(x[order], dtype=np.float32)
    y = y[order].astype(np.int64) if task == "classification" else y[order].astype(np.float32).reshape(-1, 1)
    return x, y, task


# ---------------------------------------------------------------------------------- files
def read_idx(path: Path) -> np.ndarray:
    """The array of an IDX file (raw or gzip-compressed)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(types[raw[2]])
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).astype(dtype.newbyteorder("=")).reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path:
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"MNIST folder {folder} has no {stem}[.gz]")


def mnist(folder: Path, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """(x, y, x_val, y_val): images (N, 1, 28, 28) scaled to [0, 1], labels int64; t10k = validation."""
    arrays = []
    for prefix in ("train", "t10k"):
        images = read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"))
        x = images.astype(dtype).reshape(len(images), 1, *images.shape[1:])
        x *= dtype.type(1.0 / 255.0)
        arrays += [x, labels.astype(np.int64)]
    return tuple(arrays)


def image_folder(folder: Path, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): PNG images (N, C, H, W) in [0, 1] and class ids, one sub-folder per class in sorted
    order (names starting with '.' left out); C is 1 when every image is grayscale, else 3 (RGB,
    alpha dropped); 16-bit grayscale is scaled by 65535."""
    try:
        from PIL import Image
    except ImportError:
        raise SystemExit("this network's data is a folder of PNG images: pip install Pillow") from None
    classes = sorted(e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith("."))
    files = [
        (path, label)
        for label, name in enumerate(classes)
        for path in sorted((folder / name).iterdir(), key=lambda p: p.name)
        if path.name.lower().endswith(".png") and not path.name.startswith(".")
    ]
    gray_modes = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L")
    with_modes = []
    for path, _ in files:
        with Image.open(path) as image:
            with_modes.append(image.mode in gray_modes)
    channels = 1 if all(with_modes) else 3
    x = []
    for path, _ in files:
        with Image.open(path) as image:
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                values = np.asarray(image, dtype=np.float64) / 65535.0
            else:
                values = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float64) / 255.0
        values = values[None] if values.ndim == 2 else values.transpose(2, 0, 1)
        x.append(np.repeat(values, channels, axis=0) if len(values) != channels else values)
    return np.stack(x).astype(dtype), np.array([label for _, label in files], dtype=np.int64)


def npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays x, y (and x_val, y_val when present) of an .npz archive, without pickle."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in ("x", "y", "x_val", "y_val") if key in archive.files}


def npz_samples(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """x as NetCanvas takes it: 1-D as (N, 1), (N, H, W) images as one channel (N, 1, H, W),
    uint8 pixels scaled to [0, 1]."""
    if x.ndim < 2:
        x = x.reshape(-1, 1)
    elif x.ndim == 3:
        x = x.reshape(len(x), 1, *x.shape[1:])
    return x.astype(dtype) * dtype.type(1.0 / 255.0) if x.dtype == np.uint8 else x.astype(dtype)


def _number(text: str, kind: type) -> float | int | None:
    try:
        return kind(text)
    except ValueError:
        return None


def table(
    path: Path, target: str | None, features: list[str] | None, task: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """(x (N, F) float64, y, task) from a CSV table with a header row (as NetCanvas reads it)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
        handle.seek(0)
        delimiter = "," if "," in first else next((d for d in (";", "\t") if d in first), ",")
        rows = [row for row in csv.reader(handle, delimiter=delimiter) if any(c.strip() for c in row)]
    header, rows = [c.strip() for c in rows[0]], rows[1:]
    target = target or header[-1]
    features = features or [c for c in header if c != target]
    x = np.array([[float(row[header.index(f)]) for f in features] for row in rows], dtype=np.float64)
    values = [row[header.index(target)].strip() for row in rows]
    numbers = [_number(v, float) for v in values]
    numeric = all(n is not None for n in numbers)
    if task == "auto":
        integers = numeric and all(_number(v, int) is not None for v in values)
        task = (
            "classification"
            if (integers and len(set(numbers)) <= MAX_AUTO_CLASSES) or not numeric
            else "regression"
        )
    if task == "regression":
        return x, np.asarray(numbers, dtype=np.float64).reshape(-1, 1), task
    keys = sorted(set(numbers if numeric else values))
    ids = {key: i for i, key in enumerate(keys)}
    return x, np.array([ids[n] for n in (numbers if numeric else values)], dtype=np.int64), task


# ------------------------------------------------------------------------------ loading
def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): NetCanvas's deterministic shuffled split."""
    order = np.random.default_rng(int(seed)).permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0.0:
        n_val = min(max(n_val, 1), n - 1)
    return order[n_val:], order[:n_val]


def load(config: dict, dtype: str = "float32", data_dir: str | Path | None = None) -> Data:
    """The training and validation data of a "data" section (every parameter present).

    Relative paths are taken from `data_dir` when given (default: as written, from the current
    folder); `config["path"]` may also be absolute.
    """
    config = dict(config)
    source = config.pop("source")
    val_split, seed = config.pop("val_split", 0.2), config.pop("seed", 0)
    dtype = np.dtype(dtype)
    path = Path(config.get("path", "")).expanduser()
    if data_dir is not None and "path" in config:
        path = Path(data_dir) / (path.name if path.is_absolute() else path)
    if source in SYNTHETIC:
        x, y, task = synthetic(source, {**config, "seed": seed})
    elif source in ("mnist", "fashion_mnist"):
        x, y, x_val, y_val = mnist(path, dtype)
        return Data(x, y, x_val, y_val, "classification")
    elif source == "npz":
        arrays = npz(path)
        x = npz_samples(arrays["x"], dtype)
        task = "classification" if arrays["y"].dtype.kind in "biu" else "regression"

        def target(y: np.ndarray) -> np.ndarray:
            return y.astype(np.int64) if task == "classification" else y.reshape(len(y), -1).astype(dtype)

        if "x_val" in arrays:
            x_val = npz_samples(arrays["x_val"], dtype)
            return Data(x, target(arrays["y"]), x_val, target(arrays["y_val"]), task)
        y = target(arrays["y"])
    elif source == "image_folder":
        x, y = image_folder(path, dtype)
        task = "classification"
    elif source == "csv":
        x, y, task = table(path, config.get("target"), config.get("features"), config.get("task", "auto"))
    else:
        raise ValueError(f"unknown data source {source!r}")
    train, val = split_indices(len(x), val_split, seed)
    mean = std = None
    if source == "csv" and config.get("standardize", True):
        fit = x[train] if val_split else x
        mean, std = fit.mean(axis=0), fit.std(axis=0)
        std[~(std > 1e-12)] = 1.0
    x = x.astype(dtype)
    if task == "regression":
        y = y.astype(dtype)
    return Data(x[train], y[train], x[val], y[val], task, mean, std)


def describe(config: dict) -> str:
    """One line naming the data source."""
    source = config["source"]
    return f"{source} ({config['path']})" if "path" in config else source


__all__ = ["Data", "describe", "load", "split_indices", "synthetic"]
