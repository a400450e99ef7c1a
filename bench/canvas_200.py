"""How the canvas copes with a 200-node network (a chain with residual skip connections).

Reports the median time to load it into a NetworkDocument + CanvasView, to auto-layout it (one
undo entry, items following), per full viewport repaint (whole network in view, and at 100 %),
and per node drag step (move a card a few pixels, let Qt repaint what changed). Offscreen.

    python bench/canvas_200.py [--nodes 200] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEvent, QObject, QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.graph import NetworkSpec  # noqa: E402
from engine.network import Network  # noqa: E402
from gui.canvas.view import CanvasView  # noqa: E402
from gui.document import NetworkDocument  # noqa: E402

SKIP_EVERY = 5  # an Add joins the chain with the node 5 steps back, every 5 nodes


def residual_chain(count: int) -> NetworkSpec:
    """Input -> Dense ... with an Add every SKIP_EVERY nodes, placed by hand in rows of 20
    (so auto-layout has work to do)."""
    spec = NetworkSpec(metadata={"name": f"{count}-node residual chain"})
    spec.add_node("Input", {"shape": [32]}, node_id="n0")
    for index in range(1, count):
        node_id, previous = f"n{index}", f"n{index - 1}"
        pos = ((index % 20) * 240.0, (index // 20) * 160.0)
        if index % SKIP_EVERY == 0 and index > SKIP_EVERY:
            spec.add_node("Add", pos=pos, node_id=node_id)
            spec.connect(previous, node_id)
            spec.connect(f"n{index - SKIP_EVERY}", node_id)
        else:
            spec.add_node("Dense", {"units": 32, "activation": "relu"}, pos, node_id)
            spec.connect(previous, node_id)
    return spec


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    spec = residual_chain(args.nodes)

    views: list[CanvasView] = []

    def load() -> None:
        document = NetworkDocument(Network(spec.copy()))
        view = CanvasView(document)
        view.resize(1280, 800)
        view.show()
        app.processEvents()
        views.append(view)

    load_ms = []
    for _ in range(3):
        load_ms.append(timed(load))
        if len(views) > 1:
            views.pop(0).deleteLater()
    view = views[-1]
    document = view.document

    layout_ms = []
    for _ in range(3):
        layout_ms.append(timed(lambda: (document.auto_layout(), app.processEvents())))
        document.undo_stack.undo()
    document.auto_layout()
    app.processEvents()

    counter = PaintCounter()
    view.viewport().installEventFilter(counter)
    view.fit_to_view()
    fit_scale = view.scale_factor()
    app.processEvents()
    fit_ms = [timed(view.viewport().repaint) for _ in range(args.repeats)]
    view.reset_zoom()
    middle = view.node_item(f"n{args.nodes // 2}")
    view.centerOn(middle)
    app.processEvents()
    full_ms = [timed(view.viewport().repaint) for _ in range(args.repeats)]

    painted_before = counter.count
    drag_ms = []
    for step in range(args.repeats):
        delta = QPointF(3.0, 2.0) if step % 20 < 10 else QPointF(-3.0, -2.0)
        drag_ms.append(timed(lambda d=delta: (middle.setPos(middle.pos() + d), app.processEvents())))
    paints = counter.count - painted_before

    rows = [
        ("load into document + view", load_ms),
        ("auto_layout (one undo entry)", layout_ms),
        (f"full repaint, whole network ({fit_scale:.0%})", fit_ms),
        ("full repaint, 100 % zoom", full_ms),
        ("node drag step, 100 % zoom", drag_ms),
    ]
    print(
        f"canvas_200: {len(spec.nodes)} nodes, {len(spec.edges)} edges, viewport 1280x800, "
        f"platform {app.platformName()}"
    )
    print(f"{'step':<38}{'median ms':>10}{'max ms':>9}{'runs':>6}")
    for name, values in rows:
        print(f"{name:<38}{statistics.median(values):>10.2f}{max(values):>9.2f}{len(values):>6}")
    print(f"(drag: {paints} viewport paints for {len(drag_ms)} steps)")
    total = statistics.median(load_ms) + statistics.median(layout_ms)
    print(
        f"open + lay out the {len(spec.nodes)}-node network: {total:.0f} ms; "
        f"repaint {statistics.median(fit_ms):.1f} ms (whole) / {statistics.median(full_ms):.1f} ms (100 %); "
        f"drag step {statistics.median(drag_ms):.1f} ms (60 Hz budget: 16.7 ms)"
    )
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
