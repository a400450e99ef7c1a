"""The plots among ordinary widgets (the inspector's activation plot, the Loss Explorer) take the
theme's colours, and take them again when the theme changes."""

from __future__ import annotations

from PySide6.QtGui import QPalette

from gui.activation_plot import ActivationPlot
from gui.loss_explorer import LossExplorer
from gui.theme import apply_theme
from tests.gui.test_main_window import restore_theme  # noqa: F401  (a fixture, used by name)


def test_the_plots_follow_a_theme_switch_and_back(qapp, qtbot, restore_theme):  # noqa: F811
    activation, explorer = ActivationPlot(), LossExplorer()
    for widget in (activation, explorer):
        qtbot.addWidget(widget)
        widget.show()
    plots = [activation.plot, explorer.loss_plot, explorer.slope_plot]
    for mode in ("dark", "light", "dark"):
        apply_theme(qapp, mode)
        qapp.processEvents()
        base = qapp.palette().color(QPalette.ColorRole.Base)
        text = qapp.palette().color(QPalette.ColorRole.Text)
        for plot in plots:
            assert plot.backgroundBrush().color() == base, mode
            assert plot.getAxis("bottom").textPen().color() == text, mode
        assert (base.lightness() < 128) == (mode == "dark")
