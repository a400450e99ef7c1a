"""Shared test setup.

Qt runs offscreen (set before anything imports Qt). Every test that loaded Qt is checked
afterwards: a top-level window or a running QThread left alive fails it. The check never imports
Qt itself, so the engine tests stay free of it (house rule 1).
"""

from __future__ import annotations

import gc
import os
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _qt_loaded() -> bool:
    return "PySide6.QtWidgets" in sys.modules


def live_windows() -> dict[int, str]:
    """Top-level widgets still alive (tooltips excepted), by C++ address, with a description."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent, Qt
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        return {}
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    from PySide6.QtWidgets import QDialog, QMainWindow

    # Hidden parentless helpers (pyqtgraph's context menus) are not windows a user would see.
    return {
        shiboken6.getCppPointer(w)[0]: type(w).__name__ + (f" {w.windowTitle()!r}" if w.windowTitle() else "")
        for w in QApplication.topLevelWidgets()
        if w.windowType() != Qt.WindowType.ToolTip
        and (w.isVisible() or isinstance(w, (QMainWindow, QDialog)))
    }


def running_threads() -> list:
    """QThreads (created from Python) that are still running, other than the main thread."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QThread

    gc.collect()
    app = QCoreApplication.instance()
    main = app.thread() if app is not None else None
    return [
        obj
        for obj in gc.get_objects()
        if issubclass(type(obj), QThread) and shiboken6.isValid(obj) and obj is not main and obj.isRunning()
    ]


@pytest.fixture(autouse=True)
def no_leftover_windows_or_threads():
    """Fail the test if it leaves a window or a running QThread behind (pytest-qt closes and
    deletes the widgets given to `qtbot.addWidget` before this runs)."""
    before = live_windows() if _qt_loaded() else {}
    yield
    if not _qt_loaded():
        return
    threads = running_threads()
    for thread in threads:  # stop them so the next tests are not blamed
        thread.quit()
        thread.wait(2000)
    windows = [text for address, text in live_windows().items() if address not in before]
    # What is still alive now outlives this test: keep it out of the next tests' collections
    # (each check collects garbage; over the whole suite's heap that took ~1 s a GUI test).
    gc.freeze()
    problems = []
    if windows:
        problems.append(f"windows left alive: {', '.join(windows)} (use qtbot.addWidget)")
    if threads:
        problems.append(f"{len(threads)} QThread(s) left running")
    if problems:
        pytest.fail("; ".join(problems))
