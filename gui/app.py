"""Start the desktop app: `run_gui([])` opens the spiral example, `run_gui([FILE])` opens FILE."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from gui.examples import EXAMPLES_DIR
from gui.settings import APPLICATION, ORGANIZATION, AppSettings
from gui.theme import apply_theme
from gui.training.screenshot_mode import run_screenshot_mode, wants_screenshot

DEFAULT_EXAMPLE = EXAMPLES_DIR / "spiral.json"
SWITCH_INTERVAL = 0.0005  # seconds (Python's default is 0.005)
USAGE = "usage: netcanvas [FILE]   (FILE: a .json or .ncv network)"


def create_app(argv: list[str]) -> QApplication:
    """The QApplication, with the names QSettings uses and the remembered theme."""
    # Training runs in a worker thread whose Python steps between GIL-free BLAS/Numba calls must
    # not wait behind the GUI's plotting: a short switch interval hands the GIL over sooner.
    sys.setswitchinterval(SWITCH_INTERVAL)
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "netcanvas", *argv])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setOrganizationDomain("netcanvas.invalid")
    app.setApplicationDisplayName(APPLICATION)
    apply_theme(app, AppSettings().theme())
    return app


def run_gui(argv: list[str]) -> int:
    """Show the main window and run the event loop; the exit code."""
    app = create_app(argv)
    if wants_screenshot(argv):
        return run_screenshot_mode(app, argv)
    files = [a for a in argv if not a.startswith("-")]
    if len(files) > 1 or any(a in ("-h", "--help") for a in argv):
        QMessageBox.information(None, "NetCanvas", USAGE)
        return 2 if len(files) > 1 else 0
    import engine  # noqa: F401  (registers every layer, loss, optimizer, ... before the widgets read them)
    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if files:
        window.load_path(Path(files[0]))
    elif DEFAULT_EXAMPLE.exists():
        window.load_path(DEFAULT_EXAMPLE)
    window.view.fit_to_view()
    return app.exec()
