"""The Data tab's "Image folder" card: a folder chooser, the classes with their image counts, and a
small convolutional network trained on the folder's PNG images from the window."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from gui.training.data_cards import thumbnail
from gui.training.session import IDLE
from tests.engine.test_image_sources import make_png_set, small_cnn


def _click_card(panel, name: str) -> None:
    item = panel.cards.item_for(name)
    panel.cards.scrollToItem(item)
    QTest.mouseClick(
        panel.cards.viewport(), Qt.MouseButton.LeftButton, pos=panel.cards.visualItemRect(item).center()
    )


def test_the_image_folder_card_reads_a_folder_and_trains_on_it(window, qtbot, tmp_path, monkeypatch):
    folder = make_png_set(tmp_path / "shapes")
    spec = small_cnn([1, 16, 16], 3)
    training = {**spec.training, "epochs": 15, "batch_size": 8, "seed": 0}
    doc = {"format": "netcanvas", "format_version": 1, **spec.to_dict(), "training": training}
    (tmp_path / "net.json").write_text(json.dumps(doc))
    assert window.load_path(tmp_path / "net.json")
    panel = window.training_panel.data_panel
    panel.reveal()
    qtbot.waitUntil(panel.cards.isVisible)
    assert not thumbnail("image_folder").isNull()
    answers = ["", str(folder)]  # the first time the dialog is cancelled
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: answers.pop(0))
    _click_card(panel, "image_folder")
    assert window.document.spec.data.get("source") != "image_folder"
    _click_card(panel, "image_folder")
    assert window.document.spec.data == {"source": "image_folder", "path": str(folder), "val_split": 0.2}
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert panel.cards.current_name() == "image_folder"
    assert (
        f"Folder: {folder}" in panel.location.text()
        and panel.change_button.text() == "Choose another folder…"
    )
    assert "36 samples of shape (1, 16, 16)" in panel.summary.text()
    assert "Classes: bars 12, columns 12, square 12" in panel.summary.text()
    assert not panel.split_row.isHidden()  # the validation part is cut from the folder's images
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=60000)
    history = window.document.network.history.epochs
    assert len(history["loss"]) == 15 and history["val_accuracy"][-1] >= 0.9


def test_colour_images_are_previewed_in_colour(window, qtbot, tmp_path, monkeypatch):
    Image = __import__("PIL.Image", fromlist=["Image"])
    import numpy as np

    for name, colour in (("blue", (20, 40, 230)), ("red", (230, 30, 20))):
        (tmp_path / "png" / name).mkdir(parents=True)
        for i in range(4):
            pixels = np.zeros((12, 12, 3), np.uint8)
            pixels[2 + i : 9 + i, 2:9] = colour
            Image.fromarray(pixels, "RGB").save(tmp_path / "png" / name / f"{i}.png")
    spec = small_cnn([3, 12, 12], 2)
    doc = {"format": "netcanvas", "format_version": 1, **spec.to_dict()}
    (tmp_path / "net.json").write_text(json.dumps(doc))
    assert window.load_path(tmp_path / "net.json")
    panel = window.training_panel.data_panel
    panel.reveal()
    qtbot.waitUntil(panel.cards.isVisible)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(tmp_path / "png"))
    _click_card(panel, "image_folder")
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert "8 samples of shape (3, 12, 12)" in panel.summary.text()
    shot = panel.preview.grab().toImage()
    colours = {
        (c.red() > 150 and c.blue() < 100, c.blue() > 150 and c.red() < 100)
        for c in (
            shot.pixelColor(x, y) for x in range(0, shot.width(), 2) for y in range(0, shot.height(), 2)
        )
    }
    assert (True, False) in colours and (False, True) in colours  # red and blue pictures, not grey


def test_a_chosen_folder_is_read_off_the_gui_thread_and_a_bad_one_says_why(
    window, qtbot, tmp_path, monkeypatch
):
    import threading

    import engine.data.sources as sources

    folder = make_png_set(tmp_path / "shapes")
    (tmp_path / "bad" / "only_class").mkdir(parents=True)
    spec = small_cnn([1, 16, 16], 3)
    doc = {"format": "netcanvas", "format_version": 1, **spec.to_dict()}
    (tmp_path / "net.json").write_text(json.dumps(doc))
    assert window.load_path(tmp_path / "net.json")
    panel = window.training_panel.data_panel
    panel.reveal()
    qtbot.waitUntil(panel.cards.isVisible)
    readers = []
    real = sources.load_image_folder

    def reading(*args, **kwargs):
        readers.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(sources, "load_image_folder", reading)
    answers = [str(folder), str(tmp_path / "bad")]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: answers.pop(0))
    _click_card(panel, "image_folder")
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert readers and threading.main_thread() not in readers
    panel.change_button.click()
    qtbot.waitUntil(lambda: "Data not loaded" in panel.summary.text(), timeout=10000)
    assert "at least two classes" in panel.summary.text()
    assert window.document.spec.data["path"] == str(tmp_path / "bad")
