"""What the app remembers between runs: window geometry and dock layout, recent files, theme.

`AppSettings()` uses the application's QSettings (organization and name set in gui/app.py).
Tests pass their own `QSettings(path, QSettings.Format.IniFormat)` so the user's real
settings are never read or written.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "NetCanvas"
APPLICATION = "NetCanvas"
MAX_RECENT = 10


class AppSettings:
    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else QSettings()

    # ------------------------------------------------------------ recent files
    def recent_files(self) -> list[Path]:
        value = self.qsettings.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a lone string for a 1-item list (INI)
            value = [value]
        return [Path(v) for v in (value or []) if isinstance(v, str) and v]

    def add_recent_file(self, path: str | os.PathLike[str]) -> list[Path]:
        """Put `path` first (once), keep at most MAX_RECENT; the new list."""
        path = Path(path).resolve()
        files = [path, *[p for p in self.recent_files() if p != path]][:MAX_RECENT]
        self._store(files)
        return files

    def remove_recent_file(self, path: str | os.PathLike[str]) -> list[Path]:
        files = [p for p in self.recent_files() if p != Path(path).resolve()]
        self._store(files)
        return files

    def clear_recent_files(self) -> None:
        self._store([])

    def _store(self, files: list[Path]) -> None:
        self.qsettings.setValue("recent_files", [str(p) for p in files])
        self.qsettings.sync()

    # ------------------------------------------------------------------ window
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock/toolbar state) saved by `save_window_state`, or None each."""
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
        self.qsettings.sync()

    # ------------------------------------------------------------------- theme
    def theme(self) -> str:
        value = self.qsettings.value("theme", "system")
        return value if value in ("system", "light", "dark") else "system"

    def set_theme(self, mode: str) -> None:
        self.qsettings.setValue("theme", mode)
        self.qsettings.sync()

    # -------------------------------------------------------------- directories
    def last_directory(self) -> str:
        value = self.qsettings.value("last_directory", "")
        return value if isinstance(value, str) and os.path.isdir(value) else str(Path.home())

    def set_last_directory(self, path: str | os.PathLike[str]) -> None:
        self.qsettings.setValue("last_directory", str(Path(path).parent))
