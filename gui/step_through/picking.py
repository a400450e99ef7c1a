"""Where a sample is picked for the Step-through: a point of the Boundary plot (the training
set), a point or an image of the Data tab's preview (the whole data set), a misclassified image
on the Results tab or the image chosen on the Features tab (the validation set, else the training
set; an open panel follows it). The views keep their own jobs; this object listens to them and says which sample was
picked, by its index in a split of the session's data."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from gui.training.confusion_view import image_shape
from gui.training.data_panel import THUMBNAIL_COLUMNS, THUMBNAILS
from gui.training.image_grid import tile_at
from gui.training.panel import TrainingPanel


class SamplePicker(QObject):
    sample_picked = Signal(int, str)  # index, split: "train", "validation" or "all" (the data set)
    # the image shown on the Features tab changed (index, split): followed by an open panel only
    sample_browsed = Signal(int, str)

    def __init__(self, panel: TrainingPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        panel.surface.points.sigClicked.connect(self._boundary_clicked)
        panel.data_panel.preview.scene().sigMouseClicked.connect(self._preview_clicked)
        panel.results.sample_clicked.connect(lambda index: self.sample_picked.emit(int(index), "validation"))
        panel.features.sample_chosen.connect(self._feature_image_chosen)

    def _boundary_clicked(self, _item: pg.ScatterPlotItem, points: list, event) -> None:
        """Of the points under the mouse (they overlap), the one nearest to it."""
        if len(points):
            at = event.pos()
            nearest = min(points, key=lambda p: (p.pos().x() - at.x()) ** 2 + (p.pos().y() - at.y()) ** 2)
            self.sample_picked.emit(int(nearest.index()), "train")

    def _feature_image_chosen(self, index: int) -> None:
        source = self.panel.features.source
        self.sample_browsed.emit(int(index), "validation" if source == "validation" else "train")

    def _preview_clicked(self, event) -> None:
        """A point of the Data tab's scatter or an image of its thumbnails (the data set's order)."""
        data = self.panel.session.dataset
        if data is None:
            return
        for item in self.panel.data_panel.preview.scene().items(event.scenePos()):
            if isinstance(item, pg.ScatterPlotItem):
                at = item.mapFromScene(event.scenePos())
                points = item.pointsAt(at)
                if len(points):
                    nearest = min(
                        points, key=lambda p: (p.pos().x() - at.x()) ** 2 + (p.pos().y() - at.y()) ** 2
                    )
                    self.sample_picked.emit(int(nearest.index()), "all")
                    return
            if isinstance(item, pg.ImageItem) and item.image is not None:
                shape = image_shape(tuple(np.shape(data.x)[1:]))
                at = item.mapFromScene(event.scenePos())
                count = min(THUMBNAILS, len(data))
                tile = tile_at(at.x(), at.y(), shape, THUMBNAIL_COLUMNS, count) if shape else None
                if tile is not None:
                    self.sample_picked.emit(int(tile), "all")
                    return
