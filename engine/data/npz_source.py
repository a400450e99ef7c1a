"""NumPy `.npz` archives with arrays `x` and `y` (and optionally `x_val`, `y_val`), no pickle.

The archive is opened by `files.open_data_file` (a regular file of at most 4 GiB); each array's
header is checked against its member's size before the array is allocated, so a header that
claims terabytes is refused instead of allocated.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.data.dataset import Dataset, check_dtype
from engine.data.files import MAX_NPZ_BYTES, clip, excerpt, open_data_file, size_text
from engine.errors import DataError

NPZ_KEYS = ("x", "y", "x_val", "y_val")


def _check_member(archive: np.lib.npyio.NpzFile, path: Path, key: str) -> None:
    """Refuse array `key` when its unpacked size passes the limit or its header claims more
    values than the member holds (read before numpy allocates the array)."""
    names = archive.zip.namelist()
    info = archive.zip.getinfo(f"{key}.npy" if f"{key}.npy" in names else key)
    if info.file_size > MAX_NPZ_BYTES:
        raise DataError(
            f"{path.name}: array '{key}' is too large: {info.file_size:,} bytes unpacked; "
            f"an array may have at most {size_text(MAX_NPZ_BYTES)}"
        )
    with archive.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, _fortran, dtype = read_header(member)
        header = member.tell()
    if dtype.hasobject:
        return  # refused with its own message when read
    needed = math.prod(shape) * dtype.itemsize
    if needed > info.file_size - header:
        raise DataError(
            f"{path.name}: array '{key}' is damaged: its header says shape {excerpt(shape)} of "
            f"{dtype} ({needed} bytes), the archive holds {info.file_size - header} bytes of data"
        )


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The known arrays of the archive (other members are ignored)."""
    with open_data_file(path, "NPZ", MAX_NPZ_BYTES) as handle:
        return _read_open_archive(handle, path)


def _read_open_archive(handle: BinaryIO, path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(handle, allow_pickle=False)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path.name}: not a readable .npz archive ({clip(str(exc))})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{path.name}: expected an .npz archive with arrays 'x' and 'y', got a single .npy array"
        )
    with archive:
        present = list(archive.files)
        missing = [key for key in ("x", "y") if key not in present]
        if missing:
            raise DataError(
                f"{path.name}: missing array(s) {', '.join(repr(k) for k in missing)}; "
                f"the archive holds: {clip(', '.join(present)) or 'nothing'}"
            )
        arrays = {}
        for key in NPZ_KEYS:
            if key not in present:
                continue
            try:
                _check_member(archive, path, key)
                arrays[key] = archive[key]
            except DataError:
                raise
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise DataError(
                        f"{path.name}: array '{key}' holds Python objects; store plain "
                        "numeric arrays (no dtype=object)"
                    ) from None
                raise DataError(f"{path.name}: array '{key}' is damaged ({clip(str(exc))})") from None
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
                raise DataError(f"{path.name}: array '{key}' is damaged ({clip(str(exc))})") from None
    return arrays


def _check_numeric(path: Path, key: str, array: np.ndarray) -> None:
    kind = array.dtype.kind
    if kind not in "biuf":
        raise DataError(f"{path.name}: array '{key}' must be numeric, got dtype {array.dtype}")
    if array.ndim == 0:
        raise DataError(f"{path.name}: array '{key}' must have one row per sample, got a scalar")
    if kind == "f" and not np.all(np.isfinite(array)):
        raise DataError(f"{path.name}: array '{key}' contains NaN or infinite values")


def _samples(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Stored samples as the network takes them: a 1-D x as (N, 1), grayscale images (N, H, W)
    as one channel (N, 1, H, W), and uint8 values (image pixels) scaled to [0, 1] as MNIST is."""
    if x.ndim < 2:
        x = x.reshape(-1, 1)
    elif x.ndim == 3:
        x = x.reshape(len(x), 1, *x.shape[1:])
    if x.dtype == np.uint8:
        return x.astype(dtype) * dtype.type(1.0 / 255.0)
    return np.asarray(x, dtype=dtype)


def load_npz(path: str | Path, dtype: str = "float32") -> Dataset:
    """x (N, *feature_shape) numeric, y (N,) or (N, k); optional x_val / y_val likewise.

    Images are x (N, C, H, W), channels first; x (N, H, W) is taken as one channel and becomes
    (N, 1, H, W). uint8 x (pixels 0..255) is scaled to [0, 1]; other numbers are kept as stored.

    Integer (or bool) y -> classification with class ids 0..n_classes-1 (y must be 1-D and not
    negative); float y -> regression, a 1-D y becomes (N, 1).
    """
    path = Path(path)
    resolved_dtype = check_dtype(dtype)
    arrays = _read_arrays(path)
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataError(f"{path.name}: 'x_val' and 'y_val' must be stored together")
    for key, array in arrays.items():
        _check_numeric(path, key, array)
    for x_key, y_key in (("x", "y"), ("x_val", "y_val")):
        if x_key in arrays and len(arrays[x_key]) != len(arrays[y_key]):
            raise DataError(
                f"{path.name}: '{x_key}' has {len(arrays[x_key])} rows but '{y_key}' has "
                f"{len(arrays[y_key])}; they must match"
            )
    x = _samples(arrays["x"], resolved_dtype)
    if len(x) == 0:
        raise DataError(f"{path.name}: array 'x' has no rows")
    x_val = arrays.get("x_val")
    if x_val is not None:
        x_val = _samples(x_val, resolved_dtype)
        if x_val.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{path.name}: 'x_val' samples have shape {x_val.shape[1:]} but 'x' samples "
                f"have {x.shape[1:]}"
            )
    targets = [arrays[k] for k in ("y", "y_val") if k in arrays]
    classification = arrays["y"].dtype.kind in "biu"
    if any((t.dtype.kind in "biu") != classification for t in targets):
        raise DataError(
            f"{path.name}: 'y' is {arrays['y'].dtype} but 'y_val' is {arrays['y_val'].dtype}: "
            "use integers for classes or floats for regression in both"
        )
    n_classes = None
    if classification:
        for key, t in zip(("y", "y_val"), targets, strict=False):
            if t.ndim != 1:
                raise DataError(f"{path.name}: integer '{key}' (class ids) must be 1-D, got shape {t.shape}")
            if len(t) and t.min() < 0:
                raise DataError(f"{path.name}: '{key}' has class id {int(t.min())}; ids must be 0 or more")
        targets = [t.astype(np.int64) for t in targets]
        n_classes = int(max(t.max() for t in targets if len(t))) + 1
    else:
        targets = [t.reshape(-1, 1) if t.ndim == 1 else t for t in targets]
    dataset = Dataset(
        x=x,
        y=targets[0],
        task="classification" if classification else "regression",
        n_classes=n_classes,
        name=path.stem,
        x_val=x_val,
        y_val=targets[1] if len(targets) > 1 else None,
    )
    return dataset.astype(resolved_dtype)
