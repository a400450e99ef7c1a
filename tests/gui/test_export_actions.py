"""The Export / Import ONNX entries: file dialogs and message boxes monkeypatched, real exports."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

import engine
from gui.export_actions import export_dialog, import_onnx_dialog

pytest.importorskip("onnx", reason="the ONNX entries need the 'onnx' package")


@pytest.fixture
def window(qtbot):
    w = QMainWindow()
    qtbot.addWidget(w)
    return w


@pytest.fixture(autouse=True)
def export_untrained(monkeypatch):
    """These networks are untrained: the question asked before exporting one is answered Yes
    (tests/gui/test_export_untrained.py tests the question itself)."""
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)


@pytest.fixture
def messages(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    return shown


def _network():
    spec = engine.NetworkSpec()
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 3, "activation": "relu"}, node_id="h")
    spec.add_node("Dense", {"units": 1}, node_id="out")
    spec.connect("in", "h")
    spec.connect("h", "out")
    return engine.Network(spec)


def test_export_then_import_onnx(window, messages, monkeypatch, tmp_path):
    target = tmp_path / "net"  # no suffix: the format's is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    export_dialog(window, _network(), "onnx")
    assert messages == []
    assert (tmp_path / "net.onnx").is_file()
    assert "Exported onnx: net.onnx" in window.statusBar().currentMessage()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "net.onnx"), ""))
    network = import_onnx_dialog(window)
    assert sorted(network.spec.nodes) == ["h", "in", "out"]


def test_pytorch_export_asks_for_a_folder(window, messages, monkeypatch, tmp_path):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "pkg"))
    export_dialog(window, _network(), "pytorch")
    assert (tmp_path / "pkg" / "model.py").is_file() and messages == []


def test_errors_show_the_cli_message(window, messages, monkeypatch, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nonsense")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    assert import_onnx_dialog(window) is None
    assert messages and messages[0].startswith("bad.onnx: not a")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    export_dialog(window, _network(), "python")  # cancelled: nothing happens
    assert len(messages) == 1


def test_main_window_menu_exports_and_imports(qtbot, messages, monkeypatch, tmp_path):
    from gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.maybe_save = lambda: True
    win.document.load_network(_network())
    entries = {a.text(): a for a in win.export_menu.actions()}
    assert len(entries) >= 3
    onnx_entry = next(a for text, a in entries.items() if "ONNX" in text)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "m.onnx"), ""))
    onnx_entry.trigger()
    assert (tmp_path / "m.onnx").is_file() and messages == []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "m.onnx"), ""))
    file_menu = win.actions_.file_menu
    next(a for a in file_menu.actions() if a.text().startswith("&Import ONNX")).trigger()
    assert sorted(win.document.spec.nodes) == ["h", "in", "out"]
