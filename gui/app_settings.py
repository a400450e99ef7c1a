"""What the app remembers between runs: window geometry, the dock layout of each workspace
(Design, Train), recent files, theme.

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
    def window_state(self, workspace: str = "design") -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock/toolbar state of `workspace`) as saved, or None each."""
        geometry = self.qsettings.value("window/geometry")
        return geometry if isinstance(geometry, QByteArray) else None, self.workspace_state(workspace)

    def save_window_state(self, geometry: QByteArray, state: QByteArray, workspace: str = "design") -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.save_workspace_state(workspace, state)

    def workspace_state(self, workspace: str) -> QByteArray | None:
        """The dock layout the user last had in `workspace` ("design" or "train"), or None.
        (Before workspaces there was one layout, "window/state": it becomes Design's.)"""
        state = self.qsettings.value(f"window/state_{workspace}")
        if state is None and workspace == "design":
            state = self.qsettings.value("window/state")
        return state if isinstance(state, QByteArray) else None

    def save_workspace_state(self, workspace: str, state: QByteArray) -> None:
        self.qsettings.setValue(f"window/state_{workspace}", state)
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
