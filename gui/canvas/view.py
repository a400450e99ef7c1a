"""CanvasView: the network editor canvas (zoom, pan, select, move, connect, drop, export).

Every edit goes through the document: a palette drop calls `add_node`, a port drag ends in
`connect`, a finished move becomes one `move_nodes` (one undo entry per drag, at release),
Del calls `remove_nodes`/`disconnect`. The scene then updates the items from the signals.
Pan with the middle button or space + left drag; zoom with the wheel around the cursor.
"""

from __future__ import annotations

import math
import os

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QCursor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QWidget

from engine.errors import NetCanvasError
from gui.canvas.edge_item import EdgeItem, PreviewEdge
from gui.canvas.node_item import HEIGHT, WIDTH, CanvasTheme, NodeItem
from gui.canvas.port_item import ConnectHint, PortItem
from gui.canvas.scene import CanvasScene
from gui.document import LAYER_MIME, NetworkDocument
from gui.network_layout import free_position

GRID = 24.0
MIN_TEXT_PX = 9.0  # fit_to_view never shrinks a card's text below this many pixels
EMPTY_HINT = "Drag a layer here from the palette"
MIN_SCALE, MAX_SCALE = 0.02, 4.0
ZOOM_STEP = 1.25


class CanvasView(QGraphicsView):
    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.canvas_scene = CanvasScene(document, CanvasTheme.from_palette(self.palette(), self.font()), self)
        self.setScene(self.canvas_scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hint = ConnectHint()
        self.canvas_scene.addItem(self.hint)
        self._link: dict | None = None  # the connection being dragged
        self._pan_from: QPoint | None = None
        self._space = False
        self._press_positions: dict[str, QPointF] = {}
        # the empty-canvas hint is drawn in view coordinates: repaint it whole when it comes or goes
        for signal in (document.node_added, document.node_removed, document.document_reset):
            signal.connect(lambda *_args: self.viewport().update())

    # ------------------------------------------------------------------ public
    def node_item(self, node_id: str) -> NodeItem | None:
        return self.canvas_scene.node_items.get(node_id)

    def edge_item(self, source: str, target: str) -> EdgeItem | None:
        return self.canvas_scene.edge_items.get((source, target))

    def scale_factor(self) -> float:
        return self.transform().m11()

    def zoom_in(self) -> None:
        self._zoom(ZOOM_STEP, under_mouse=False)

    def zoom_out(self) -> None:
        self._zoom(1 / ZOOM_STEP, under_mouse=False)

    def reset_zoom(self) -> None:
        self._zoom(1.0 / self.scale_factor(), under_mouse=False)

    def readable_scale(self) -> float:
        """The smallest zoom at which every text on a card is at least MIN_TEXT_PX pixels high."""
        dpi = self.logicalDpiY() or 96
        sizes = [
            f.pixelSize() if f.pixelSize() > 0 else f.pointSizeF() * dpi / 72.0
            for f in self.canvas_scene.theme.fonts.values()
        ]
        return min(1.0, MIN_TEXT_PX / min(sizes)) if sizes else 1.0

    def fit_to_view(self) -> None:
        """Show the whole network, at most at 100 % and never smaller than readable: a network
        too long for the view shows its input end and scrolls. An empty canvas is shown at
        100 % around the origin (no zoom kept from a previous network)."""
        rect = self.canvas_scene.content_rect()
        if rect.isNull():
            self.resetTransform()
            self.canvas_scene.update_rect(QRectF(-1.0, -1.0, 2.0, 2.0))
            self.centerOn(0.0, 0.0)
            self.canvas_scene.update_rect()
            return
        padded = rect.adjusted(-12.0, -12.0, 12.0, 12.0)
        port = self.viewport().rect()
        scale = min(port.width() / padded.width(), port.height() / padded.height(), 1.0)
        scale = max(scale, self.readable_scale())
        self.setTransform(QTransform.fromScale(scale, scale))
        self.canvas_scene.update_rect()
        shown_w, shown_h = port.width() / scale, port.height() / scale
        x = padded.center().x() if shown_w >= padded.width() else padded.left() + shown_w / 2
        y = padded.center().y() if shown_h >= padded.height() else padded.top() + shown_h / 2
        self.centerOn(x, y)
        self.canvas_scene.update_rect()

    def free_spot(self, x: float, y: float) -> tuple[float, float]:
        """The top-left corner nearest to (x, y) where a new card covers no other card."""
        occupied = [node.pos for node in self.document.spec.nodes.values()]
        return free_position((x, y), occupied, (WIDTH, HEIGHT))

    def free_spot_centred(self, centre: QPointF) -> tuple[float, float]:
        """The top-left corner of a new card centred on the scene point `centre`, or of the
        nearest spot beside it where the card covers no other card."""
        return self.free_spot(centre.x() - WIDTH / 2, centre.y() - HEIGHT / 2)

    def delete_selection(self) -> None:
        """Remove the selected layers and disconnect the selected edges (one undo entry)."""
        nodes = [i for i in self.document.spec.nodes if (item := self.node_item(i)) and item.isSelected()]
        edges = [
            e.key
            for e in self.canvas_scene.selectedItems()
            if isinstance(e, EdgeItem) and not set(e.key) & set(nodes)
        ]
        if not nodes and not edges:
            return
        # Nothing stays selected: views following the selection never show a layer half-removed.
        self.document.set_selection([])
        stack = self.document.undo_stack
        macro = bool(nodes) + len(edges) > 1
        if macro:
            stack.beginMacro(f"Delete {len(nodes)} layer(s) and {len(edges)} connection(s)")
        if nodes:
            self.document.remove_nodes(nodes)
        for source, target in edges:
            self.document.disconnect(source, target)
        if macro:
            stack.endMacro()

    def export_png(self, path: str | os.PathLike[str], scale: float = 2.0) -> None:
        """The whole network as a PNG (at `scale` pixels per canvas unit), without the grid."""
        source = self._export_rect()
        image = QImage(
            QSize(math.ceil(source.width() * scale), math.ceil(source.height() * scale)),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.fill(self.canvas_scene.theme.canvas)
        painter = QPainter(image)
        painter.setRenderHints(self.renderHints())
        self._render(painter, QRectF(image.rect()), source)
        if not image.save(os.fspath(path)):
            raise OSError(f"cannot write the image {os.fspath(path)}")

    def export_svg(self, path: str | os.PathLike[str]) -> None:
        """The whole network as an SVG drawing."""
        source = self._export_rect()
        size = QSize(math.ceil(source.width()), math.ceil(source.height()))
        generator = QSvgGenerator()
        generator.setFileName(os.fspath(path))
        generator.setSize(size)
        generator.setViewBox(QRect(QPoint(0, 0), size))
        generator.setTitle(self.document.spec.metadata.get("name", "NetCanvas network"))
        painter = QPainter(generator)
        painter.fillRect(QRectF(QPointF(0, 0), size), self.canvas_scene.theme.canvas)
        self._render(painter, QRectF(QPointF(0, 0), size), source)

    def _render(self, painter: QPainter, target: QRectF, source: QRectF) -> None:
        """Draw the scene into an export device without item caches (which would be embedded
        as bitmaps) and without the connection hint; ends the painter."""
        nodes = list(self.canvas_scene.node_items.values())
        for item in nodes:
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        try:
            self.canvas_scene.render(painter, target, source)
        finally:
            painter.end()
            for item in nodes:
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def _export_rect(self) -> QRectF:
        rect = self.canvas_scene.content_rect()
        if rect.isNull():
            rect = QRectF(0.0, 0.0, WIDTH, HEIGHT)
        return rect.adjusted(-24.0, -24.0, 24.0, 24.0)

    # ------------------------------------------------------------- background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self.canvas_scene.theme
        painter.fillRect(rect, theme.canvas)
        step = GRID
        while step * self.scale_factor() < 12.0:
            step *= 4.0
        left, top = math.floor(rect.left() / step) * step, math.floor(rect.top() / step) * step
        xs = [left + i * step for i in range(int((rect.right() - left) / step) + 1)]
        ys = [top + j * step for j in range(int((rect.bottom() - top) / step) + 1)]
        pen = QPen(theme.grid, 2.0)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawPoints(QPolygonF([QPointF(x, y) for y in ys for x in xs]))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """On an empty canvas, say where layers come from (at a fixed size, mid-view)."""
        if self.canvas_scene.node_items:
            return
        theme = self.canvas_scene.theme
        painter.save()
        painter.resetTransform()
        font = QFont(theme.fonts["title"])
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.setPen(theme.muted)
        painter.drawText(QRectF(self.viewport().rect()), int(Qt.AlignmentFlag.AlignCenter), EMPTY_HINT)
        painter.restore()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self.canvas_scene.set_theme(CanvasTheme.from_palette(self.palette(), self.font()))
            self.resetCachedContent()
        super().changeEvent(event)

    # ------------------------------------------------------------- zoom / pan
    def _zoom(self, factor: float, under_mouse: bool) -> None:
        target = min(max(self.scale_factor() * factor, MIN_SCALE), MAX_SCALE)
        anchor = QGraphicsView.ViewportAnchor
        # the scene must already hold what the zoomed view will show (around the cursor or the
        # middle, whichever Qt takes), else Qt centres the scene in the view
        port, ratio = self.viewport().rect(), self.scale_factor() / target
        shown = self.mapToScene(port).boundingRect()
        for fixed in (self.viewport().mapFromGlobal(QCursor.pos()), port.center()):
            centre = self.mapToScene(fixed)
            slack = QPointF(64.0, 64.0) / target
            self.canvas_scene.update_rect(
                QRectF(
                    centre + (shown.topLeft() - centre) * ratio - slack,
                    centre + (shown.bottomRight() - centre) * ratio + slack,
                ).united(self.canvas_scene.sceneRect())
            )
        self.setTransformationAnchor(anchor.AnchorUnderMouse if under_mouse else anchor.AnchorViewCenter)
        self.scale(target / self.scale_factor(), target / self.scale_factor())
        self.setTransformationAnchor(anchor.AnchorUnderMouse)
        self.canvas_scene.update_rect()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the scene point at the view's centre there (a dock or workspace change resizes
        the canvas; a scene smaller than the new size would otherwise be re-centred)."""
        centre = (
            self.mapToScene(QRect(QPoint(0, 0), event.oldSize()).center())
            if event.oldSize().isValid()
            else None
        )
        if centre is not None:
            half_w = event.size().width() / self.scale_factor()
            half_h = event.size().height() / self.scale_factor()
            self.canvas_scene.update_rect(
                QRectF(centre.x() - half_w, centre.y() - half_h, 2 * half_w, 2 * half_h)
            )
        super().resizeEvent(event)
        if centre is not None:
            self.centerOn(centre)
        self.canvas_scene.update_rect()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self._zoom(1.15**steps, under_mouse=True)
        event.accept()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if not self.canvas_scene.node_items:  # the hint stays put while the grid scrolls
            self.viewport().update()

    def _pan(self, pos: QPoint) -> None:
        delta = pos - self._pan_from
        self._pan_from = pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        item = self.itemAt(pos)
        if button == Qt.MouseButton.LeftButton and isinstance(item, PortItem):
            self._start_link(item, self.mapToScene(pos))
            event.accept()
            return
        super().mousePressEvent(event)
        self._press_positions = {
            i.node_id: i.pos() for i in self.canvas_scene.selectedItems() if isinstance(i, NodeItem)
        }

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan(event.position().toPoint())
        elif self._link is not None:
            self._update_link(self.mapToScene(event.position().toPoint()))
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
        elif self._link is not None:
            self._finish_link(apply=True)
        else:
            super().mouseReleaseEvent(event)
            self._commit_move()
        event.accept()

    def _commit_move(self) -> None:
        """One undo entry for the whole drag: the document learns the positions at release."""
        moved = {}
        for node_id, start in self._press_positions.items():
            item = self.node_item(node_id)
            if item is not None and item.pos() != start:
                moved[node_id] = (item.pos().x(), item.pos().y())
        self._press_positions = {}
        if moved:
            self.document.move_nodes(moved)

    # ------------------------------------------------------------- connecting
    def _start_link(self, port: PortItem, scene_pos: QPointF) -> None:
        preview = PreviewEdge(self.canvas_scene.theme.highlight)
        self.canvas_scene.addItem(preview)
        self._link = {"port": port, "from_output": port.kind == "out", "preview": preview, "target": None}
        self._update_link(scene_pos)

    @staticmethod
    def _link_ends(link: dict, target: str) -> tuple[str, str]:
        fixed = link["port"].node_id
        return (fixed, target) if link["from_output"] else (target, fixed)

    def _update_link(self, scene_pos: QPointF) -> None:
        link = self._link
        port: PortItem = link["port"]
        anchor = port.scenePos()
        start, tip = (anchor, scene_pos) if link["from_output"] else (scene_pos, anchor)
        link["preview"].set_ends(start, tip)
        target = self._node_at(scene_pos, exclude=port.node_id)
        if target is not link["target"]:
            if link["target"] is not None:
                link["target"].set_connect_hint(None)
            link["target"] = target
            link["valid"] = False
            theme = self.canvas_scene.theme
            if target is None:
                self.hint.show_text("", theme.valid, theme.fonts["body"])
            else:
                source_id, target_id = self._link_ends(link, target.node_id)
                ok, reason = self.document.spec.can_connect(source_id, target_id)
                link["valid"] = ok
                target.set_connect_hint(ok)
                text = f"Connect {source_id} → {target_id}" if ok else reason
                self.hint.show_text(text, theme.valid if ok else theme.error, theme.fonts["body"])
        self.hint.setPos(scene_pos)

    def _node_at(self, scene_pos: QPointF, exclude: str) -> NodeItem | None:
        for item in self.canvas_scene.items(scene_pos):
            node = item.parentItem() if isinstance(item, PortItem) else item
            if isinstance(node, NodeItem) and node.node_id != exclude:
                return node
        return None

    def _finish_link(self, apply: bool) -> None:
        link, self._link = self._link, None
        self.canvas_scene.removeItem(link["preview"])
        self.hint.show_text("", self.canvas_scene.theme.valid, self.canvas_scene.theme.fonts["body"])
        target = link["target"]
        if target is not None:
            target.set_connect_hint(None)
            if apply and link["valid"]:
                self.document.connect(*self._link_ends(link, target.node_id))

    # --------------------------------------------------------------- keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._link is None:
            self.delete_selection()
        elif key == Qt.Key.Key_Escape and self._link is not None:
            self._finish_link(apply=False)
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ----------------------------------------------------------- palette drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Add the dropped layer centred on the cursor (or beside the card already there) and
        select it."""
        if not event.mimeData().hasFormat(LAYER_MIME):
            event.ignore()
            return
        type_name = bytes(event.mimeData().data(LAYER_MIME)).decode("utf-8").strip()
        centre = self.mapToScene(event.position().toPoint())
        try:
            node_id = self.document.add_node(type_name, self.free_spot_centred(centre))
        except NetCanvasError:
            event.ignore()
            return
        self.document.set_selection([node_id])
        self.setFocus()
        event.acceptProposedAction()
