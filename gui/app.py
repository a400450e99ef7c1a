"""Start the desktop app: `run_gui([])` opens the spiral example, `run_gui([FILE])` opens FILE.

Any exception nothing caught (in a slot, an event handler or a thread) is shown by the window's
`show_error` and written to the user's log folder (`ErrorRouter`).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.cli.failures import append_to_log
from engine.cli.failures import log_dir as user_log_dir
from gui.app_settings import APPLICATION, ORGANIZATION, AppSettings
from gui.examples import EXAMPLES_DIR
from gui.theme import apply_theme
from gui.training.screenshot_mode import run_screenshot_mode, wants_screenshot

DEFAULT_EXAMPLE = EXAMPLES_DIR / "spiral.json"
SWITCH_INTERVAL = 0.0005  # seconds (Python's default is 0.005)
USAGE = "usage: netcanvas [FILE]   (FILE: a .json or .ncv network)"
ERROR_LOG_NAME = "errors.log"
REPEAT_QUIET_SECONDS = 5.0  # the same error again this soon after its box closed is only logged


class ErrorRouter(QObject):
    """Sends every uncaught exception to the window's one error place.

    Installed as `sys.excepthook` (a Python slot or event handler that raises ends there: PySide
    prints slot errors through it) and `threading.excepthook` (plain Python threads). Each error
    is printed to stderr as usual, appended with its traceback to the log file, and shown by
    `show(title, message)` with a one-line message. The showing is queued to the GUI thread, so
    it never opens a dialog inside the failing call or from a worker thread.
    """

    raised = Signal(str)  # the one-line message

    def __init__(self, show: Callable[[str, str], None], log_dir: Path):
        super().__init__()
        self.log_path = Path(log_dir) / ERROR_LOG_NAME
        self._show = show
        self._showing = False
        self._last: tuple[str, float] = ("", 0.0)  # the last message shown, when its box closed
        self._previous = (sys.excepthook, threading.excepthook)
        self.raised.connect(self._show_message, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        """Put back the hooks found by `install` (the window it shows errors in is closing)."""
        sys.excepthook, threading.excepthook = self._previous

    def excepthook(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        text = "".join(traceback.format_exception(kind, error, tb))
        if sys.stderr is not None:
            sys.stderr.write(text)
        self._log(text)
        summary = str(error).strip().splitlines()[0] if str(error).strip() else ""
        line = f"{kind.__name__}: {summary}" if summary else kind.__name__
        self.raised.emit(line[:300])

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def _log(self, text: str) -> None:
        try:
            append_to_log(self.log_path, text)
        except OSError as exc:  # an unwritable log must not hide the error itself
            if sys.stderr is not None:
                sys.stderr.write(f"cannot write {self.log_path}: {exc}\n")

    def _show_message(self, line: str) -> None:
        # Logged, not shown: an error while the last one is on screen, or the same one again just
        # after its box closed (a failing paint would otherwise reopen it forever).
        repeated = line == self._last[0] and time.monotonic() - self._last[1] < REPEAT_QUIET_SECONDS
        if self._showing or repeated:
            return
        self._showing = True
        try:
            self._show(
                "Unexpected error",
                f"Something went wrong inside NetCanvas: {line}\n\n"
                f"The details were written to {self.log_path}",
            )
        finally:
            self._showing = False
            self._last = (line, time.monotonic())


def install_error_router(show: Callable[[str, str], None], log_dir: Path | None = None) -> ErrorRouter:
    """Route uncaught exceptions to `show` (the main window's `show_error`); logs go to `log_dir`
    (default: the user's log folder)."""
    router = ErrorRouter(show, Path(log_dir) if log_dir is not None else user_log_dir())
    router.install()
    return router


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
    router = install_error_router(window.show_error)
    window.show()
    if files:
        window.load_path(Path(files[0]))
    elif DEFAULT_EXAMPLE.exists():
        window.load_path(DEFAULT_EXAMPLE)
    window.view.fit_to_view()
    try:
        return app.exec()
    finally:
        router.uninstall()
