"""Exporting a network that was never trained: the window asks first, the CLI warns on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

import engine
from engine.cli.commands import run_cli
from engine.export import export_network, import_onnx
from engine.export.untrained import untrained_warning
from gui.training.session import IDLE

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
UNTRAINED = "'XOR' has never been trained: the export holds its random initial weights"


@pytest.fixture
def questions(monkeypatch):
    """Records each question; answers with the next of `answers` (a StandardButton)."""
    asked: list[str] = []
    answers: list[QMessageBox.StandardButton] = []

    def question(_parent, title, text, *args, **kwargs):
        asked.append(f"{title}: {text}")
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked, answers


def _export_entry(win):
    return next(a for a in win.export_menu.actions() if "NumPy" in a.text() or "Python" in a.text())


def test_the_window_asks_before_exporting_an_untrained_network(
    window, qtbot, questions, monkeypatch, tmp_path
):
    asked, answers = questions
    target = tmp_path / "xor_model.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.load_path(EXAMPLES / "xor.json")
    entry = _export_entry(window)

    answers.append(QMessageBox.StandardButton.Cancel)
    entry.trigger()
    assert len(asked) == 1 and UNTRAINED[1:] in asked[0] and "Export it anyway?" in asked[0]
    assert not target.exists()

    answers.append(QMessageBox.StandardButton.Yes)
    entry.trigger()
    assert target.is_file()
    target.unlink()

    # one epoch of training, and the export is written without a question
    window.document.set_data({"source": "xor", "n": 80, "seed": 0})
    window.document.set_training({**window.document.spec.training, "epochs": 1})
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.training_controls.train.trigger()
    qtbot.waitUntil(
        lambda: window.session.state == IDLE and window.document.network.history.steps > 0, timeout=30000
    )
    entry.trigger()
    assert target.is_file() and len(asked) == 2


def test_the_cli_warns_on_stderr(tmp_path, capsys):
    out = tmp_path / "model.py"
    assert run_cli(["export", str(EXAMPLES / "xor.json"), "--format", "python", "-o", str(out)]) == 0
    assert f"warning: {UNTRAINED}" in capsys.readouterr().err
    assert out.is_file()


def test_weights_that_changed_or_came_from_onnx_are_not_warned_about(tmp_path):
    pytest.importorskip("onnx", reason="the ONNX round trip needs the 'onnx' package")
    network = engine.load(EXAMPLES / "xor.json")
    assert untrained_warning(network) == UNTRAINED
    weights = network.get_weights()
    weights[0] += 0.5  # as a model trained elsewhere has them
    network.set_weights(weights)
    assert untrained_warning(network) is None
    export_network(network, "onnx", tmp_path / "m.onnx")
    assert untrained_warning(import_onnx(tmp_path / "m.onnx")) is None
