"""The network editor canvas: CanvasView (QGraphicsView) over a CanvasScene mirroring a
NetworkDocument. `from gui.canvas import CanvasView` imports lazily, so `gui.document` can use
`gui.canvas.layout` without importing Qt widgets in a cycle."""

from __future__ import annotations

from typing import Any

__all__ = ["CanvasScene", "CanvasView"]


def __getattr__(name: str) -> Any:
    if name == "CanvasView":
        from gui.canvas.view import CanvasView

        return CanvasView
    if name == "CanvasScene":
        from gui.canvas.scene import CanvasScene

        return CanvasScene
    raise AttributeError(f"module 'gui.canvas' has no attribute {name!r}")
