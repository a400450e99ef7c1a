"""Unit response maps on the canvas, as TensorFlow Playground draws its neurons.

For a network with two inputs, each Dense node shows its units as small squares under its card:
each unit's activation over the input plane (orange negative, white 0, blue positive, each map
scaled by its own largest magnitude; the first UNIT_MAPS_PER_LAYER units of a hidden layer, the
output's probability or value for a one-unit output). While a run goes on they follow the
monitor's snapshots (the ones with the decision surface); otherwise one inference pass over the
same grids draws the document's weights. Hovering a square shows the unit's incoming weights:
"w = [0.31, −0.82], b = 0.10". View > Unit response maps turns them off.

The squares are child items of the canvas's node items: they move with the card and go with it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QMainWindow, QStyleOptionGraphicsItem, QWidget

from engine.errors import NetCanvasError
from engine.model import Model
from engine.network import Network
from engine.training.monitor import MonitorSnapshot, Surface, TrainingMonitor
from gui.actions import menu_action
from gui.canvas.view import CanvasView
from gui.network_layout import CARD_SIZE
from gui.training.session import IDLE, TrainingSession
from gui.training.surface_view import SURFACE_LUT
from gui.training.worker import probe_inputs

TILE = 32.0  # a unit's square on the canvas, in scene pixels, COLUMNS to a row under the card
GAP = 4.0
COLUMNS = 4
TOP = CARD_SIZE[1] + 8.0  # under the card
REDRAW_HZ = 10.0
MAX_WEIGHTS_SHOWN = 8  # incoming weights listed in a tooltip


def map_image(values: np.ndarray, levels: tuple[float, float] | None = None) -> QImage:
    """A (rows, cols) map, row 0 at the bottom of the plane, as an RGB image in the surface's
    colours: `levels` (lo, hi) map to orange and blue; None scales by the largest magnitude."""
    values = np.asarray(values, dtype=np.float64)
    if levels is None:
        finite = values[np.isfinite(values)]
        bound = float(np.abs(finite).max()) if finite.size else 0.0
        levels = (-(bound or 1.0), bound or 1.0)
    lo, hi = levels
    scaled = np.nan_to_num((values[::-1] - lo) / (hi - lo), nan=0.5)  # y up, as in the plot
    index = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.intp)
    rgb = np.ascontiguousarray(SURFACE_LUT[index])
    rows, cols = values.shape
    return QImage(rgb.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888).copy()


def weights_text(node_id: str, unit: int, kernel: np.ndarray | None, bias: np.ndarray | None) -> str:
    """The tooltip of unit `unit` of `node_id`: its incoming weights (kernel `(in, units)`)."""

    def number(value: float) -> str:
        return f"{value:.2f}".replace("-", "\u2212")

    lines = [f"{node_id}, unit {unit + 1}"]
    if kernel is not None and kernel.ndim == 2 and unit < kernel.shape[1]:
        column = kernel[:, unit]
        shown = ", ".join(number(float(v)) for v in column[:MAX_WEIGHTS_SHOWN])
        more = f", … ({len(column)} in all)" if len(column) > MAX_WEIGHTS_SHOWN else ""
        text = f"w = [{shown}{more}]"
        if bias is not None and unit < len(bias):
            text += f", b = {number(float(bias[unit]))}"
        lines.append(text)
    return "\n".join(lines)


class UnitTile(QGraphicsItem):
    """One unit's response map, a small square (a child of its node's card)."""

    def __init__(self, parent: QGraphicsItem, index: int):
        super().__init__(parent)
        self.index = index
        self.image: QImage | None = None
        row, column = divmod(index, COLUMNS)
        self.setPos(column * (TILE + GAP), TOP + row * (TILE + GAP))
        self.setAcceptHoverEvents(True)  # (its tooltip)

    def boundingRect(self) -> QRectF:
        return QRectF(-1.0, -1.0, TILE + 2.0, TILE + 2.0)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = QRectF(0.0, 0.0, TILE, TILE)
        if self.image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(rect, self.image)
        painter.setPen(QPen(QColor(100, 116, 139), 0.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)


class UnitMaps(QObject):
    """Draws the response maps on `canvas` for the document of `session`; the toggle goes on the
    View menu `view_menu`."""

    def __init__(self, window: QMainWindow, session: TrainingSession, canvas: CanvasView, view_menu):
        super().__init__(window)
        self.session, self.document, self.canvas = session, session.document, canvas
        self.tiles: dict[str, tuple[QGraphicsItem, list[UnitTile]]] = {}  # node id -> (card, tiles)
        self.surface: Surface | None = None
        view_menu.addSeparator()
        self.action = menu_action(
            view_menu,
            "Unit &response maps",
            "For a network with two inputs: each Dense unit's activation over the input plane, "
            "under its node on the canvas (hover a square for its incoming weights)",
            window,
            checkable=True,
        )
        self.action.setChecked(True)
        self.action.toggled.connect(self._toggled)
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setSingleShot(True)
        self.redraw_timer.timeout.connect(self.redraw)
        self.idle_timer = QTimer(self)  # several signals of one edit compute one snapshot
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self.refresh_idle)
        session.snapshot_taken.connect(self._snapshot)
        for signal in (
            self.document.document_reset,
            self.document.shapes_changed,
            self.document.weights_changed,
            session.data_changed,
            session.state_changed,
        ):
            signal.connect(self._schedule_idle)
        self._schedule_idle()

    # ---------------------------------------------------------------- input
    def applies(self) -> bool:
        """Whether the document's network has one Input of two features."""
        inputs = [node for node in self.document.spec.nodes.values() if node.type == "Input"]
        return len(inputs) == 1 and list(inputs[0].params.get("shape", [])) == [2]

    def _snapshot(self, snapshot: MonitorSnapshot) -> None:
        if snapshot.surface is None:
            return
        self.surface = snapshot.surface
        if not self.redraw_timer.isActive():
            self.redraw_timer.start(int(1000 / REDRAW_HZ))

    def _schedule_idle(self, *_args) -> None:
        self.idle_timer.start(50)

    def _toggled(self, on: bool) -> None:
        if on:
            self.refresh_idle() if self.session.state == IDLE else self.redraw()
        else:
            self.clear()

    def refresh_idle(self) -> None:
        """Maps of the document's weights (not while a run draws its own)."""
        if self.session.state != IDLE:
            return
        self.surface = None
        if self.action.isChecked() and self.applies():
            self.surface = self._idle_surface()
        self.redraw()

    def _idle_surface(self) -> Surface | None:
        """One inference pass of the document's network over the monitor's grids, spanning the
        training data as a run's would; None without data or a network that cannot run."""
        train = self.session.train_set
        if train is None or self.document.shape_report.problems:
            return None
        try:
            # A copy runs the grids: the batch-sized arrays a forward pass leaves in the layers
            # stay out of the document's network (and the Undo steps that keep it).
            network = Network(self.document.spec.copy())
            network.scaler = self.document.network.scaler
            network.set_weights(self.document.network.get_weights())
            probe = probe_inputs(network, train.x)
            if probe is None:
                return None
            return TrainingMonitor(network.model, probe).snapshot().surface
        except (NetCanvasError, ValueError):
            return None  # the data does not fit this network: Train says why

    # ----------------------------------------------------------------- output
    def clear(self) -> None:
        for tiles in self.tiles.values():
            _remove(tiles)
        self.tiles = {}

    def redraw(self) -> None:
        """Draw the latest maps on the Dense nodes' cards (nothing when off or not 2 inputs)."""
        surface = self.surface
        if surface is None or not self.action.isChecked() or not self.applies():
            self.clear()
            return
        layers = self._layers()
        spec = self.document.spec
        sinks = spec.sink_ids()
        output_id = sinks[0] if len(sinks) == 1 else None
        shown: dict[str, tuple[QGraphicsItem, list[UnitTile]]] = {}
        for node_id, node in spec.nodes.items():
            card = self.canvas.node_item(node_id)
            maps = self._node_maps(node_id, surface, node_id == output_id) if node.type == "Dense" else []
            if card is None or not maps:
                continue
            tiles = self._tiles(node_id, card, len(maps))
            layer = layers.get(node_id) if layers is not None else None
            kernel = layer.weights.get("kernel") if layer is not None else None
            bias = layer.weights.get("bias") if layer is not None else None
            for tile, (values, levels) in zip(tiles, maps, strict=True):
                tile.set_image(map_image(values, levels))
                tile.setToolTip(weights_text(node_id, tile.index, kernel, bias))
            shown[node_id] = (card, tiles)
        for node_id in set(self.tiles) - set(shown):
            _remove(self.tiles[node_id])
        self.tiles = shown

    def _node_maps(
        self, node_id: str, surface: Surface, is_output: bool
    ) -> list[tuple[np.ndarray, tuple[float, float] | None]]:
        """(map, levels) per unit shown for `node_id`: a hidden layer's unit maps, or the output's
        surface when it is one probability or value."""
        if node_id in surface.unit_maps:
            return [(m, None) for m in surface.unit_maps[node_id]]
        if is_output and surface.kind in ("probability", "value"):
            return [(surface.values, (0.0, 1.0) if surface.kind == "probability" else None)]
        return []

    def _tiles(self, node_id: str, card: QGraphicsItem, count: int) -> list[UnitTile]:
        """`count` tiles on `card` (made again when the canvas rebuilt the card)."""
        previous = self.tiles.get(node_id)
        if previous is not None and previous[0] is card and len(previous[1]) == count:
            return previous[1]
        if previous is not None and previous[0] is card:
            _remove(previous)
        return [UnitTile(card, index) for index in range(count)]

    def _layers(self) -> dict | None:
        """The layers whose weights the tooltips show: the run's model while it trains (read
        between its steps, as the canvas's edge colours are), else the document's."""
        worker = self.session.worker
        try:
            model: Model = (
                worker.network.model
                if self.session.state != IDLE and worker is not None
                else self.document.network.model
            )
        except (NetCanvasError, ValueError):
            return None
        return model.layers


def _remove(shown: tuple[QGraphicsItem, list[UnitTile]]) -> None:
    """Take a card's tiles off the canvas (a card the canvas dropped took them with it)."""
    card, tiles = shown
    scene = card.scene()
    if scene is not None:
        for tile in tiles:
            scene.removeItem(tile)
