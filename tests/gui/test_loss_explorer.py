"""The Loss Explorer: typed numbers scored by the engine's losses (the issue's pair: MSE 0.039),
curves and slopes for each task, clear messages for bad input, and its Lessons menu entry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.activations import get_activation
from gui.loss_explorer import LossExplorer
from gui.loss_families import FAMILIES, curves, loss_table

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
PREDICTIONS = [7.6, 8.0, 6.8, 8.9, 7.2, 8.3, 7.0, 8.8, 7.0, 7.6]
TARGETS = [7.8, 8.2, 6.5, 9.1, 7.0, 8.5, 6.9, 8.7, 7.2, 7.8]


@pytest.fixture
def explorer(qtbot) -> LossExplorer:
    widget = LossExplorer()
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    return widget


def type_into(qtbot, field, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def by_hand(errors: list[float]) -> dict[str, float]:
    """MSE, MAE, Huber (δ = 1) and log-cosh of the errors, written out."""
    n = len(errors)
    return {
        "mse": sum(e * e for e in errors) / n,
        "mae": sum(abs(e) for e in errors) / n,
        "huber": sum(0.5 * e * e if abs(e) <= 1 else abs(e) - 0.5 for e in errors) / n,
        "log_cosh": sum(math.log(math.cosh(e)) for e in errors) / n,
    }


def test_the_typed_pair_gives_mse_0_039_and_the_hand_written_values(explorer, qtbot):
    filled: list[int] = []
    explorer.table_filled.connect(filled.append)
    type_into(qtbot, explorer.predictions, ", ".join(map(str, PREDICTIONS)))
    type_into(qtbot, explorer.truth, " ".join(map(str, TARGETS)))  # spaces work as commas
    assert filled[-1] == 4  # the regression losses; the others say why not
    assert explorer.value_of("mse") == "0.039"
    expected = by_hand([p - t for p, t in zip(PREDICTIONS, TARGETS, strict=True)])
    assert expected["mse"] == pytest.approx(0.039) and sum(
        (p - t) ** 2 for p, t in zip(PREDICTIONS, TARGETS, strict=True)
    ) == pytest.approx(0.39)
    rows = {row.name: row for row in loss_table(explorer.predictions.text(), explorer.truth.text())}
    for name, value in expected.items():
        assert rows[name].value == pytest.approx(value, rel=1e-12)
        assert float(explorer.value_of(name)) == pytest.approx(value, rel=1e-5)
    assert explorer.value_of("binary_crossentropy") == "—"
    assert rows["binary_crossentropy"].note == "needs probabilities in [0, 1] as predictions"
    assert explorer.table.item(0, 0).text() == "mse"  # the losses that apply come first


def test_class_probabilities_rows_and_class_numbers(explorer, qtbot):
    type_into(qtbot, explorer.predictions, "0.7 0.2 0.1; 0.1 0.6 0.3")
    type_into(qtbot, explorer.truth, "0; 1")
    cross_entropy = -(math.log(0.7) + math.log(0.6)) / 2
    assert float(explorer.value_of("sparse_categorical_crossentropy")) == pytest.approx(
        cross_entropy, rel=1e-5
    )
    sparsemax = (0.5 * (0.3**2 + 0.2**2 + 0.1**2) + 0.5 * (0.1**2 + 0.4**2 + 0.3**2)) / 2
    assert float(explorer.value_of("sparsemax_loss")) == pytest.approx(sparsemax, rel=1e-5)
    assert explorer.value_of("categorical_crossentropy") == "—"  # it wants one-hot rows


@pytest.mark.parametrize(
    ("predictions", "targets", "message"),
    [
        ("1, 2, 3", "1, 2", "There are 3 predictions but 2 targets"),
        ("1, abc, 3", "1, 2, 3", "'abc' in the predictions is not a number"),
        ("", "1", "Type the predictions"),
        ("1, 2", "1, nan", "The targets must be finite numbers"),
        ("0.5 0.5; 0.2", "0; 1", "Each row of the predictions needs the same count of numbers"),
    ],
)
def test_bad_input_gets_a_clear_message_and_no_table(explorer, qtbot, predictions, targets, message):
    filled: list[int] = []
    explorer.table_filled.connect(filled.append)
    type_into(qtbot, explorer.truth, targets)
    type_into(qtbot, explorer.predictions, predictions)
    assert filled[-1] == 0
    assert explorer.message.text().startswith(message)
    assert explorer.table.rowCount() == 0
    type_into(qtbot, explorer.truth, "1, 2")
    type_into(qtbot, explorer.predictions, "1.5, 2")  # fixed: the message gives way to the table
    assert explorer.message.text() == "4 of 12 losses apply to these numbers"
    assert explorer.value_of("mae") == "0.25"


def test_curves_are_drawn_for_each_task_with_their_formulas(explorer, qtbot):
    for index in (1, 2, 0):  # (it opens on the first)
        family = FAMILIES[index]
        with qtbot.waitSignal(explorer.curves_drawn) as drawn:
            explorer.task.setCurrentIndex(index)
        assert drawn.args == [family.key]
        assert list(explorer.lines) == list(family.losses)
        assert explorer.loss_plot.getAxis("bottom").labelText == family.x_label
        for value_line, slope_line in explorer.lines.values():
            x, y = value_line.getData()
            assert len(x) > 100 and np.all(np.isfinite(y)) and np.all(y >= -1e-12)
            assert np.all(np.isfinite(slope_line.getData()[1]))
        assert all(name in explorer.formulas.text() for name in family.losses)
        if family.key == "multiclass":
            assert "fixed" in explorer.note.text()  # the other scores stay fixed: it says so
            with qtbot.waitSignal(explorer.curves_drawn):
                explorer.ticks["kl_divergence"].click()
            assert "kl_divergence" not in explorer.lines and "kl_divergence" not in explorer.formulas.text()


def test_the_curves_follow_the_target_and_the_textbook(explorer, qtbot):
    explorer.task.setCurrentIndex(0)
    with qtbot.waitSignal(explorer.curves_drawn):
        explorer.regression_target.setValue(2.0)
    x, mse = explorer.lines["mse"][0].getData()
    np.testing.assert_allclose(mse, (x - 2.0) ** 2, rtol=1e-12)
    np.testing.assert_allclose(explorer.lines["mse"][1].getData()[1], 2 * (x - 2.0), rtol=1e-12)
    x, curves_of = curves("binary", 1.0, ["hinge", "binary_crossentropy"])
    np.testing.assert_allclose(curves_of["hinge"][0], np.maximum(1 - x, 0), atol=1e-12)
    np.testing.assert_allclose(curves_of["binary_crossentropy"][0], np.log1p(np.exp(-x)), rtol=1e-9)
    x, curves_of = curves("multiclass", 0.0, ["sparsemax_loss"])
    scores = np.stack([x, np.full_like(x, 1.0), np.full_like(x, -0.5)], axis=1)
    np.testing.assert_allclose(
        curves_of["sparsemax_loss"][1], get_activation("sparsemax").forward(scores)[:, 0] - 1, atol=1e-12
    )


def test_the_lessons_menu_opens_it(window, qtbot):
    action = next(a for a in window.actions_.menus["lessons"].actions() if a.text() == "Loss Explorer…")
    action.trigger()
    dialog = window.loss_explorer
    qtbot.waitExposed(dialog)
    assert dialog.isVisible() and dialog.windowTitle() == "Loss Explorer"
    assert dialog.explorer.value_of("mse") == "0.039"  # it opens on the example pair
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_it_follows_the_open_networks_loss(window, qtbot):
    explorer = window.loss_explorer.explorer
    document = window.document
    document.open_file(EXAMPLES / "spiral.json")
    loss = document.network.training.loss.type
    family = next(f for f in FAMILIES if loss in f.losses)
    assert explorer.family_key() == family.key
    assert (
        explorer.ticks[loss].text() == f"{loss}  (your network's loss)" and explorer.ticks[loss].font().bold()
    )
    document.set_training({**document.spec.training, "loss": "hinge"})
    assert explorer.family_key() == "binary" and "your network's loss" in explorer.ticks["hinge"].text()
    document.undo_stack.undo()
    assert explorer.family_key() == family.key and "your network's loss" in explorer.ticks[loss].text()
