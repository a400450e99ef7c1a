"""A small plot of an activation function and its derivative over x in [-5, 5].

Shown in the inspector under the activation choice of Dense and Activation layers: the curve
is what the layer outputs, the derivative is what backpropagation multiplies gradients by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.errors import NetCanvasError
from engine.registry import ACTIVATIONS
from gui.themed_plots import colour_plot

X_RANGE = (-5.0, 5.0)
CURVE_COLOR = "#3b82f6"
DERIVATIVE_COLOR = "#f59e0b"
CAPTION = (
    "The derivative f′(x) is what backpropagation multiplies the gradient by: "
    "where it is close to 0, learning stalls."
)


def activation_curve(
    name: str, alpha: float | None = None, x: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, f(x), f'(x)) for the registered activation `name` (x: 201 points in X_RANGE)."""
    if x is None:
        x = np.linspace(*X_RANGE, 201)
    entry = ACTIVATIONS.get(name)
    params: dict[str, Any] = {}
    if alpha is not None and any(s.name == "alpha" for s in getattr(entry, "param_specs", ())):
        params["alpha"] = alpha
    a, da = entry(**params).curve(x)
    return x, np.asarray(a, dtype=float), np.asarray(da, dtype=float)


class ActivationPlot(QWidget):
    """Formula line, plot of f and f′ with a legend, and a one-line caption."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name: str | None = None
        self.alpha: float | None = None
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setMaximumHeight(190)
        self.plot.setMenuEnabled(False)
        for menu in (self.plot.plotItem.ctrlMenu, self.plot.plotItem.vb.menu):
            if menu is not None:  # parentless pyqtgraph menus: delete them with this widget
                menu.setParent(self, menu.windowFlags())
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setXRange(*X_RANGE, padding=0.02)
        self.plot.addLine(x=0, pen=pg.mkPen((128, 128, 128, 110)))
        self.plot.addLine(y=0, pen=pg.mkPen((128, 128, 128, 110)))
        self.legend = self.plot.addLegend(offset=(6, 4), labelTextSize="8pt")
        self.curve = self.plot.plot(name="f(x)", pen=pg.mkPen(CURVE_COLOR, width=2.2))
        self.derivative = self.plot.plot(
            name="f′(x)", pen=pg.mkPen(DERIVATIVE_COLOR, width=2, style=Qt.PenStyle.DashLine)
        )
        self.plot.setToolTip(
            "The activation f(x) (solid) and its derivative f′(x) (dashed) for inputs from -5 to 5"
        )
        self.caption = QLabel(CAPTION)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 6)
        layout.setSpacing(3)
        layout.addWidget(self.formula)
        layout.addWidget(self.plot)
        layout.addWidget(self.caption)
        self._apply_palette()

    def set_activation(self, name: str, alpha: float | None = None) -> None:
        """Plot activation `name` (with `alpha` for the ones that take it)."""
        if (name, alpha) == (self.name, self.alpha):
            return
        self.name, self.alpha = name, alpha
        try:
            x, a, da = activation_curve(name, alpha)
        except (NetCanvasError, TypeError, ValueError) as exc:
            self.curve.setData([], [])
            self.derivative.setData([], [])
            self.formula.setText(f"Cannot plot '{name}': {exc}")
            return
        self.curve.setData(x, a)
        self.derivative.setData(x, da)
        low = float(min(np.nanmin(a), np.nanmin(da), 0.0))
        high = float(max(np.nanmax(a), np.nanmax(da), 1.0))
        self.plot.setYRange(low, high, padding=0.08)
        entry = ACTIVATIONS.get(name)
        formula = getattr(entry, "formula", "") or ""
        description = getattr(entry, "description", "") or ""
        self.formula.setText(f"<code>{formula}</code><br>{description}")
        self.formula.setToolTip(description)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        text, base = colour_plot(self.plot, palette), palette.color(QPalette.ColorRole.Base)
        self.legend.setLabelTextColor(text)
        self.legend.setBrush(pg.mkBrush(QColor(base.red(), base.green(), base.blue(), 210)))
        for _sample, label in self.legend.items:
            label.setText(label.text, color=text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
        self.caption.setStyleSheet(f"color: {muted}; font-size: 8.5pt;")


def _demo() -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    import engine  # noqa: F401  (registers every activation)
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    plot = ActivationPlot()
    plot.set_activation(sys.argv[1] if len(sys.argv) > 1 else "tanh")
    plot.resize(340, 300)
    plot.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_demo())
