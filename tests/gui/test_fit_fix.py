"""The data-fit fix from the window: the offered fix is clicked, then one epoch trains; the
status bar's problem indicator counts "no data chosen" and data that does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from gui.training.session import IDLE

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


@pytest.fixture
def dialogs(monkeypatch):
    """Answers each "Data and network disagree" box by clicking the button whose text starts
    with the next answer; records every box's text (and fails on a box with no such button)."""
    answers: list[str] = []
    shown: list[str] = []

    def exec_(box: QMessageBox) -> int:
        shown.append(box.text())
        wanted = answers.pop(0)
        button = next(b for b in box.buttons() if b.text().startswith(wanted))
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: shown.append(f"error: {text}"))
    return answers, shown


def _open_with(win, qtbot, example: str, data: dict) -> None:
    assert win.load_path(EXAMPLES / example)
    win.document.set_data(data)
    win.document.set_training({**win.document.spec.training, "epochs": 1})
    qtbot.waitUntil(lambda: not win.session.data_pending() and win.session.dataset is not None, timeout=10000)


def _indicator(win) -> str:
    return win.problems_button.text()


def _train_one_epoch(win, qtbot) -> None:
    with qtbot.waitSignal(win.session.finished, timeout=30000) as finished:
        win.training_controls.train.trigger()
    assert finished.args[0].reason == "finished", finished.args[0].message
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=10000)
    history = win.document.network.history.epochs
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])


@pytest.mark.parametrize(
    ("loss", "answer"),
    [
        ("binary_crossentropy", "Set 'out' to 1 sigmoid unit"),
        ("mse", "Set 'out' to 1 sigmoid unit and the loss to binary_crossentropy"),
    ],
)
def test_clicking_the_offered_fix_gives_a_network_that_trains(window, qtbot, dialogs, loss, answer):
    answers, shown = dialogs
    _open_with(window, qtbot, "xor.json", {"source": "xor", "n": 120, "seed": 0})
    doc = window.document
    doc.set_training({**doc.spec.training, "loss": {"type": loss}})
    doc.set_node_params("out", {"units": 32, "activation": "relu"})
    assert _indicator(window) == "⚠ 1 problem"  # foreseen before Train is pressed
    assert "the data has 2 classes but the output 'out' has 32 unit(s)" in window.problems_button.toolTip()
    edits = doc.undo_stack.count()

    answers.append(answer)
    _train_one_epoch(window, qtbot)
    assert shown == ["The data has 2 classes but the output 'out' has 32 unit(s)."]
    out = doc.spec.nodes["out"].params
    assert (out["units"], out["activation"], doc.spec.training["loss"]["type"]) == (
        1,
        "sigmoid",
        "binary_crossentropy",
    )
    assert _indicator(window) == "✓ No problems"

    # the fix is one undo entry: below the Train entry, and undoing it restores units and loss together
    assert doc.undo_stack.count() == edits + 2
    assert doc.undo_stack.text(edits) == answer
    doc.undo_stack.setIndex(edits)
    out = doc.spec.nodes["out"].params
    assert (out["units"], out["activation"], doc.spec.training["loss"]["type"]) == (32, "relu", loss)
    assert _indicator(window) == "⚠ 1 problem"


def test_three_classes_from_the_window_after_input_and_output_fixes(window, qtbot, dialogs):
    answers, shown = dialogs
    _open_with(window, qtbot, "sine.json", {"source": "spiral_multiclass", "n": 90, "classes": 3, "seed": 0})
    answers.extend(
        [
            "Set Input 'in' to shape [2]",
            "Set 'out' to 3 softmax units and the loss to sparse_categorical_crossentropy",
        ]
    )
    _train_one_epoch(window, qtbot)
    assert len(shown) == 2 and answers == []
    assert window.document.spec.training["loss"]["type"] == "sparse_categorical_crossentropy"


def test_cancel_leaves_the_network_as_it_was(window, qtbot, dialogs):
    answers, shown = dialogs
    _open_with(window, qtbot, "xor.json", {"source": "spiral_multiclass", "n": 90, "classes": 3, "seed": 0})
    answers.append("Cancel")
    window.training_controls.train.trigger()
    assert len(shown) == 1 and window.session.state == IDLE
    assert window.document.spec.nodes["out"].params["units"] == 1


def test_the_indicator_and_the_problems_panel_count_no_data_and_data_that_does_not_fit(window, qtbot):
    window.actions_.new.trigger()
    # an empty network, and no data chosen
    assert _indicator(window) == "⚠ 2 problems"
    assert "no data chosen: choose a data source in the Data tab" in window.problems_button.toolTip()
    assert window.problems.messages()[-1] == "[data] no data chosen: choose a data source in the Data tab"

    assert window.load_path(EXAMPLES / "spiral.json")
    qtbot.waitUntil(lambda: _indicator(window) == "✓ No problems", timeout=10000)
    assert window.problems.messages() == ["No problems: the network can be built and trained."]

    window.document.set_data({"source": "spiral_multiclass", "n": 90, "classes": 3, "seed": 0})
    qtbot.waitUntil(lambda: _indicator(window) == "⚠ 1 problem", timeout=10000)  # once the data is read
    assert "3 classes" in window.problems_button.toolTip()
    assert window.problems.messages() == ["[data] the data has 3 classes but the output 'out' has 1 unit(s)"]

    window.document.set_data({})
    assert _indicator(window) == "⚠ 1 problem" and "no data chosen" in window.problems_button.toolTip()
    # the indicator opens the Problems panel; the problem there leads to the Data tab
    window.docks["summary"].raise_()
    QTest.mouseClick(window.problems_button, Qt.MouseButton.LeftButton)
    problems = window.problems.list
    assert window.docks["problems"].isVisible() and problems.isVisible()
    QTest.mouseClick(
        problems.viewport(), Qt.MouseButton.LeftButton, pos=problems.visualItemRect(problems.item(0)).center()
    )
    panel = window.training_panel
    assert panel.tabs.currentWidget() is panel.data_panel and window.docks["training"].isVisible()

    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: _indicator(window) == "✓ No problems", timeout=10000)


def test_softmax_over_one_unit_gets_a_badge_from_the_inspector(window, qtbot):
    assert window.load_path(EXAMPLES / "xor.json")
    window.document.set_selection(["out"])
    combo = window.inspector.page.form.fields["activation"].input
    combo.setFocus()
    combo.setCurrentIndex(combo.findText("softmax"))  # what picking it from the list does
    message = "Dense 'out': softmax over 1 unit is always 1: use sigmoid"
    assert [(p.node_id, p.message) for p in window.document.shape_report.problems] == [("out", message)]
    item = window.view.node_item("out")
    assert item.content.problem == message and item.toolTip() == message
    assert _indicator(window).startswith("⚠")
    window.actions_.undo.trigger()
    assert not window.view.node_item("out").content.problem
