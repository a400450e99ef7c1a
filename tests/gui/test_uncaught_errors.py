"""Select All + Delete leaves an empty canvas; any uncaught exception reaches the window's one
error place (`MainWindow.show_error`), its traceback in the log file, never only on stderr."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

import engine  # noqa: F401  (registers every layer type)
from gui.app import ERROR_LOG_NAME, install_error_router
from gui.examples import EXAMPLES_DIR

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def window(window):
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    return window


@pytest.fixture
def critical(monkeypatch) -> list[tuple[str, str]]:
    """The error boxes shown, as (title, text)."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text, *a, **k: shown.append((title, text)))
    return shown


@pytest.fixture
def router(window, tmp_path):
    router = install_error_router(window.show_error, tmp_path / "log")
    yield router
    router.uninstall()


def test_select_all_then_delete_leaves_an_empty_canvas(window, critical):
    # (pytest-qt fails this test if any slot raises, as the Inspector's IndexError did)
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_A, CTRL)
    assert window.document.selected_ids == list(window.document.spec.nodes)
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert window.document.spec.nodes == {}
    assert window.view.canvas_scene.node_items == {}
    assert window.document.selected_ids == []
    assert critical == []
    QTest.keyClick(window.view, Qt.Key.Key_Z, CTRL)  # and it all comes back
    assert len(window.document.spec.nodes) == 4
    QTest.keyClick(window.view, Qt.Key.Key_Y, CTRL)
    assert window.document.spec.nodes == {}


def test_redo_of_a_delete_with_every_layer_selected(window, critical):
    # Redo removes the layers one by one while the rest are still selected: the Inspector must
    # not ask for the parameter count of a layer whose inputs are already gone.
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_A, CTRL)
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    QTest.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    QTest.keyClick(window.view, Qt.Key.Key_A, CTRL)
    assert len(window.document.selected_ids) == 4
    QTest.keyClick(window.view, Qt.Key.Key_Y, CTRL)
    assert window.document.spec.nodes == {}
    assert window.document.selected_ids == []
    assert critical == []


def test_an_exception_in_a_slot_is_shown_and_logged(window, router, critical, qtbot, capsys):
    def broken() -> None:
        raise RuntimeError("the layout engine fell over\nsecond line")

    window.document.auto_layout = broken  # Auto-Layout's slot calls it
    window.actions_.auto_layout.trigger()
    qtbot.waitUntil(lambda: bool(critical))
    ((title, text),) = critical
    assert title == "Unexpected error"
    assert "RuntimeError: the layout engine fell over" in text and "second line" not in text
    log = router.log_path
    assert log == router.log_path.parent / ERROR_LOG_NAME and str(log) in text
    assert "in broken" in log.read_text() and "second line" in log.read_text()
    assert "RuntimeError: the layout engine fell over" in capsys.readouterr().err
    window.actions_.auto_layout.trigger()  # the same error again at once: logged, not shown again
    qtbot.waitUntil(lambda: log.read_text().count("in broken") == 2)
    qtbot.wait(50)
    assert len(critical) == 1


def test_an_exception_in_a_thread_reaches_the_window(window, router, critical, qtbot):
    def work() -> None:
        raise ValueError("no such column 'label'")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert critical == []  # shown by the GUI thread, from its event loop
    qtbot.waitUntil(lambda: bool(critical))
    assert "ValueError: no such column 'label'" in critical[0][1]
    assert "in work" in router.log_path.read_text()
