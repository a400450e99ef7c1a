"""The Data tab, driven as a user would: a card per source, the parameters beside them, the split
hidden where the source has its own test set, MNIST downloaded with progress and Cancel from a
local mirror on 127.0.0.1, and every message about missing data pointing at the tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

from engine.data.download import CACHE_ENV, MIRROR_ENV
from engine.registry import DATASETS
from gui.training.data_cards import thumbnail
from tests.engine.data_server import mnist_mirror_root, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def window(window, cache):
    yield window
    window.training_panel.data_panel.download.cancel()
    window.training_panel.data_panel.download.wait(10)


def _open(win, qtbot, example: str):
    assert win.load_path(EXAMPLES / example)
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=10000)
    panel = win.training_panel.data_panel
    panel.reveal()
    qtbot.waitUntil(panel.cards.isVisible)
    return panel


def _click_card(qtbot, panel, name: str) -> None:
    item = panel.cards.item_for(name)
    panel.cards.scrollToItem(item)
    QTest.mouseClick(
        panel.cards.viewport(), Qt.MouseButton.LeftButton, pos=panel.cards.visualItemRect(item).center()
    )


def _errors(monkeypatch) -> list[str]:
    """The messages shown as errors (gui.errors shows each in a critical message box)."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: shown.append(text))
    return shown


def test_every_source_is_a_card_and_each_synthetic_set_has_its_own_picture(window, qtbot):
    panel = _open(window, qtbot, "xor.json")
    names = [panel.cards.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.cards.count())]
    assert names == [*DATASETS.names(), "mnist", "fashion_mnist", "csv", "npz", "image_folder"]
    assert all(not panel.cards.item(i).icon().isNull() for i in range(panel.cards.count()))
    pictures = {
        name: thumbnail(name).toImage().convertToFormat(QImage.Format.Format_RGB32)
        for name in DATASETS.names()
    }
    arrays = {name: np.frombuffer(image.constBits(), np.uint8).copy() for name, image in pictures.items()}
    assert len({array.tobytes() for array in arrays.values()}) == len(arrays)  # all different
    assert all(array.std() > 10 for array in arrays.values())  # points drawn, not a blank square
    assert panel.cards.current_name() == "xor"


def test_a_card_click_chooses_the_set_and_its_parameters_sit_beside_it(window, qtbot):
    panel = _open(window, qtbot, "xor.json")
    entries = window.document.undo_stack.count()
    _click_card(qtbot, panel, "circle")
    assert window.document.spec.data["source"] == "circle"
    assert window.document.undo_stack.count() == entries + 1
    assert panel.cards.current_name() == "circle"
    labels = [label.text() for label in panel.form.findChildren(QLabel)]
    assert {"Samples", "Noise", "Seed"} <= set(labels)
    assert panel.split_row.isVisible()
    samples = panel.form.fields["n"].input
    samples.setFocus()
    samples.selectAll()
    QTest.keyClicks(samples, "300")
    QTest.keyClick(samples, Qt.Key.Key_Return)
    assert window.document.spec.data["n"] == 300
    assert len(window.session.dataset) == 300 and "300 samples" in panel.summary.text()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert window.document.spec.data["source"] == "xor" and panel.cards.current_name() == "xor"


def test_mnist_card_hides_the_split_and_offers_the_download(window, qtbot, monkeypatch):
    panel = _open(window, qtbot, "xor.json")
    _click_card(qtbot, panel, "mnist")
    assert window.document.spec.data == {"source": "mnist"}
    assert not panel.split_row.isVisible()
    assert panel.download.isVisible() and panel.download.start_button.text() == "Download MNIST"
    assert "not downloaded yet" in panel.download.status.text()
    shown = _errors(monkeypatch)
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "MNIST is not downloaded yet" in shown[-1] and "download it in the Data tab" in shown[-1]
    _click_card(qtbot, panel, "spiral")
    assert panel.split_row.isVisible() and not panel.download.isVisible()


def test_download_with_progress_cancel_and_retry(window, qtbot, tmp_path, cache, monkeypatch):
    with serve(mnist_mirror_root(tmp_path)) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        server.damage[f"mnist/{TRAIN_IMAGES}"] = "slow"
        panel = _open(window, qtbot, "mnist_mlp.json")
        box = panel.download
        assert box.isVisible() and not panel.split_row.isVisible()
        values: list[int] = []
        box.bar.valueChanged.connect(values.append)
        QTest.mouseClick(box.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: box.bar.value() > 500, timeout=10000)  # kB: the app stays responsive
        assert box.cancel_button.isVisible() and not box.start_button.isVisible()
        with qtbot.waitSignal(box.finished, timeout=10000) as ended:
            QTest.mouseClick(box.cancel_button, Qt.MouseButton.LeftButton)
        assert ended.args == ["mnist", False]
        assert "Download of MNIST cancelled" in box.status.text()
        left = sorted(p.name for p in (cache / "mnist").iterdir())
        assert TRAIN_IMAGES not in left and not [n for n in left if n.startswith("tmp")]
        assert box.start_button.isVisible()

        server.damage.clear()
        values.clear()
        with qtbot.waitSignal(box.finished, timeout=30000) as ended:
            QTest.mouseClick(box.start_button, Qt.MouseButton.LeftButton)
        assert ended.args == ["mnist", True]
        assert len(set(values)) > 5 and values[-1] == box.bar.maximum()
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=20000)
    assert len(window.session.dataset) == 60000 and not box.isVisible()
    assert "60000 samples" in panel.summary.text() and "own test set" in panel.summary.text()


