"""The output's class probabilities as bars, the largest (the prediction) marked, the target
class outlined."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

PLAIN, PREDICTED = "#94a3b8", "#2563eb"


class OutputBars(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, title="Output probabilities")
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setLabel("bottom", "class")
        self.getPlotItem().vb.disableAutoRange()
        self.bar_item: pg.BarGraphItem | None = None
        self.prediction: int | None = None
        self.setMinimumWidth(160)

    def show_probabilities(self, probabilities: np.ndarray, target: int | None) -> None:
        """Bars for `probabilities` (n,), the largest in blue (the prediction); the target class
        (or None) outlined in black; the title says whether the prediction is the target."""
        p = np.asarray(probabilities, np.float64).reshape(-1)
        self.prediction = int(p.argmax())
        if self.bar_item is not None:
            self.removeItem(self.bar_item)
        brushes = [PREDICTED if i == self.prediction else PLAIN for i in range(p.size)]
        pens = [pg.mkPen("#0f172a", width=2.5) if i == target else pg.mkPen(None) for i in range(p.size)]
        self.bar_item = pg.BarGraphItem(x=np.arange(p.size), height=p, width=0.8, brushes=brushes, pens=pens)
        self.addItem(self.bar_item)
        self.getAxis("bottom").setTicks([[(i, str(i)) for i in range(p.size)]])
        self.getPlotItem().vb.setRange(xRange=(-0.6, p.size - 0.4), yRange=(0, 1.05), padding=0)
        verdict = "" if target is None else (" ✓" if target == self.prediction else f" ✗ (target {target})")
        self.setTitle(f"Prediction {self.prediction}{verdict}", size="10pt")
