"""Opening a data file named by a network file or a user: the one way the data loaders read.

A data file's path comes from a network file, which may come from anyone. So every loader opens
its file through `open_data_file`: the path is resolved relative to the network file's folder,
only regular files are read (a device such as /dev/zero or a FIFO is refused before a byte is
read, and opening a FIFO does not wait for a writer), a file larger than its format's limit is
refused with its size, and reading stops at the limit even if the file grows meanwhile.
Messages quote at most `QUOTE_CHARS` characters of what a file holds (`excerpt`).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from engine.errors import ConfigError, DataError

QUOTE_CHARS = 80  # the most of a file's text an error message quotes
MAX_PATH_CHARS = 4096  # a data path longer than this is refused (Linux's PATH_MAX)
# Size limits (bytes). CSV rows become Python lists (about ten times the file's size in memory);
# the largest MNIST file is 47 MB unpacked.
MAX_CSV_BYTES = 1 << 30  # 1 GiB
MAX_NPZ_BYTES = 4 << 30  # 4 GiB, the archive and each array in it, unpacked
MAX_IDX_BYTES = 1 << 30  # 1 GiB, the file and, when gzip-compressed, its unpacked data


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` cut to `limit` characters, the last one a '…' when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(value: object, limit: int = QUOTE_CHARS) -> str:
    """`repr(value)` for text (quoted, with escapes), `str` of anything else, clipped to `limit`."""
    return clip(repr(value) if isinstance(value, str) else str(value), limit)


def size_text(size: int) -> str:
    """Bytes in binary units, as the limits are set: '1 GiB', '4.5 GiB', '512 MiB', '12 bytes'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def resolve_data_path(value: object, base_dir: str | Path | None, field: str = "path") -> Path:
    """The path a data section names: `~` expanded, a relative path joined to `base_dir` (the
    network file's folder). ConfigError for a value that is not a usable path."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"data: '{field}' must be a file or folder name (text), got {excerpt(value)}")
    if len(value) > MAX_PATH_CHARS or "\0" in value:
        raise ConfigError(f"data: '{field}' is not a usable path: {excerpt(value)}")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~someone" without such a user
        raise ConfigError(f"data: '{field}' names an unknown home folder: {excerpt(value)}") from None
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def real_location(path: Path) -> Path:
    """`path` with symbolic links and '..' resolved (as far as they exist); `path` if that fails."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a name the system refuses
        return path


def is_within(path: Path, folders: list[Path]) -> bool:
    """True when `path`, resolved, lies in one of `folders` (resolved) or is one of them."""
    location = real_location(path)
    return any(location.is_relative_to(real_location(folder)) for folder in folders)


class _CappedFile(io.RawIOBase):
    """A file read no further than `limit` bytes: past it, reading raises DataError."""

    def __init__(self, raw: io.FileIO, limit: int, path: Path, kind: str):
        super().__init__()
        self._raw, self._limit, self._path, self._kind = raw, limit, path, kind

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer) -> int:  # noqa: ANN001 (a writable buffer)
        count = self._raw.readinto(buffer)
        if count and self._raw.tell() > self._limit:
            raise DataError(
                f"{self._path}: grew while read past the {size_text(self._limit)} {self._kind} files may have"
            )
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_data_file(path: str | Path, kind: str, limit: int) -> io.BufferedReader:
    """`path` opened for binary reading, after checking it is a regular file of at most `limit`
    bytes; reading stops with a DataError at `limit`. `kind` names the format in messages
    ("CSV", "NPZ", "IDX"). Every refusal is a DataError naming the path."""
    path = Path(path)
    a_kind = f"{'an' if kind[:1] in 'AEFHILMNORSX' else 'a'} {kind}"  # (letters read with a vowel first)
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    try:
        fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected {a_kind} file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied, cannot read the {kind} file") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"{path}: cannot open the {kind} file ({reason})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DataError(f"{path}: is a folder, expected {a_kind} file")
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{path}: not a regular file (a device, pipe or socket), expected {a_kind} file")
        if info.st_size > limit:
            raise DataError(
                f"{path}: too large: {info.st_size:,} bytes; {kind} files may have at most {size_text(limit)}"
            )
        if nonblocking and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_CappedFile(raw, limit, path, kind))
