"""The Summary panel: the Keras-style layer table of `engine.summary.summary_table`, live.

While the network cannot be built it lists the problems instead. `total_parameters` is what the
status bar shows.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from engine.errors import NetCanvasError
from engine.graph import NetworkSpec, ShapeReport
from engine.registry import LAYERS
from engine.summary import summary_table
from gui.document import NetworkDocument
from gui.theme import monospace_font


def node_parameters(spec: NetworkSpec, report: ShapeReport, node_id: str) -> int | None:
    """Weights + biases (+ running statistics) of one node, or None if its inputs are unknown.

    Also None while `report` is older than `spec` (a view asking in the middle of an edit, e.g.
    after a removal took a node's inputs away but before the shapes were inferred again): the
    node is gone, or it has fewer inputs than its layer needs.
    """
    node = spec.nodes.get(node_id)
    if node is None:
        return None
    layer = LAYERS.get(node.type)
    in_shapes = [report.shapes.get(s) for s in spec.inputs_of(node_id)]
    if report.shapes.get(node_id) is None or any(s is None for s in in_shapes):
        return None
    if len(in_shapes) < layer.min_inputs:
        return None
    shapes = layer.weight_shapes(node.params, in_shapes)
    return sum(math.prod(s) for s in shapes.values())


def total_parameters(spec: NetworkSpec, report: ShapeReport) -> int:
    """The sum over every node whose shapes are known (the whole network when it is valid)."""
    counts = (node_parameters(spec, report, nid) for nid in spec.nodes)
    return sum(c for c in counts if c is not None)


def summary_text(spec: NetworkSpec, report: ShapeReport) -> str:
    if report.problems:
        lines = ["The network cannot be built yet:", ""]
        lines += [f"  • {p.message}" for p in report.problems]
        return "\n".join(lines)
    try:
        return summary_table(spec)
    except NetCanvasError as exc:  # a layer refusing its parameters at count time
        return f"The summary cannot be computed: {exc}"


class SummaryView(QWidget):
    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(monospace_font())
        self.text.setToolTip("Layer table: output shape and parameter count of every layer")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        document.shapes_changed.connect(self.refresh)
        document.document_reset.connect(self.refresh)
        document.node_changed.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        text = summary_text(self.document.spec, self.document.shape_report)
        if text != self.text.toPlainText():
            mode = QPlainTextEdit.LineWrapMode  # the table keeps its columns; problem sentences wrap
            self.text.setLineWrapMode(
                mode.WidgetWidth if self.document.shape_report.problems else mode.NoWrap
            )
            self.text.setPlainText(text)
