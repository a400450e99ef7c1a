"""The Lessons menu and the Lesson panel, driven as a student would: open a lesson from the menu,
read it beside its network, press its buttons, go to the next one, open something else."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from engine.lessons import list_lessons
from gui.lessons import DOCK_KEY

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"


def lesson_actions(window):
    """The Lessons menu's entries before its first separator."""
    entries = []
    for action in window.actions_.menus["lessons"].actions():
        if action.isSeparator():
            return entries
        entries.append(action)
    raise AssertionError("the lessons are followed by a separator")


def open_lesson(window, qtbot, number: int):
    lesson_actions(window)[number - 1].trigger()
    qtbot.waitUntil(lambda: window.docks[DOCK_KEY].isVisible())
    return window.lessons


def button(panel, text: str) -> QPushButton:
    return next(b for b in panel.tries.findChildren(QPushButton) if b.text() == text)


def test_the_menu_lists_every_lesson_first_then_a_separator(window):
    names = [a.text().split("  ", 1)[1] for a in lesson_actions(window)]
    assert names == [lesson.name for lesson in list_lessons()] and len(names) == 11
    assert names[0] == "The neuron" and names[-1].startswith("MNIST")
    assert not window.docks[DOCK_KEY].isVisible()  # until a lesson is opened


def test_a_lesson_opens_its_network_unmodified_beside_its_text(window, qtbot, monkeypatch, tmp_path):
    panel = open_lesson(window, qtbot, 1)
    assert window.document.path == LESSONS / "01_neuron.json" and not window.document.is_modified()
    assert window.document.network.count_params() == 26
    assert "Where the 26 parameters come from" in panel.text.toPlainText()
    assert panel.position.text() == "Lesson 1 of 11" and not panel.previous.isEnabled()
    area = window.dockWidgetArea(window.docks[DOCK_KEY])
    assert area == Qt.DockWidgetArea.RightDockWidgetArea
    asked = []
    target = tmp_path / "mine.json"

    def save_as(*args, **kwargs):
        asked.append(args)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    before = (LESSONS / "01_neuron.json").read_bytes()
    assert window.save_file()
    assert asked and target.is_file() and (LESSONS / "01_neuron.json").read_bytes() == before


def test_next_and_previous_walk_the_lessons(window, qtbot):
    panel = open_lesson(window, qtbot, 1)
    qtbot.mouseClick(panel.next, Qt.MouseButton.LeftButton)
    assert window.document.path.name == "02_forward_pass.json"
    assert panel.position.text() == "Lesson 2 of 11" and "W⁽ˡ⁾" in panel.text.toPlainText()
    qtbot.mouseClick(panel.previous, Qt.MouseButton.LeftButton)
    assert window.document.path.name == "01_neuron.json"
    panel = open_lesson(window, qtbot, 11)
    assert not panel.next.isEnabled() and window.document.network.model.input_shape() == (784,)


def test_another_file_or_new_says_the_lesson_is_closed_and_reopen_brings_it_back(window, qtbot):
    panel = open_lesson(window, qtbot, 6)
    assert not panel.notice.isVisible()
    window.new_file()
    assert panel.notice.isVisible() and "Another network is open" in panel.notice.text()
    assert not panel.tries.isEnabled()
    qtbot.mouseClick(panel.reopen, Qt.MouseButton.LeftButton)
    assert window.document.path.name == "06_learning_rate.json"
    assert not panel.notice.isVisible() and panel.tries.isEnabled()


def test_a_lessons_network_opened_as_a_file_shows_its_lesson(window, qtbot):
    """As from the command line or File > Open: the panel shows that lesson, brought to the front."""
    assert window.lessons.lesson is None and not window.docks[DOCK_KEY].isVisible()
    relative = os.path.relpath(LESSONS / "03_backpropagation.json")  # as typed on a command line
    assert window.open_file(relative)
    qtbot.waitUntil(lambda: window.docks[DOCK_KEY].isVisible())
    panel = window.lessons
    assert panel.position.text() == "Lesson 3 of 11" and not panel.notice.isVisible()
    assert window.dockWidgetArea(window.docks[DOCK_KEY]) == Qt.DockWidgetArea.RightDockWidgetArea
    window.open_file(LESSONS / "05_choosing_a_loss.json")
    assert panel.position.text() == "Lesson 5 of 11" and panel.tries.isEnabled()
    window.new_file()
    assert panel.notice.isVisible() and panel.position.text() == "Lesson 5 of 11"


def test_a_try_button_is_one_undoable_edit(window, qtbot):
    panel = open_lesson(window, qtbot, 7)
    activations = lambda: {  # noqa: E731
        n.id: n.params["activation"] for n in window.document.spec.nodes.values() if n.type == "Dense"
    }
    assert set(activations().values()) == {"sigmoid"}
    qtbot.mouseClick(button(panel, "Hidden layers: relu"), Qt.MouseButton.LeftButton)
    after = activations()
    assert after.pop("out") == "sigmoid" and set(after.values()) == {"relu"} and len(after) == 8
    assert window.document.undo_stack.count() == 1 and window.document.is_modified()
    window.document.undo_stack.undo()
    assert set(activations().values()) == {"sigmoid"}
    panel = open_lesson(window, qtbot, 6)
    qtbot.mouseClick(button(panel, "Learning rate 30.0"), Qt.MouseButton.LeftButton)
    assert window.document.spec.training["optimizer"]["learning_rate"] == 30.0
    assert window.document.spec.training["pace"] == 40.0  # the rest of the settings stay


def test_fit_all_five_draws_the_five_fits_together(window, qtbot):
    panel = open_lesson(window, qtbot, 10)
    fits = panel.fits
    assert fits is not None and fits.button.text() == "Fit all five"
    with qtbot.waitSignal(fits.fits_done, timeout=60_000):
        qtbot.mouseClick(fits.button, Qt.MouseButton.LeftButton)
    assert [fit.units for fit in fits.fits] == [1, 2, 4, 8, 16]
    assert fits.fits[0].val_mse > 0.1 and fits.fits[-1].val_mse < 0.01
    assert len(fits.plot.getPlotItem().listDataItems()) == 6  # the data and five curves
    assert fits.button.isEnabled() and not fits.running
    assert "0.0" in fits.status.text()
    open_lesson(window, qtbot, 9)
    assert panel.fits is None  # a lesson without fits has no plot


def test_closing_the_window_during_the_fits_waits_for_them(window, qtbot):
    panel = open_lesson(window, qtbot, 10)
    qtbot.mouseClick(panel.fits.button, Qt.MouseButton.LeftButton)
    assert panel.fits.running
    window.close()
    assert not panel.fits.running and panel.fits.button.isEnabled()


def test_the_lesson_dock_survives_switching_workspaces(window, qtbot):
    open_lesson(window, qtbot, 3)
    dock = window.docks[DOCK_KEY]
    for key in ("train", "design"):
        window.workspaces.switch(key)
        assert window.dockWidgetArea(dock) != Qt.DockWidgetArea.NoDockWidgetArea or dock.isFloating()
    assert dock.isVisible()


def test_the_panels_widgets_have_names_for_screen_readers(window, qtbot):
    from tests.gui.test_accessibility import unnamed

    for number in (7, 10):  # buttons to try; the fits plot
        open_lesson(window, qtbot, number)
        assert sorted(unnamed(window.docks[DOCK_KEY])) == []