def test_a_damaged_download_says_so_in_the_tab(window, qtbot, tmp_path, cache, monkeypatch):
    with serve(mnist_mirror_root(tmp_path)) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        server.damage[f"mnist/{TRAIN_IMAGES}"] = "corrupt"
        panel = _open(window, qtbot, "mnist_mlp.json")
        with qtbot.waitSignal(panel.download.finished, timeout=30000) as ended:
            QTest.mouseClick(panel.download.start_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["mnist", False]
    assert "could not be downloaded" in panel.download.status.text()
    assert "SHA-256 does not match" in panel.download.status.text()
    assert TRAIN_IMAGES not in [p.name for p in (cache / "mnist").iterdir()]


def test_file_cards_ask_for_the_file_and_cancel_keeps_the_source(window, qtbot, monkeypatch, tmp_path):
    panel = _open(window, qtbot, "xor.json")
    answers = [""]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (answers.pop(0), ""))
    _click_card(qtbot, panel, "npz")
    assert window.document.spec.data["source"] == "xor" and panel.cards.current_name() == "xor"
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "own.npz",
        x=rng.random((40, 2)),
        y=rng.integers(0, 2, 40),
        x_val=rng.random((10, 2)),
        y_val=rng.integers(0, 2, 10),
    )
    answers.append(str(tmp_path / "own.npz"))
    _click_card(qtbot, panel, "npz")
    assert window.document.spec.data["source"] == "npz" and panel.cards.current_name() == "npz"
    assert not panel.split_row.isVisible()  # the archive brings its own validation set
    assert "own.npz" in panel.location.text()


def test_missing_data_messages_point_to_the_data_tab(window, qtbot, monkeypatch):
    _open(window, qtbot, "xor.json")
    window.document.set_data({})
    panel = window.training_panel.data_panel
    assert panel.cards.current_name() is None and "No data chosen" in panel.summary.text()
    assert "No data chosen" in window.inspector.page.data_summary.text()
    shown = _errors(monkeypatch)
    window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "choose one in the Data tab" in shown[-1]


def test_the_inspector_button_opens_the_data_tab(window, qtbot):
    _open(window, qtbot, "xor.json")
    panel = window.training_panel
    panel.tabs.setCurrentWidget(panel.curves)
    window.document.set_selection([])
    page = window.inspector.page
    assert "<b>xor</b>" in page.data_summary.text()
    QTest.mouseClick(page.data_button, Qt.MouseButton.LeftButton)
    assert panel.tabs.currentWidget() is panel.data_panel
    assert panel.data_panel.isVisible()


def test_data_that_cannot_be_read_counts_as_a_problem(window, qtbot, cache):
    """The MNIST example with nothing downloaded yet: the status bar never says "No problems"
    before a Train that would fail; it counts the unreadable data, and says why."""
    _open(window, qtbot, "mnist_mlp.json")
    qtbot.waitUntil(lambda: window.problems_button.text() == "⚠ 1 problem", timeout=10000)
    assert "not downloaded yet" in window.problems_button.toolTip()
    window.document.set_data({"source": "xor"})  # readable data: the problem goes with it
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=10000)
    assert "not downloaded" not in window.problems_button.toolTip()


def test_data_preview_colours_points_by_class_with_one_brush_per_class(window, qtbot):
    from gui.training.surface_view import CLASS_COLOURS

    _open(window, qtbot, "xor.json")
    (scatter,) = window.training_panel.data_panel.preview.ci.getItem(0, 0).listDataItems()
    brushes = list(scatter.data["brush"])
    y = window.session.dataset.y.reshape(-1).astype(int)
    assert len(brushes) == len(y) and len({id(b) for b in brushes}) == len(set(y))  # shared per class
    assert [b.color().name() for b in brushes] == [CLASS_COLOURS[c] for c in y]


def test_image_data_preview_is_one_mosaic_captioned_by_class(window, qtbot, tmp_path):
    from gui.training.data_panel import THUMBNAIL_COLUMNS, THUMBNAILS
    from gui.training.image_grid import TILE_GAP

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 30)
    np.savez(tmp_path / "digits.npz", x=rng.random((30, 784)).astype(np.float32), y=y)
    _open(window, qtbot, "xor.json")
    assert window.training_panel.data_panel.apply_config(
        {"source": "npz", "path": str(tmp_path / "digits.npz")}
    )
    box = window.training_panel.data_panel.preview.ci.getItem(0, 0)
    image, captions = box.addedItems
    rows = THUMBNAILS // THUMBNAIL_COLUMNS
    assert image.image.shape == (
        rows * (28 + TILE_GAP) - TILE_GAP,
        THUMBNAIL_COLUMNS * (28 + TILE_GAP) - TILE_GAP,
        4,
    )
    assert [text for *_, text, _ in captions.labels] == [str(c) for c in y[:THUMBNAILS]]
