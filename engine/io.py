"""Network files. `.json`: architecture, training and data settings (hand-writable).
`.ncv`: a zip of that JSON (`network.json`) plus `weights.npz`, `optimizer.npz` and
`history.json`, so a trained network reopens exactly as it was.

Saving is atomic (temp file in the same folder, then `os.replace`): a crash mid-save leaves the
previous file intact. The saved file keeps the permission bits of the file it replaces; a new one
gets the usual ones for the user's umask (0644 under umask 022). The next save or open of a
target removes temp files a killed save left beside it. Loading validates everything, migrates
older format versions, never unpickles (`allow_pickle=False`), never executes anything from the
file, and stays within engine.file_limits whatever the file claims. Every problem is one
`NetworkFileError` whose message starts with the file name.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import Standardizer
from engine.errors import NetCanvasError, NetworkFileError
from engine.file_archive import members, open_archive, read_member, read_npz
from engine.file_limits import (
    MAX_HISTORY_BYTES,
    MAX_JSON_BYTES,
    NPY_HEADER_BYTES,
    check_document_sizes,
    check_network_size,
    clip_message,
    parse_json,
    quote,
)
from engine.graph import NetworkSpec
from engine.network import Network
from engine.optimizers import get_optimizer
from engine.runs import MAX_RUN_WEIGHT_BYTES, attach_weights, read_runs, runs_payload, weights_check
from engine.training.callbacks import History

try:
    import fcntl  # a save locks its temp file, so a killed save's one is told from a live one
except ImportError:  # Windows: an open file cannot be deleted, which protects a live save anyway
    fcntl = None  # type: ignore[assignment]

FORMAT_NAME = "netcanvas"
FORMAT_VERSION = 1
NETWORK_MEMBER = "network.json"
WEIGHTS_MEMBER = "weights.npz"
OPTIMIZER_MEMBER = "optimizer.npz"
HISTORY_MEMBER = "history.json"
RUNS_MEMBER = "runs.json"  # the Runs list (engine/runs.py), with its weights in runs.npz
RUNS_WEIGHTS_MEMBER = "runs.npz"
_TEMP_TAIL = re.compile(r"[0-9a-f]{8}\.tmp")  # after ".NAME.", as _create_temp names them
_MAX_SLOTS = 4  # per-weight state arrays an optimizer keeps at most (Adam: m, v, v_max)
_MAX_STEPS = 2**53  # optimizer steps a history may count (exact as a float)


# ------------------------------------------------------------------- saving
def network_document(network: Network) -> dict[str, Any]:
    """The JSON document of a network (no arrays)."""
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **network.spec.to_dict()}
    doc["training"] = network.training.to_dict()
    if network.scaler is not None:
        doc["preprocessing"] = {"standardize": network.scaler.to_dict()}
    return doc


def save(network: Network, path: str | os.PathLike[str]) -> None:
    """Write `.json` (settings only) or `.ncv` (settings, weights, optimizer state, history)."""
    path = Path(path)
    text = json.dumps(network_document(network), indent=2)
    if path.suffix.lower() == ".json":
        _write_atomic(path, text.encode("utf-8"))
        return
    if path.suffix.lower() != ".ncv":
        raise NetworkFileError(f"{path.name}: unknown file type; use .json or .ncv")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NETWORK_MEMBER, text)
        archive.writestr(WEIGHTS_MEMBER, _npz_bytes(network.model.named_weights()))
        if network.optimizer is not None:
            state = {"__type__": np.array(network.optimizer.name), **network.optimizer.state()}
            archive.writestr(OPTIMIZER_MEMBER, _npz_bytes(state))
        history = network.history
        archive.writestr(
            HISTORY_MEMBER,
            json.dumps(
                {
                    "epochs": history.epochs,
                    "batch_losses": history.batch_losses,
                    "batch_stride": history.batch_stride,
                    "steps": history.steps,
                    "epoch_numbers": history.epoch_numbers,
                    "epoch_stride": history.epoch_stride,
                    "epoch_count": history.epoch_count,
                }
            ),
        )
        if network.runs:
            runs_text, run_arrays = runs_payload(network.runs)
            archive.writestr(RUNS_MEMBER, runs_text)
            if run_arrays:
                archive.writestr(RUNS_WEIGHTS_MEMBER, _npz_bytes(run_arrays))
    _write_atomic(path, buffer.getvalue())


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write a temp file beside `path`, then rename it over `path`, keeping the old file's mode.

    No umask is read (os.umask can only be read by setting it, for every thread of the process):
    a new file is created with mode 0o666 and the kernel applies the umask, as for any new file.
    A file being replaced is written 0o600 (its contents may be private) and then given the old mode.
    The temp file is locked while it is written, so `remove_stale_temps` tells a live save's
    temp file from one a killed save left behind.
    """
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temps(path)
    try:
        kept_mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        kept_mode = None
    handle, temp_name = _create_temp(folder, path.name, 0o666 if kept_mode is None else 0o600)
    try:
        with os.fdopen(handle, "wb") as temp:
            if fcntl is not None:
                fcntl.flock(temp.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
            if kept_mode is not None:
                os.chmod(temp_name, kept_mode)
            if fcntl is not None:  # renamed while still locked: no moment where it looks stale
                os.replace(temp_name, path)
        if fcntl is None:  # Windows cannot rename an open file
            os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def remove_stale_temps(path: str | os.PathLike[str]) -> None:
    """Delete the `.NAME.XXXXXXXX.tmp` siblings of `path` that a killed save left behind.

    A save in progress holds a lock on its temp file (POSIX flock, released by the kernel when
    its process dies, even by SIGKILL), so only abandoned ones are removed; on Windows an open
    file cannot be deleted, which protects a live save the same way. Best effort: a file that
    cannot be checked or removed is left alone.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    try:
        names = [
            n for n in os.listdir(folder) if n.startswith(prefix) and _TEMP_TAIL.fullmatch(n[len(prefix) :])
        ]
    except OSError:
        return
    for name in names:
        candidate = folder / name
        try:
            if fcntl is None:
                candidate.unlink()
                continue
            handle = os.open(candidate, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                candidate.unlink()
            finally:
                os.close(handle)
        except OSError:
            continue


def _create_temp(folder: Path, name: str, mode: int) -> tuple[int, Path]:
    """A new, exclusively created `.NAME.XXXXXXXX.tmp` in `folder` (tempfile.mkstemp forces 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _attempt in range(100):
        temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name beside {name} in {folder}")


# ------------------------------------------------------------------ loading
def load(path: str | os.PathLike[str]) -> Network:
    """Read a `.json` or `.ncv` network file; NetworkFileError names the file and the problem.

    Any byte sequence gives a network or a NetworkFileError, within the limits of
    engine.file_limits (time and memory stay bounded whatever the file claims).
    """
    path = Path(path)
    try:
        remove_stale_temps(path)
        return _load(path)
    except NetworkFileError as exc:
        raise NetworkFileError(clip_message(str(exc))) from None
    except NetCanvasError as exc:
        raise NetworkFileError(clip_message(f"{path.name}: {exc}")) from None
    except OSError as exc:
        raise NetworkFileError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None


def _load(path: Path) -> Network:
    if not path.is_file():
        raise NetworkFileError(f"{path.name}: no such file ({path})")
    with path.open("rb") as handle:
        head = handle.read(4)
        if not head.startswith(b"PK"):
            if path.suffix.lower() == ".ncv":
                raise NetworkFileError(f"{path.name}: not a valid .ncv file (it is not a zip archive)")
            payload = head + handle.read(MAX_JSON_BYTES + 1 - len(head))
            if len(payload) > MAX_JSON_BYTES:
                raise NetworkFileError(
                    f"{path.name}: too large for a network description (at most {MAX_JSON_BYTES:,} bytes)"
                )
            return network_from_document(parse_json(payload, path.name), path.name)
    return _load_archive(path)


def network_from_document(doc: dict[str, Any], name: str) -> Network:
    """Validate, migrate and build a Network from a parsed JSON document."""
    if doc.get("format") != FORMAT_NAME:
        raise NetworkFileError(f'{name}: not a NetCanvas network ("format" is {quote(doc.get("format"))})')
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NetworkFileError(
            f'{name}: "format_version" must be a positive whole number, got {quote(version)}'
        )
    if version > FORMAT_VERSION:
        raise NetworkFileError(
            f"{name}: written by a newer NetCanvas (format version {version}; "
            f"this version reads up to {FORMAT_VERSION}): update NetCanvas to open it"
        )
    doc = migrate(doc)
    _check_structure(doc, name)
    check_document_sizes(doc, name)
    spec = NetworkSpec.from_dict(doc)
    check_network_size(spec, name)  # before anything is allocated for it
    network = Network(spec)
    standardize = (doc.get("preprocessing") or {}).get("standardize")
    if standardize is not None:
        network.scaler = Standardizer.from_dict(standardize)
    return network


def _check_structure(doc: dict[str, Any], name: str) -> None:
    """The document's shape, so that building the spec meets only the values it checks itself."""
    for key in ("nodes", "edges"):
        if not isinstance(doc.get(key), list):
            raise NetworkFileError(f'{name}: "{key}" must be a list')
    for key in ("training", "data", "metadata", "preprocessing"):
        if not isinstance(doc.get(key) or {}, dict):
            raise NetworkFileError(f'{name}: "{key}" must be an object, got {quote(doc[key])}')
    for index, node in enumerate(doc["nodes"]):
        where = f"{name}: nodes[{index}]"
        if not isinstance(node, dict):
            raise NetworkFileError(f"{where} must be an object, got {quote(node)}")
        for key in ("id", "type"):
            if not isinstance(node.get(key), str):
                raise NetworkFileError(
                    f"{where} needs an 'id' and a 'type' (text); its '{key}' is {quote(node.get(key))}"
                )
        if not isinstance(node.get("params", {}), dict):
            raise NetworkFileError(f'{where}: "params" must be an object, got {quote(node["params"])}')
        pos = node.get("pos", [0, 0])
        if not (
            isinstance(pos, list)
            and len(pos) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pos)
        ):
            raise NetworkFileError(f'{where}: "pos" must be [x, y] with finite numbers, got {quote(pos)}')
    for index, edge in enumerate(doc["edges"]):
        if not (isinstance(edge, list) and len(edge) == 2 and all(isinstance(e, str) for e in edge)):
            raise NetworkFileError(
                f"{name}: edges[{index}] must be a pair of node ids [source, target], got {quote(edge)}"
            )
    standardize = (doc.get("preprocessing") or {}).get("standardize")
    if standardize is not None:
        _check_number_lists(standardize, ("mean", "std"), f"{name}: preprocessing.standardize")


def _check_number_lists(doc: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(doc, dict):
        raise NetworkFileError(f"{where} must be an object, got {quote(doc)}")
    for key in keys:
        values = doc.get(key)
        if not isinstance(values, list) or not all(_is_finite_number(v) for v in values):
            raise NetworkFileError(f"{where}.{key} must be a list of finite numbers, got {quote(values)}")


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring an older document up to FORMAT_VERSION (version 1 is the first; nothing to do yet)."""
    return doc


def _load_archive(path: Path) -> Network:
    name = path.name
    with open_archive(path, name) as archive:
        entries = members(archive)
        if NETWORK_MEMBER not in entries:
            raise NetworkFileError(f"{name}: the archive has no {NETWORK_MEMBER}")
        where = f"{name}/{NETWORK_MEMBER}"
        doc = parse_json(read_member(archive, entries[NETWORK_MEMBER], MAX_JSON_BYTES, where), where)
        network = network_from_document(doc, name)
        if WEIGHTS_MEMBER in entries:
            _load_weights(network, archive, entries[WEIGHTS_MEMBER], f"{name}/{WEIGHTS_MEMBER}")
        if OPTIMIZER_MEMBER in entries:
            _load_optimizer(network, archive, entries[OPTIMIZER_MEMBER], f"{name}/{OPTIMIZER_MEMBER}")
        if HISTORY_MEMBER in entries:
            where = f"{name}/{HISTORY_MEMBER}"
            payload = read_member(archive, entries[HISTORY_MEMBER], MAX_HISTORY_BYTES, where)
            network.history = _read_history(payload, where)
        if RUNS_MEMBER in entries:
            where = f"{name}/{RUNS_MEMBER}"
            runs = read_runs(
                parse_json(read_member(archive, entries[RUNS_MEMBER], MAX_JSON_BYTES, where), where), where
            )
            if RUNS_WEIGHTS_MEMBER in entries:
                where = f"{name}/{RUNS_WEIGHTS_MEMBER}"
                payload = read_member(archive, entries[RUNS_WEIGHTS_MEMBER], MAX_RUN_WEIGHT_BYTES, where)
                items = sum(4 * len(run.settings["nodes"]) for run in runs)
                attach_weights(runs, read_npz(payload, where, weights_check(runs, where), items), where)
            network.runs = runs
    return network


def _npz_cap(shapes: list[tuple[int, ...]]) -> int:
    """The most an `.npz` of these arrays may inflate to: float64 data plus a header each."""
    return sum(8 * math.prod(s) + NPY_HEADER_BYTES for s in shapes) + NPY_HEADER_BYTES


def _load_weights(network: Network, archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    expected = {key: array.shape for key, array in network.model.named_weights().items()}

    def check(key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if key not in expected:
            raise NetworkFileError(f"{where}: unexpected array {quote(key)}: the network has no such weight")
        if dtype.kind not in "fiu":
            raise NetworkFileError(f"{where}: weight '{key}' has non-numeric type {dtype.name}")
        if shape != expected[key]:
            raise NetworkFileError(
                f"{where}: weight '{key}' has shape {shape}, the network needs {expected[key]}"
            )

    payload = read_member(archive, info, _npz_cap(list(expected.values())), where)
    weights = read_npz(payload, where, check, len(expected))
    for key, value in weights.items():
        if not np.isfinite(value).all():
            node = network.spec.nodes[key.split("/")[0]]
            raise NetworkFileError(f"{where}: weight '{key}' of {node.label()} holds NaN or infinite values")
    network.model.load_named_weights(weights, where)


def _load_optimizer(network: Network, archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    trainable = [w.shape for w in network.model.trainable()[0]]

    def check(key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if key == "__type__":
            ok = shape == () and dtype.kind == "U" and dtype.itemsize <= 4 * 64
        elif key == "iterations":
            ok = shape == () and dtype.kind in "fiu"
        else:
            index = key.rpartition(".")[2]
            ok = (
                dtype.kind == "f"
                and index.isdigit()
                and len(index) < 10
                and int(index) < len(trainable)
                and shape == trainable[int(index)]
            )
        if not ok:
            raise NetworkFileError(f"{where}: unexpected array {quote(key)} ({dtype.name} {shape})")

    payload = read_member(archive, info, _MAX_SLOTS * _npz_cap(trainable), where)
    state = read_npz(payload, where, check, _MAX_SLOTS * len(trainable) + 2)
    for key, value in state.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise NetworkFileError(f"{where}: optimizer state '{key}' holds NaN or infinite values")
    _restore_optimizer(network, state)


def _restore_optimizer(network: Network, state: dict[str, np.ndarray]) -> None:
    kind = str(state.pop("__type__", ""))
    config = network.training.optimizer
    if kind != config.type:
        return  # saved state belongs to another optimizer type: start that one fresh
    optimizer = get_optimizer(config.type, **config.params)
    optimizer.load_state(state, network.model.trainable()[0])
    network.optimizer = optimizer


def _read_history(payload: bytes, where: str) -> History:
    doc = parse_json(payload, where)
    epochs = doc.get("epochs", {})
    if not isinstance(epochs, dict):
        raise NetworkFileError(f'{where}: "epochs" must be an object of number lists, got {quote(epochs)}')
    _check_number_lists(epochs, tuple(epochs), f"{where}: epochs")
    if "batch_losses" in doc:
        _check_number_lists(doc, ("batch_losses",), where)
    counts = {}
    for key, default, low in (
        ("batch_stride", 1, 1),
        ("steps", 0, 0),
        ("epoch_stride", 1, 1),  # (a file saved before per-epoch thinning: one value per epoch)
        ("epoch_count", -1, -1),  # -1: as many as the values
    ):
        value = doc.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= _MAX_STEPS:
            raise NetworkFileError(
                f'{where}: "{key}" must be a whole number from {low} to {_MAX_STEPS:,}, got {quote(value)}'
            )
        counts[key] = value
    return History(
        epochs={k: [float(x) for x in v] for k, v in epochs.items()},
        batch_losses=[float(x) for x in doc.get("batch_losses", [])],
        batch_stride=counts["batch_stride"],
        steps=counts["steps"],
        epoch_numbers=_read_epoch_numbers(doc, epochs, where),
        epoch_stride=counts["epoch_stride"],
        epoch_count=counts["epoch_count"],
    )


def _read_epoch_numbers(doc: dict, epochs: dict, where: str) -> dict[str, list[int]]:
    """The epoch each kept per-epoch value belongs to (missing in older files: the History fills
    them in, one value per epoch)."""
    numbers = doc.get("epoch_numbers", {})
    valid = isinstance(numbers, dict) and all(
        isinstance(numbers.get(key, values), list)
        and len(numbers.get(key, values)) == len(values)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in numbers.get(key, []))
        for key, values in epochs.items()
    )
    if not valid:
        raise NetworkFileError(f'{where}: "epoch_numbers" must hold a whole number per value of "epochs"')
    return {key: list(numbers[key]) for key in epochs if key in numbers}
