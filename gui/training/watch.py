"""Watching a network learn: the training pace and "until stopped" (gui.training.pace_control),
and the unit response maps on the canvas (gui.training.unit_maps), installed on a MainWindow."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QMainWindow

from gui.training.pace_control import PaceControl
from gui.training.unit_maps import UnitMaps


@dataclass
class Watch:
    pace: PaceControl
    unit_maps: UnitMaps


def install(window: QMainWindow) -> Watch:
    """Add the pace box to `window`'s toolbar, "Train until stopped" to its Train menu and the
    response maps (with their View menu toggle) to its canvas."""
    menus = window.actions_.menus
    return Watch(
        PaceControl(window, window.session, window.toolbar, window.actions_.train_menu),
        UnitMaps(window, window.session, window.view, menus["view"]),
    )
