"""Reading a `.ncv` archive without trusting it: every member is size-checked from the zip
directory before it is decompressed and then decompressed with that cap (a 3 MB file may claim
to, or really, inflate to gigabytes); every `.npy` header inside an `.npz` is read and checked
against the shape the network expects before the array is allocated. Nothing is unpickled.

Each problem is a NetworkFileError naming the member; the zip and zlib errors a damaged file
can raise are caught where the bytes are read, not around the whole load.
"""

from __future__ import annotations

import io
import math
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import NetworkFileError
from engine.file_limits import NPY_HEADER_BYTES, quote

# What a damaged or hostile zip can raise while its directory or a member is read:
# a bad CRC or header (BadZipFile), a truncated stream (EOFError, zlib.error), an encrypted
# member (RuntimeError), an unknown compression method (NotImplementedError), a member name
# that is not UTF-8 (UnicodeDecodeError), bad offsets (OSError, ValueError, struct.error).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    RuntimeError,
    NotImplementedError,
    UnicodeDecodeError,
    OSError,
    ValueError,
    struct.error,
)
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_NUMERIC_KINDS = "fiub"


def damaged(where: str, exc: BaseException) -> NetworkFileError:
    detail = str(exc) or type(exc).__name__
    return NetworkFileError(f"{where}: the file is damaged or truncated ({quote(detail)[1:-1]})")


def open_archive(source: Path | bytes, where: str) -> zipfile.ZipFile:
    """The zip at `source` (a path, or the bytes of an inner `.npz`)."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except ZIP_ERRORS as exc:
        raise damaged(where, exc) from None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, where: str) -> bytes:
    """The member's bytes, refused before decompression if its declared size passes `cap`, and
    cut off at `cap` if the stream inflates past what it declared."""
    _check_entry(info, cap, where)
    try:
        with archive.open(info) as stream:
            payload = stream.read(cap + 1)
    except ZIP_ERRORS as exc:
        raise damaged(where, exc) from None
    if len(payload) > cap:
        raise NetworkFileError(f"{where}: larger than the {cap:,} bytes it may hold")
    return payload


def _check_entry(info: zipfile.ZipInfo, cap: int, where: str) -> None:
    if info.flag_bits & 0x1:
        raise NetworkFileError(f"{where}: the member is encrypted (NetCanvas files never are)")
    if info.compress_type not in _COMPRESSIONS:
        raise NetworkFileError(
            f"{where}: compression method {info.compress_type} (NetCanvas writes stored or deflated)"
        )
    if info.file_size > cap:
        raise NetworkFileError(
            f"{where}: {info.file_size:,} bytes uncompressed; at most {cap:,} are allowed here"
        )


def members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Members by name (the last of duplicate names wins, as zipfile reads them)."""
    return {info.filename: info for info in archive.infolist()}


ArrayCheck = Callable[[str, tuple[int, ...], np.dtype], None]


def read_npz(payload: bytes, where: str, check: ArrayCheck, max_items: int) -> dict[str, np.ndarray]:
    """The arrays of an `.npz`; `check(key, shape, dtype)` raises NetworkFileError for an array
    the network does not expect, before its data is read. Only plain numeric and text arrays."""
    arrays: dict[str, np.ndarray] = {}
    with open_archive(payload, where) as archive:
        entries = members(archive)
        if len(entries) > max_items:
            raise NetworkFileError(f"{where}: {len(entries):,} arrays; the network has at most {max_items:,}")
        for filename, info in entries.items():
            key = filename[:-4] if filename.endswith(".npy") else filename
            label = f"{where}: array {quote(key)}"
            _check_entry(info, info.file_size, label)
            try:
                with archive.open(info) as stream:
                    shape, dtype = _read_header(stream, label)
                    check(key, shape, dtype)
                    arrays[key] = _read_data(stream, shape, dtype, label)
            except NetworkFileError:  # a ValueError too: not damage, a refusal to pass on as is
                raise
            except ZIP_ERRORS as exc:
                raise damaged(label, exc) from None
    return arrays


def _read_header(stream: io.BufferedIOBase, label: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown .npy version {version}")
        shape, fortran, dtype = reader(stream, max_header_size=NPY_HEADER_BYTES)
    # numpy parses the header dict with ast.literal_eval: a damaged one raises any of these
    except (ValueError, SyntaxError, TypeError, KeyError, OverflowError, tokenize.TokenError) as exc:
        raise NetworkFileError(f"{label}: not a valid .npy array ({quote(str(exc))[1:-1]})") from None
    if dtype.hasobject or dtype.kind == "O":
        raise NetworkFileError(f"{label}: arrays cannot be read without unpickling (object dtype)")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _NUMERIC_KINDS + "U":
        raise NetworkFileError(f"{label}: has non-numeric type {quote(str(dtype))[1:-1]}")
    if fortran and len(shape) > 1:
        raise NetworkFileError(f"{label}: stored in Fortran order (NetCanvas writes C order)")
    return tuple(int(n) for n in shape), dtype


def _read_data(stream: io.BufferedIOBase, shape: tuple[int, ...], dtype: np.dtype, label: str) -> np.ndarray:
    expected = math.prod(shape) * dtype.itemsize
    data = stream.read(expected)
    if len(data) != expected:
        raise NetworkFileError(f"{label}: truncated ({len(data):,} of {expected:,} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
