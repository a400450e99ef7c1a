"""Design / Train workspaces with the user's own dock layout each, a run switching to Train, and a
canvas that opens each network at a readable scale (and an empty one saying what to do)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QColor

from gui.app_settings import AppSettings
from gui.examples import EXAMPLES_DIR
from gui.main_window import MainWindow
from gui.training.session import IDLE
from gui.workspaces import DESIGN, TRAIN


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Shown main windows on one settings INI under tmp_path; closed (saving their layout) here."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow(
            settings=AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        )
        window.maybe_save = lambda: True
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        qtbot.wait(50)  # the docks settle at their default sizes
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.session.shutdown()
        window.close()
        window.deleteLater()


def shown(window: MainWindow, key: str) -> bool:
    """The dock is on screen and not hidden behind another tab."""
    dock = window.docks[key]
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def test_each_workspace_keeps_the_users_own_layout(make_window, qtbot):
    window = make_window()
    workspaces = window.workspaces
    assert workspaces.current == DESIGN and workspaces.actions[DESIGN].isChecked()
    assert shown(window, "palette") and shown(window, "inspector") and not shown(window, "training")
    design_canvas = window.view.height()

    workspaces.actions[TRAIN].trigger()  # the toolbar's "Train" button
    qtbot.wait(50)
    assert workspaces.current == TRAIN and workspaces.actions[TRAIN].isChecked()
    assert shown(window, "training") and not shown(window, "palette")
    assert window.docks["training"].height() > 0.5 * window.height() > window.view.height()
    assert window.view.height() < design_canvas
    window.docks["summary"].toggleViewAction().trigger()  # the user's own Train layout
    window.docks["inspector"].toggleViewAction().trigger()
    assert shown(window, "summary") and not shown(window, "inspector")

    window.workspaces.actions[DESIGN].trigger()
    qtbot.wait(50)
    assert shown(window, "palette") and shown(window, "inspector") and not shown(window, "training")
    assert window.view.height() == design_canvas
    window.docks["palette"].toggleViewAction().trigger()  # the user's own Design layout
    assert not shown(window, "palette")

    window.workspaces.actions[TRAIN].trigger()
    qtbot.wait(50)
    assert shown(window, "summary") and not shown(window, "inspector") and shown(window, "training")
    window.workspaces.actions[DESIGN].trigger()
    qtbot.wait(50)
    assert not shown(window, "palette") and shown(window, "inspector")
    window.close()

    again = make_window()  # both layouts outlive the window
    assert again.workspaces.current == DESIGN and not shown(again, "palette")
    again.workspaces.actions[TRAIN].trigger()
    qtbot.wait(50)
    assert shown(again, "summary") and not shown(again, "inspector")


def test_a_run_switches_to_the_train_workspace(make_window, qtbot):
    window = make_window()
    assert window.load_path(EXAMPLES_DIR / "xor.json")
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    assert window.workspaces.current == DESIGN
    with qtbot.waitSignal(window.session.run_started, timeout=20000):
        window.training_controls.step.trigger()  # "Step one batch" starts a run too
    qtbot.wait(50)
    assert window.workspaces.current == TRAIN and window.workspaces.actions[TRAIN].isChecked()
    assert shown(window, "training") and window.docks["training"].height() > 0.5 * window.height()
    window.training_controls.stop.trigger()
    qtbot.waitUntil(lambda: window.session.state == IDLE, timeout=10000)


def card_text_px(window: MainWindow) -> float:
    """The smallest text height on a card, in screen pixels at the current zoom."""
    view = window.view
    dpi = view.logicalDpiY()
    sizes = [f.pointSizeF() * dpi / 72.0 for f in view.canvas_scene.theme.fonts.values()]
    return min(sizes) * view.scale_factor()


def visible_rect(window: MainWindow):
    view = window.view
    return view.mapToScene(view.viewport().rect()).boundingRect()


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_an_opened_network_fits_at_a_readable_scale(make_window, size):
    window = make_window()
    window.resize(*size)
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    window.view.fit_to_view()  # (what opening does once the window has settled)
    assert visible_rect(window).contains(window.view.canvas_scene.content_rect())
    assert card_text_px(window) >= 9.0

    assert window.load_path(EXAMPLES_DIR / "vanishing_gradients.json")  # ten layers in a row
    window.view.fit_to_view()
    assert card_text_px(window) >= 9.0
    first = window.view.node_item("in").sceneBoundingRect()
    assert visible_rect(window).contains(first), "the input end is shown"
    scale = window.view.scale_factor()
    window.view.ensureVisible(window.view.node_item("out"))  # and the rest is a scroll away
    assert visible_rect(window).contains(window.view.node_item("out").sceneBoundingRect())
    assert window.view.scale_factor() == scale


def hint_pixels(window: MainWindow) -> int:
    """Pixels of text colour in a band across the middle of the canvas."""
    image = window.view.viewport().grab().toImage()
    muted = QColor(window.view.canvas_scene.theme.muted)
    middle = image.height() // 2
    band = QRect(0, middle - 8, image.width(), 16)
    count = 0
    for y in range(band.top(), band.bottom(), 2):
        for x in range(0, image.width(), 2):
            pixel = QColor(image.pixel(x, y))
            if abs(pixel.lightness() - muted.lightness()) < 30 and pixel.saturation() < 40:
                count += 1
    return count


def test_new_keeps_no_zoom_and_an_empty_canvas_says_what_to_do(make_window, qtbot):
    window = make_window()
    assert window.load_path(EXAMPLES_DIR / "spiral.json")
    for _ in range(3):
        window.actions_.zoom_in.trigger()
    assert window.view.scale_factor() > 1.5
    window.actions_.new.trigger()
    qtbot.waitUntil(lambda: window.view.scale_factor() == pytest.approx(1.0))
    assert not window.document.spec.nodes
    assert visible_rect(window).contains(0.0, 0.0)
    assert hint_pixels(window) > 40, "no 'Drag a layer here from the palette' on the empty canvas"
    window.document.add_node("Dense", (5000.0, 5000.0))  # a layer, out of sight
    qtbot.wait(20)
    assert hint_pixels(window) < 10


def test_workspace_switch_is_in_the_view_menu_with_shortcuts(make_window):
    window = make_window()
    menu = window.workspaces.menu
    assert [a.text().replace("&", "") for a in menu.actions()] == ["Design", "Train"]
    keys = {a.shortcut().toString() for a in menu.actions()}
    assert keys == {"Ctrl+Shift+D", "Ctrl+Shift+T"}
    others = [a for a in window.actions() if a not in menu.actions()]
    assert not any(s.toString() in keys for a in others for s in a.shortcuts()), "a shortcut is taken twice"
    assert window.workspaces.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextOnly


def test_the_window_fits_1280_by_800_with_every_panel(make_window, qtbot):
    """No panel's minimum size makes the window grow past a 1280x800 screen, in either workspace,
    with the Lesson, Step-through and Runs panels shown as well."""
    window = make_window()
    for key in ("lesson", "step_through", "runs"):
        window.docks[key].show()
    for workspace in (TRAIN, DESIGN):
        window.workspaces.actions[workspace].trigger()
        qtbot.wait(50)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, (workspace, hint)
        assert window.width() <= 1280 and window.height() <= 800, (workspace, window.size())
