"""`python -m gui.canvas [file]`: the canvas alone, with a sample network or a network file."""

from __future__ import annotations

import sys

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication

from engine.graph import NetworkSpec
from engine.network import Network
from gui.canvas.view import CanvasView
from gui.document import NetworkDocument


def sample_network() -> Network:
    """A small MNIST classifier with a residual block."""
    spec = NetworkSpec(metadata={"name": "Residual MLP"})
    spec.add_node("Input", {"shape": [1, 28, 28]}, node_id="image")
    spec.add_node("Flatten", node_id="flatten")
    spec.add_node("Dense", {"units": 128, "activation": "relu"}, node_id="hidden")
    spec.add_node("BatchNormalization", node_id="norm")
    spec.add_node("Dense", {"units": 128, "activation": "relu"}, node_id="block")
    spec.add_node("Add", node_id="skip")
    spec.add_node("Dropout", {"rate": 0.2}, node_id="dropout")
    spec.add_node("Dense", {"units": 10, "activation": "softmax"}, node_id="digits")
    for edge in [
        ("image", "flatten"),
        ("flatten", "hidden"),
        ("hidden", "norm"),
        ("norm", "block"),
        ("hidden", "skip"),
        ("block", "skip"),
        ("skip", "dropout"),
        ("dropout", "digits"),
    ]:
        spec.connect(*edge)
    return Network(spec)


def main(argv: list[str]) -> int:
    app = QApplication(argv)
    document = NetworkDocument(sample_network())
    document.auto_layout()
    document.undo_stack.clear()
    if len(argv) > 1:
        document.open_file(argv[1])
    view = CanvasView(document)
    view.setWindowTitle("NetCanvas — canvas")
    view.resize(1280, 640)
    QShortcut(QKeySequence.StandardKey.Undo, view, document.undo_stack.undo)
    QShortcut(QKeySequence.StandardKey.Redo, view, document.undo_stack.redo)
    QShortcut(QKeySequence("L"), view, document.auto_layout)
    QShortcut(QKeySequence("F"), view, view.fit_to_view)
    view.show()
    view.fit_to_view()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
