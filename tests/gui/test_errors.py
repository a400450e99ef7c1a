"""One place for errors: every error path of the window ends in `gui.errors.show_error`, over the
main window, with the engine's message; no other module opens an error or warning box itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine import io as engine_io
from engine.errors import NetCanvasError
from gui import errors
from gui.app import install_error_router
from gui.examples import EXAMPLES_DIR
from gui.training.session import IDLE
from tests.gui.test_training import _exploding_network

ROOT = Path(__file__).resolve().parents[2]
ONE_PLACE = ROOT / "gui" / "errors.py"
ERROR_BOXES = ("critical", "warning")


def error_box_uses(source: str) -> list[int]:
    """Lines of `source` that use QMessageBox.critical or QMessageBox.warning (called or passed on)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr in ERROR_BOXES
        and isinstance(node.value, ast.Name)
        and node.value.id == "QMessageBox"
    ]


def test_only_the_one_place_opens_an_error_box() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "gui").rglob("*.py"))
        if path != ONE_PLACE and (lines := error_box_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    assert error_box_uses(ONE_PLACE.read_text(encoding="utf-8"))  # (it does, through Qt)


def test_the_check_finds_an_error_box() -> None:
    assert error_box_uses('QMessageBox.warning(self, "Data", problem)') == [1]
    assert error_box_uses("x = 1\nshow = QMessageBox.critical") == [2]
    assert error_box_uses('QMessageBox.question(self, "Save?", "")') == []


@pytest.fixture
def shown(window, monkeypatch) -> list[tuple[str, str]]:
    """The errors shown, as (title, message); each must appear over the main window."""
    seen: list[tuple[str, str]] = []

    def show_error(parent, title: str, message: str) -> None:
        assert parent is not None and parent.window() is window, f"{title}: not over the window"
        seen.append((title, message))

    monkeypatch.setattr(errors, "show_error", show_error)
    return seen


def test_a_network_file_that_cannot_be_opened(window, shown, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(NetCanvasError) as info:
        engine_io.load(bad)
    assert not window.load_path(bad)
    assert shown == [("Cannot open the network", str(info.value))]


def test_a_data_file_that_fails_to_load(window, qtbot, shown, tmp_path):
    assert window.load_path(EXAMPLES_DIR / "xor.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n0.1,0.2,0\n0.3,oops,1\n")
    data_panel = window.training_panel.data_panel
    assert not data_panel.apply_config({"source": "csv", "path": str(bad), "target": "label"})
    assert len(shown) == 1
    title, message = shown[0]
    assert title == "Data" and "bad.csv" in message and "oops" in message


def test_train_without_data(window, shown):
    window.document.new_document()
    window.training_controls.train.trigger()
    assert shown == [("Data", "the network has no data source: choose one in the Data tab")]


def test_an_export_that_fails(window, shown, monkeypatch, tmp_path):
    assert window.load_path(EXAMPLES_DIR / "xor.json")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)  # untrained
    target = tmp_path / "no such folder" / "net.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    python = next(a for a in window.export_menu.actions() if "Python" in a.text() or "NumPy" in a.text())
    python.trigger()
    assert len(shown) == 1
    title, message = shown[0]
    assert title == "Cannot export the network" and "no such folder" in message
    assert not target.exists()


def test_an_onnx_file_that_cannot_be_imported(window, shown, monkeypatch, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nonsense")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    window.maybe_save = lambda: True
    importer = next(a for a in window.actions_.file_menu.actions() if "ONNX" in a.text())
    importer.trigger()
    assert len(shown) == 1 and shown[0][0] == "Cannot import the ONNX model"
    assert shown[0][1].startswith("bad.onnx: not a")


def test_a_plot_that_cannot_be_written(window, shown, monkeypatch, tmp_path):
    target = tmp_path / "no such folder" / "plot.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.training_panel.export_png()
    assert shown == [("Export", f"{target}: could not write the image")]


def test_a_diverged_run(window, qtbot, shown):
    window.document.load_network(_exploding_network())
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    with qtbot.waitSignal(window.session.finished, timeout=20000) as ended:
        window.training_controls.train.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=20000)
    result = ended.args[0]
    assert result.reason == "diverged"
    assert shown == [("Training stopped", result.message)]
    assert "learning rate" in result.message


def test_an_exception_nothing_caught(window, qtbot, shown, tmp_path):
    router = install_error_router(window.show_error, tmp_path / "log")
    try:
        router.excepthook(ValueError, ValueError("boom"), None)
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    finally:
        router.uninstall()
    assert shown[0][0] == "Unexpected error" and "ValueError: boom" in shown[0][1]
