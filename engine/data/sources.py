"""From a network file's "data" section (or the CLI's `--data` text) to a Dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.data.csv_source import load_csv
from engine.data.dataset import Dataset, check_dtype, check_split
from engine.data.download import REMOTE_SETS, Progress, cache_root, ensure
from engine.data.files import clip, excerpt, is_within, real_location, resolve_data_path
from engine.data.idx import load_mnist
from engine.data.image_folder import load_image_folder
from engine.data.npz_source import load_npz
from engine.errors import ConfigError
from engine.registry import DATASETS

FILE_SOURCES = ("mnist", "fashion_mnist", "csv", "npz", "image_folder")
IMAGE_SOURCES = ("mnist", "fashion_mnist")  # their own test set; no path = the user's data cache
SPLIT_KEYS = ("source", "val_split", "seed")  # handled here for every source
FILE_KEYS = {
    "mnist": ("path",),
    "fashion_mnist": ("path",),
    "csv": ("path", "target", "features", "task", "standardize"),
    "npz": ("path",),
    "image_folder": ("path",),
}
DEFAULT_VAL_SPLIT = 0.2
DATA_FORMS = (
    "a synthetic set name, mnist, fashion_mnist, mnist:DIR, fashion_mnist:DIR, csv:PATH[:TARGET], "
    "npz:PATH or image_folder:DIR"
)


def source_names() -> list[str]:
    """Every accepted "source": the registered synthetic sets, then the file formats."""
    return [*DATASETS.names(), *FILE_SOURCES]


def _check_keys(config: dict[str, Any], known: list[str], source: str) -> None:
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ConfigError(
            f"data: unknown key(s) {clip(', '.join(map(str, unknown)))} for source '{source}'; "
            f"known: {', '.join(known)}"
        )


def _path(config: dict[str, Any], base_dir: str | Path | None, source: str) -> Path:
    if not isinstance(config.get("path"), str) or not config.get("path"):
        raise ConfigError(f"data: source '{source}' needs a 'path' (text), got {excerpt(config.get('path'))}")
    return resolve_data_path(config["path"], base_dir)


def data_location(config: Any, base_dir: str | Path | None) -> Path | None:
    """The file or folder (symbolic links resolved) that `load_data(config, base_dir)` would read;
    None for a synthetic set, the data cache, or a section too broken to read anything."""
    if not isinstance(config, dict) or config.get("source") not in FILE_SOURCES or "path" not in config:
        return None
    try:
        return real_location(_path(config, base_dir, config["source"]))
    except ConfigError:
        return None


def reads_outside(config: Any, base_dir: str | Path) -> Path | None:
    """Where a data section reads when that is outside `base_dir` (the network file's folder) and
    the user's data cache, else None. Opening a network file reads no such data by itself: the
    app waits for the user to ask (see docs/data.md)."""
    location = data_location(config, base_dir)
    if location is None or is_within(location, [Path(base_dir), cache_root()]):
        return None
    return location


def load_data(
    config: dict[str, Any],
    base_dir: str | Path | None = None,
    dtype: str = "float32",
    download: bool = False,
    progress: Progress | None = None,
) -> Dataset:
    """The Dataset a "data" section describes.

    Synthetic: {"source": "xor", "n": 500, "noise": 0.1, "seed": 0, "val_split": 0.2}: the other
    keys are the set's parameters; `seed` seeds both the generator and the split.
    Files: {"source": "mnist" | "fashion_mnist" | "csv" | "npz" | "image_folder", "path": ..., ...}
    (an image folder: one sub-folder of PNG images per class); relative paths
    are relative to `base_dir` (the network file's folder). MNIST and Fashion-MNIST without a
    `path` come from the user's data cache (engine.data.download): with `download` the missing
    files are fetched first (`progress(done, total)` in bytes), else a missing set raises
    `NotDownloaded`. `val_split` (default 0.2) and `seed` (default 0) are the split
    `Dataset.split` should use; for CSV they also choose the rows the standardizer is fitted on.
    Unknown keys raise ConfigError listing the known ones. Files are opened by
    `engine.data.files.open_data_file`: regular files within a size limit, else a DataError.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"data: expected an object with a 'source', got {excerpt(config)}")
    source = config.get("source")
    if not isinstance(source, str) or source not in source_names():
        raise ConfigError(f"data: 'source' must be one of {', '.join(source_names())}; got {excerpt(source)}")
    resolved_dtype = check_dtype(dtype)
    val_split = config.get("val_split", DEFAULT_VAL_SPLIT)
    seed = config.get("seed", 0)
    check_split(val_split, seed)
    if source in DATASETS:
        entry = DATASETS.get(source)
        params = [spec.name for spec in entry.param_specs]
        _check_keys(config, [*SPLIT_KEYS, *[p for p in params if p not in SPLIT_KEYS]], source)
        dataset = entry.generate(**{k: v for k, v in config.items() if k in params})
        return dataset.astype(resolved_dtype)
    _check_keys(config, [*SPLIT_KEYS, *FILE_KEYS[source]], source)
    if source in IMAGE_SOURCES:
        folder = (
            _path(config, base_dir, source)
            if "path" in config
            else ensure(source, download_missing=download, progress=progress)
        )
        return load_mnist(folder, dtype=resolved_dtype.name, name=source)
    path = _path(config, base_dir, source)
    if source == "npz":
        return load_npz(path, dtype=resolved_dtype.name)
    if source == "image_folder":
        return load_image_folder(path, dtype=resolved_dtype.name)
    return load_csv(
        path,
        target=config.get("target"),
        features=config.get("features"),
        task=config.get("task", "auto"),
        standardize=config.get("standardize", True),
        val_split=val_split,
        seed=seed,
        dtype=resolved_dtype.name,
    )


def _split_csv_target(rest: str) -> tuple[str, str | None]:
    """PATH[:TARGET] -> (path, target or None); see parse_data_argument for the rule."""
    if os.path.isfile(rest):
        return rest, None
    head, colon, tail = rest.rpartition(":")
    is_drive = len(head) == 1 and head.isalpha()  # "C:data.csv"
    if colon and head and tail and "/" not in tail and "\\" not in tail and not is_drive:
        return head, tail
    return rest, None


def parse_data_argument(text: str) -> dict[str, Any]:
    """The CLI's `--data` value as a "data" section.

    - `NAME`: a synthetic set with its default parameters, e.g. `xor` -> {"source": "xor"};
    - `mnist`, `fashion_mnist`: that set from the user's data cache (downloaded on first use);
    - `mnist:DIR`, `fashion_mnist:DIR`, `npz:PATH`, `image_folder:DIR`: everything after the
      first ':' is the path
      (it may contain ':');
    - `csv:PATH[:TARGET]`: the text after the last ':' is the target column when it is not empty,
      contains no '/' or '\\', and the text before it is not a lone drive letter (`csv:C:x.csv`);
      if the whole of PATH:TARGET names an existing file it is all taken as the path.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"--data: expected {DATA_FORMS}; got {text!r}")
    text = text.strip()
    kind, colon, rest = text.partition(":")
    if not colon:
        if text in DATASETS or text in REMOTE_SETS:
            return {"source": text}
        if text in FILE_SOURCES:
            raise ConfigError(f"--data: '{text}' needs a path: {text}:PATH")
        raise ConfigError(
            f"--data: unknown data set {text!r}; choose one of {', '.join(DATASETS.names())}, "
            "or mnist, fashion_mnist, mnist:DIR, fashion_mnist:DIR, csv:PATH[:TARGET], npz:PATH, "
            "image_folder:DIR"
        )
    kind = kind.lower()
    if kind not in FILE_SOURCES:
        raise ConfigError(
            f"--data: unknown kind {kind!r} in {text!r}; expected mnist:DIR, "
            "fashion_mnist:DIR, csv:PATH[:TARGET], npz:PATH or image_folder:DIR"
        )
    if not rest:
        raise ConfigError(f"--data: '{kind}:' needs a path after the ':'")
    if kind != "csv":
        return {"source": kind, "path": rest}
    path, target = _split_csv_target(rest)
    config: dict[str, Any] = {"source": "csv", "path": path}
    if target is not None:
        config["target"] = target
    return config
