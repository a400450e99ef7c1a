"""File > Save As proposes a sensible file: `.ncv` once trained, in the user's folder, never the
installed examples' folder. The save dialog is replaced by a stub that records what it proposed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

import engine  # noqa: F401  (registers every layer type)
from gui.examples import EXAMPLES_DIR
from gui.main_window import MainWindow
from gui.training.session import IDLE


class SaveDialog:
    """Stands in for QFileDialog.getSaveFileName: records the proposal, answers from a queue."""

    def __init__(self) -> None:
        self.proposed: list[tuple[Path, str]] = []  # (proposed path, preselected filter)
        self.answers: list[Path] = []

    def __call__(self, _parent, _title, start="", filters="", selected="", *_args, **_kwargs):
        self.proposed.append((Path(start), selected))
        return (str(self.answers.pop(0)) if self.answers else ""), selected


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home folder with a Documents folder, so no test proposes the real user's folders."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


@pytest.fixture
def save_dialog(monkeypatch) -> SaveDialog:
    stub = SaveDialog()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", stub)
    return stub


@pytest.fixture
def window(window, home):
    return window


def train_one_batch(win: MainWindow, qtbot) -> None:
    """Step one batch (from idle: a paused run), then Stop: the network has trained weights."""
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)
    win.training_controls.step.trigger()
    qtbot.waitUntil(lambda: win.session.worker is not None and win.session.steps_seen >= 1, timeout=20000)
    win.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=10000)
    assert win.document.network.history.steps >= 1


def test_save_as_after_training_an_example_proposes_ncv_in_documents(window, qtbot, home, save_dialog):
    assert window.load_path(EXAMPLES_DIR / "xor.json")
    train_one_batch(window, qtbot)
    save_dialog.answers.append(home / "Documents" / "xor.ncv")
    window.actions_.save.trigger()  # an example is never overwritten: Save asks for a name
    proposed, selected = save_dialog.proposed[-1]
    assert proposed == home / "Documents" / "xor.ncv"
    assert "*.ncv" in selected
    saved = home / "Documents" / "xor.ncv"
    assert window.document.path == saved and saved.is_file()
    assert engine.load(saved).history.steps == window.document.network.history.steps


def test_save_as_proposes_the_last_folder_used_never_the_examples(window, qtbot, tmp_path, save_dialog):
    work = tmp_path / "work"
    work.mkdir()
    save_dialog.answers.append(work / "mine.json")
    window.actions_.save_as.trigger()
    assert save_dialog.proposed[-1][0].suffix == ".json"  # nothing trained: settings only
    assert (work / "mine.json").is_file()
    assert window.load_path(EXAMPLES_DIR / "spiral.json")  # opening an example keeps the user's folder
    assert window.statusBar().currentMessage() == "Opened the example spiral"  # not site-packages/...
    window.actions_.save_as.trigger()  # cancelled
    assert save_dialog.proposed[-1] == (work / "spiral.json", "Network settings (*.json)")
    train_one_batch(window, qtbot)
    window.actions_.save_as.trigger()
    assert save_dialog.proposed[-1][0] == work / "spiral.ncv"
    assert all(path.parent != EXAMPLES_DIR for path, _ in save_dialog.proposed)


def test_save_as_with_a_stale_examples_folder_setting_proposes_documents(window, home, save_dialog):
    window.settings.set_last_directory(EXAMPLES_DIR / "xor.json")  # as older versions remembered it
    window.actions_.new.trigger()
    window.actions_.save_as.trigger()
    assert save_dialog.proposed[-1][0] == home / "Documents" / "network.json"
