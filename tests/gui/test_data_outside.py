"""Opening a network file reads no data outside its folder by itself: the Data tab says where the
data points and offers Load; Load (or Train, after asking) reads it; data next to the file loads
at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

import gui.training.session as session_module
from tests.gui.test_main_window import Dialogs

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
Button = QMessageBox.StandardButton


@pytest.fixture
def reads(monkeypatch) -> list[dict]:
    """Every data section the session's loader is asked to read (the real loader still runs)."""
    calls: list[dict] = []
    real = session_module.load_data

    def recording(config, *args, **kwargs):
        calls.append(dict(config))
        return real(config, *args, **kwargs)

    monkeypatch.setattr(session_module, "load_data", recording)
    return calls


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    fake = Dialogs()
    fake.install(monkeypatch)
    return fake


def network_file(folder: Path, data_path: str) -> Path:
    """The CSV example's network, saved in `folder` with its data path set to `data_path`."""
    spec = json.loads((EXAMPLES / "tiny_3_5_1.json").read_text())
    spec["data"]["path"] = data_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "net.json"
    path.write_text(json.dumps(spec))
    return path


def open_via_menu(window, qtbot, dialogs: Dialogs, path: Path):
    dialogs.open_paths.append(str(path))
    window.actions_.open.trigger()
    assert window.document.path == path
    panel = window.training_panel.data_panel
    panel.reveal()
    qtbot.waitUntil(panel.cards.isVisible)
    return panel


@pytest.fixture
def outside(tmp_path) -> Path:
    """A network file in nets/ whose data lies in other/."""
    (tmp_path / "other").mkdir()
    shutil.copy(EXAMPLES / "sphere_3d.csv", tmp_path / "other" / "sphere_3d.csv")
    return network_file(tmp_path / "nets", "../other/sphere_3d.csv")


def test_data_outside_the_files_folder_is_not_read_and_load_reads_it(window, qtbot, dialogs, reads, outside):
    panel = open_via_menu(window, qtbot, dialogs, outside)
    QTest.qWait(200)  # (time for a background read to start, were one started)
    assert reads == [] and not window.session.data_pending() and window.session.dataset is None
    assert panel.load_button.isVisible()
    assert str((outside.parent.parent / "other" / "sphere_3d.csv").resolve()) in panel.held_label.text()
    assert not panel.reload_button.isVisible()

    with qtbot.waitSignal(window.session.data_changed, timeout=10000):
        QTest.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert len(reads) == 1 and reads[0]["path"] == "../other/sphere_3d.csv"
    assert window.session.dataset is not None and len(window.session.dataset) > 0
    assert not panel.held_box.isVisible() and "samples" in panel.summary.text()


def test_train_asks_before_reading_data_outside_the_folder(window, qtbot, dialogs, reads, outside):
    open_via_menu(window, qtbot, dialogs, outside)
    dialogs.answers.append(Button.No)
    window.training_controls.train.trigger()
    assert dialogs.kinds()[-2:] == ["question", "critical"]  # asked; declined: not trained, says why
    assert "outside" in dialogs.calls[-2][2] and reads == []
    assert window.session.state == "idle"

    dialogs.answers.append(Button.Yes)
    window.training_controls.train.trigger()
    assert len(reads) == 1 and window.session.dataset is not None
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == "idle", timeout=20000)


def test_data_next_to_the_network_file_loads_at_once(window, qtbot, dialogs, reads, tmp_path):
    folder = tmp_path / "nets"
    folder.mkdir()
    shutil.copy(EXAMPLES / "sphere_3d.csv", folder / "sphere_3d.csv")
    panel = open_via_menu(window, qtbot, dialogs, network_file(folder, "sphere_3d.csv"))
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert len(reads) == 1 and not panel.held_box.isVisible()
    assert dialogs.kinds() == ["open_dialog"]


def test_a_file_chosen_in_the_data_tab_is_read_wherever_it_is(
    window, qtbot, dialogs, reads, outside, tmp_path
):
    panel = open_via_menu(window, qtbot, dialogs, outside)
    elsewhere = tmp_path / "third" / "arrays.npz"
    elsewhere.parent.mkdir()
    np.savez(elsewhere, x=np.zeros((20, 3), np.float32), y=np.zeros((20, 1), np.float32))
    dialogs.open_paths.append(str(elsewhere))
    panel.choose("npz")
    assert window.session.dataset is not None and len(window.session.dataset) == 20
    assert reads[-1]["path"] == str(elsewhere) and not panel.held_box.isVisible()


def test_undo_back_to_the_files_own_outside_data_reads_nothing(
    window, qtbot, dialogs, reads, outside, tmp_path
):
    panel = open_via_menu(window, qtbot, dialogs, outside)
    mine = tmp_path / "mine.npz"
    np.savez(mine, x=np.zeros((10, 3), np.float32), y=np.zeros((10, 1), np.float32))
    window.document.set_data({"source": "npz", "path": str(mine)})  # an edit: the user's choice
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert [r["path"] for r in reads] == [str(mine)]

    window.document.undo_stack.undo()  # back to the opened file's own data section
    QTest.qWait(200)
    assert [r["path"] for r in reads] == [str(mine)] and panel.load_button.isVisible()
