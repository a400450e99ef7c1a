"""The network editor canvas: CanvasView (QGraphicsView) over a CanvasScene mirroring a
NetworkDocument. A view of the document: the model imports nothing from here."""

from gui.canvas.scene import CanvasScene
from gui.canvas.view import CanvasView

__all__ = ["CanvasScene", "CanvasView"]
