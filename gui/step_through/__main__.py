"""`python -m gui.step_through [file]`: the Step-through panel alone, walking the first training
sample of the XOR example (or of a network file with a data section)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from engine import io
from engine.examples import example_path
from gui.document import NetworkDocument
from gui.step_through.panel import StepThroughPanel
from gui.training.session import TrainingSession


def main(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication(argv)
    path = argv[1] if len(argv) > 1 else example_path("xor")
    document = NetworkDocument(io.load(path), path)
    session = TrainingSession(document)
    problem = session.load_data()
    if problem:
        print(f"{path}: {problem}", file=sys.stderr)
        return 1
    panel = StepThroughPanel(session)
    panel.setWindowTitle(f"Step-through · {document.spec.metadata.get('name') or path}")
    panel.resize(900, 560)
    panel.show()
    panel.show_sample(0, "train")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
