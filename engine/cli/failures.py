"""How the command line reports a failure: always one `error: …` line on stderr, never a traceback.

Errors the user can act on (a NetCanvasError, an OSError, a bad option) print their message.
Anything else is a bug or an exhausted machine: its one line names the exception and the log file
that received the full traceback (`platformdirs.user_log_dir("netcanvas")/cli-errors.log`).
`check_output` makes a bad output path fail before the work instead of after it.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from engine.errors import NetCanvasError

LOG_NAME = "cli-errors.log"
LOG_MAX_BYTES = 1_000_000  # beyond this the log starts again (the old one kept as .1)
MESSAGE_LIMIT = 1000  # characters of an expected error's message
UNEXPECTED_LIMIT = 80  # characters of an unexpected exception's message


class UsageError(NetCanvasError):
    """A command line that does not parse (unknown option, missing argument, bad value)."""


def log_dir() -> Path:
    """The folder of the command line's error log (the app's own log folder)."""
    import platformdirs

    return Path(platformdirs.user_log_dir("netcanvas", appauthor=False))


def one_line(text: str, limit: int) -> str:
    """`text` on one line (line breaks become spaces), at most `limit` characters."""
    text = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def append_to_log(path: Path, text: str) -> None:
    """Append `text` to the log file `path` under a time stamp; past LOG_MAX_BYTES the log starts
    again, the old one kept as `<name>.1` (the command line's and the window's logs alike).

    Raises OSError when the log cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > LOG_MAX_BYTES:
        path.replace(path.with_name(path.name + ".1"))
    with path.open("a", encoding="utf-8", errors="backslashreplace") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}\n{text}")


def write_traceback(error: BaseException, folder: Path | None = None) -> Path:
    """Append `error`'s traceback to the command line's log; return its path.

    Raises OSError when the log cannot be written.
    """
    path = (folder or log_dir()) / LOG_NAME
    append_to_log(path, "".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return path


def error_line(error: BaseException) -> str:
    """The one line (without 'error: ') the command line prints for `error`."""
    if isinstance(error, NetCanvasError):
        return one_line(str(error), MESSAGE_LIMIT)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return one_line(where + (error.strerror or str(error) or type(error).__name__), MESSAGE_LIMIT)
    if isinstance(error, MemoryError):
        return "out of memory: the network or its data is too large for this machine"
    detail = one_line(str(error), UNEXPECTED_LIMIT)
    what = f"unexpected {type(error).__name__}" + (f": {detail}" if detail else "")
    try:
        where = f"the full traceback is in {write_traceback(error)}"
    except OSError as exc:
        where = f"the traceback could not be written ({one_line(str(exc), UNEXPECTED_LIMIT)})"
    return f"{what}; {where}"


def check_output(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> None:
    """UsageError unless `path` can be written: a suffix from `suffixes` (when given), an existing
    writable folder, not a folder itself. Checked before any work, so a run never fails at its end."""
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: the file must end in {' or '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable (permission denied)")


__all__ = ["UsageError", "check_output", "error_line", "log_dir", "one_line", "write_traceback"]
