"""Network files. `.json`: architecture, training and data settings (hand-writable).
`.ncv`: a zip of that JSON (`network.json`) plus `weights.npz`, `optimizer.npz` and
`history.json`, so a trained network reopens exactly as it was.

Saving is atomic (temp file in the same folder, then `os.replace`): a crash mid-save leaves the
previous file intact. The saved file keeps the permission bits of the file it replaces; a new one
gets the usual ones for the user's umask (0644 under umask 022). Loading validates everything, migrates older format versions, never
unpickles (`allow_pickle=False`) and never executes anything from the file. Every problem is one
`NetworkFileError` whose message starts with the file name.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.callbacks import History
from engine.data import Standardizer
from engine.errors import NetCanvasError, NetworkFileError
from engine.graph import NetworkSpec
from engine.network import Network
from engine.optimizers import get_optimizer

FORMAT_NAME = "netcanvas"
FORMAT_VERSION = 1
NETWORK_MEMBER = "network.json"
WEIGHTS_MEMBER = "weights.npz"
OPTIMIZER_MEMBER = "optimizer.npz"
HISTORY_MEMBER = "history.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


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
                }
            ),
        )
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
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        kept_mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        kept_mode = None
    handle, temp_name = _create_temp(folder, path.name, 0o666 if kept_mode is None else 0o600)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
        if kept_mode is not None:
            os.chmod(temp_name, kept_mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


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
    """Read a `.json` or `.ncv` network file; NetworkFileError names the file and the problem."""
    path = Path(path)
    try:
        return _load(path)
    except NetworkFileError:
        raise
    except NetCanvasError as exc:
        raise NetworkFileError(f"{path.name}: {exc}") from None
    except OSError as exc:
        raise NetworkFileError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None


def _load(path: Path) -> Network:
    if not path.is_file():
        raise NetworkFileError(f"{path.name}: no such file ({path})")
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK"):
        return _load_archive(path)
    if path.suffix.lower() == ".ncv":
        raise NetworkFileError(f"{path.name}: not a valid .ncv file (it is not a zip archive)")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise NetworkFileError(f"{path.name}: too large for a network description")
    return network_from_document(_parse_json(path.read_bytes(), path.name), path.name)


def _parse_json(payload: bytes, name: str) -> dict[str, Any]:
    if not payload.strip():
        raise NetworkFileError(f"{name}: the file is empty")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise NetworkFileError(f"{name}: not a text (UTF-8) JSON file") from None
    except json.JSONDecodeError as exc:
        raise NetworkFileError(
            f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(doc, dict):
        raise NetworkFileError(f"{name}: expected a JSON object at the top, got {type(doc).__name__}")
    return doc


def network_from_document(doc: dict[str, Any], name: str) -> Network:
    """Validate, migrate and build a Network from a parsed JSON document."""
    if doc.get("format") != FORMAT_NAME:
        raise NetworkFileError(f'{name}: not a NetCanvas network ("format" is {doc.get("format")!r})')
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NetworkFileError(f'{name}: "format_version" must be a positive whole number, got {version!r}')
    if version > FORMAT_VERSION:
        raise NetworkFileError(
            f"{name}: written by a newer NetCanvas (format version {version}; "
            f"this version reads up to {FORMAT_VERSION}): update NetCanvas to open it"
        )
    doc = migrate(doc)
    for key in ("nodes", "edges"):
        if not isinstance(doc.get(key), list):
            raise NetworkFileError(f'{name}: "{key}" must be a list')
    for key in ("training", "data", "metadata"):
        if not isinstance(doc.get(key, {}), dict):
            raise NetworkFileError(f'{name}: "{key}" must be an object')
    spec = NetworkSpec.from_dict(doc)
    network = Network(spec)
    standardize = (doc.get("preprocessing") or {}).get("standardize")
    if standardize is not None:
        network.scaler = Standardizer.from_dict(standardize)
    return network


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring an older document up to FORMAT_VERSION (version 1 is the first; nothing to do yet)."""
    return doc


def _load_archive(path: Path) -> Network:
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            if NETWORK_MEMBER not in members:
                raise NetworkFileError(f"{name}: the archive has no {NETWORK_MEMBER}")
            network = network_from_document(_parse_json(archive.read(NETWORK_MEMBER), name), name)
            if WEIGHTS_MEMBER in members:
                weights = _read_npz(archive.read(WEIGHTS_MEMBER), f"{name}/{WEIGHTS_MEMBER}")
                network.model.load_named_weights(weights, f"{name}/{WEIGHTS_MEMBER}")
            if OPTIMIZER_MEMBER in members:
                _restore_optimizer(network, _read_npz(archive.read(OPTIMIZER_MEMBER), name))
            if HISTORY_MEMBER in members:
                network.history = _read_history(archive.read(HISTORY_MEMBER), name)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise NetworkFileError(f"{name}: the file is damaged or truncated ({exc})") from None
    return network


def _read_npz(payload: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as exc:
        raise NetworkFileError(f"{where}: arrays cannot be read without unpickling ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise NetworkFileError(f"{where}: damaged array data ({exc})") from None
    for key, value in arrays.items():
        if value.dtype.kind not in "fiub" and key != "__type__":
            raise NetworkFileError(f"{where}: array '{key}' has non-numeric type {value.dtype}")
    return arrays


def _restore_optimizer(network: Network, state: dict[str, np.ndarray]) -> None:
    kind = str(state.pop("__type__", ""))
    config = network.training.optimizer
    if kind != config.type:
        return  # saved state belongs to another optimizer type: start that one fresh
    optimizer = get_optimizer(config.type, **config.params)
    optimizer.load_state(state, network.model.trainable()[0])
    network.optimizer = optimizer


def _read_history(payload: bytes, name: str) -> History:
    doc = _parse_json(payload, f"{name}/{HISTORY_MEMBER}")
    epochs = doc.get("epochs", {})
    losses = doc.get("batch_losses", [])
    valid = (
        isinstance(epochs, dict)
        and all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in epochs.values())
        and isinstance(losses, list)
        and all(isinstance(x, (int, float)) for x in losses)
    )
    if not valid:
        raise NetworkFileError(f"{name}/{HISTORY_MEMBER}: history must hold lists of numbers")
    return History(
        epochs={k: [float(x) for x in v] for k, v in epochs.items()},
        batch_losses=[float(x) for x in losses],
        batch_stride=int(doc.get("batch_stride", 1)),
        steps=int(doc.get("steps", 0)),
    )
