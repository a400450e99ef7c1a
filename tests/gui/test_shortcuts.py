"""Keys and their listing: F5 trains and resumes a paused run (one action), F6 pauses, the
Keyboard Shortcuts window lists every shortcut by a stable action name, and Undo / Redo show
curved arrows that stand out from the toolbar in the light and the dark theme."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

import engine  # noqa: F401  (registers every layer type)
from gui.examples import EXAMPLES_DIR
from gui.main_window import MainWindow
from gui.theme import apply_theme
from gui.training.session import IDLE, PAUSED, RUNNING

SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(window, qtbot):
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    window.activateWindow()
    window.view.setFocus()
    yield window
    apply_theme(QApplication.instance(), "light")


def press(window: MainWindow, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.view, key, modifier)


def steps(window: MainWindow) -> int:
    return window.session.steps_seen


def test_f5_trains_f6_pauses_and_f5_resumes(window, qtbot):
    training = dict(window.document.spec.training, epochs=10_000)  # a run that outlasts the test
    window.document.set_training(training)
    controls = window.training_controls
    press(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.session.state == RUNNING and steps(window) > 5, timeout=60000)
    assert not controls.train.isEnabled()
    press(window, Qt.Key.Key_F6)
    assert window.session.state == PAUSED
    assert controls.train.isEnabled() and controls.train.text().replace("&", "") == "Resume"
    assert controls.pause.isChecked()
    qtbot.wait(300)
    frozen = steps(window)
    qtbot.wait(300)
    assert steps(window) == frozen
    press(window, Qt.Key.Key_F5)  # F5 continues the paused run
    assert window.session.state == RUNNING
    qtbot.waitUntil(lambda: steps(window) > frozen + 5, timeout=10000)
    assert controls.train.text().replace("&", "") == "Train" and not controls.pause.isChecked()
    press(window, Qt.Key.Key_F6)
    press(window, Qt.Key.Key_F6)  # F6 toggles: paused, then running again
    assert window.session.state == RUNNING
    press(window, Qt.Key.Key_F5, SHIFT)
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=5000)
    assert controls.train.isEnabled() and controls.train.text().replace("&", "") == "Train"


def shortcuts_text(window: MainWindow, monkeypatch) -> str:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text, *a, **k: shown.append(text))
    press(window, Qt.Key.Key_F1)  # Help > Keyboard Shortcuts
    assert len(shown) == 1
    return shown[0]


def test_the_shortcuts_window_lists_every_action_by_name(window, monkeypatch):
    window.document.set_node_params("hidden1", {"units": 9})  # Undo's text is now "Undo Set …"
    assert window.actions_.undo.text().replace("&", "").startswith("Undo Set")
    text = shortcuts_text(window, monkeypatch)
    expected = {
        "Train / Resume": "F5",
        "Pause": "F6",
        "Step one batch": "F10",
        "Step one epoch": "Shift+F10",
        "Stop": "Shift+F5",
        "Reset weights": "Ctrl+Shift+R",
        "Undo": "Ctrl+Z",
        "Redo": "Ctrl+Y",
    }
    for name, keys in expected.items():
        assert f"<td>{name}</td><td><b>{keys}" in text, name
    assert "Undo Set" not in text and "Redo Set" not in text
    for action in window.actions():  # and every other shortcut of the window
        for key in action.shortcuts():
            assert key.toString(QKeySequence.SequenceFormat.NativeText) in text, action.text()
    assert text.index("<i>Train</i>") < text.index("<td>Train / Resume</td>")


def icon_colour(icon: QIcon) -> tuple[QColor, int]:
    """The mean colour of an icon's opaque pixels, and how many there are."""
    image = icon.pixmap(24, 24).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    opaque = [p for p in pixels if p.alpha() > 200]
    mean = [sum(getattr(p, c)() for p in opaque) / max(len(opaque), 1) for c in ("red", "green", "blue")]
    return QColor(*(int(v) for v in mean)), len(opaque)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 = none, 21 = black on white)."""

    def luminance(c: QColor) -> float:
        channels = [v / 255 for v in (c.red(), c.green(), c.blue())]
        lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_undo_and_redo_arrows_stand_out_from_the_toolbar(window, qtbot, theme):
    window.actions_.themes[theme].trigger()  # View > Theme
    toolbar = window.toolbar
    dark = theme == "dark"
    qtbot.waitUntil(lambda: (toolbar.palette().color(toolbar.backgroundRole()).lightness() < 128) == dark)
    background = toolbar.palette().color(toolbar.backgroundRole())
    for action in (window.actions_.undo, window.actions_.redo):
        colour, count = icon_colour(toolbar.widgetForAction(action).icon())
        assert count > 40, "the arrow is drawn"
        assert contrast(colour, background) > 4.5, (theme, colour.name(), background.name())
