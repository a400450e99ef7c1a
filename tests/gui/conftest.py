"""Fixtures shared by the GUI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.training.control import TrainingControl
from gui.app_settings import AppSettings
from gui.document import NetworkDocument
from gui.gui_thread_gc import collect_on_gui_thread
from gui.main_window import MainWindow


@pytest.fixture(autouse=True, scope="session")
def garbage_collected_on_the_gui_thread(qapp) -> None:
    """As in the app (gui/gui_thread_gc.py): a cycle of Qt objects freed on a worker thread
    crashes the process, so the GUI tests too collect on the GUI thread only."""
    collect_on_gui_thread()


@pytest.fixture(autouse=True)
def unexpected_error_box(monkeypatch) -> None:
    """Every error reaches the user in a message box (gui.errors); offscreen nobody closes it, so
    one that a test did not answer (by replacing QMessageBox.critical) fails the test with its
    text instead of blocking it forever."""

    def fail(_parent, title, text, *_args, **_kwargs):
        pytest.fail(f"unexpected error box: {title}: {text}")

    monkeypatch.setattr(QMessageBox, "critical", fail)


@pytest.fixture(autouse=True)
def examples_at_full_speed(request, monkeypatch) -> None:
    """The lesson examples open at a watchable pace (a spiral run takes ~20 s): the tests train
    them as fast as they go, except a test that asks for `watchable_pace` (the pace's own)."""
    if "watchable_pace" not in request.fixturenames:
        monkeypatch.setattr(TrainingControl, "set_pace", lambda _control, _steps_per_second: None)


@pytest.fixture
def watchable_pace() -> None:
    """Training in this test keeps the pace chosen (see `examples_at_full_speed`)."""


@pytest.fixture
def doc(qapp) -> NetworkDocument:
    """An empty document (a test file may override it with a populated one)."""
    return NetworkDocument()


@pytest.fixture
def window(qtbot, tmp_path) -> Iterator[MainWindow]:
    """The main window at 1280x800, shown, with an empty network. Its settings live in an INI
    file under tmp_path, so the user's real settings are never read or written; closing it never
    asks about unsaved changes (pytest-qt closes it; they are not the point). A test file that
    needs more (an example opened, a theme) overrides it, asking for this one by name."""
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.maybe_save = lambda: True
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.session.shutdown()
