"""What a convolutional network sees: for one chosen image, the feature maps of every Conv2D layer
(a titled grid per layer, a tile per channel, one colour scale per layer; a Conv1D's as one
picture with a row per channel), and the first convolution's filters (a tile per filter and input channel, red positive, blue negative, white 0).

The numbers come with the monitor's snapshots (engine/training/monitor.py computes them on the
training thread, gui/training/worker.py sends them); this view only draws them, each grid as one
image (gui/training/image_grid.py). The picker chooses the image: the panel passes the choice on
to the run (`sample_chosen`), and the next snapshot shows it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from engine.training.monitor import MonitorSnapshot
from gui.training.confusion_view import VIRIDIS, class_indices, image_shape
from gui.training.empty_hint import EmptyHint
from gui.training.image_grid import coloured, diverging, mosaic_view, picture, show_mosaic
from gui.training.plot_style import scroll_when_narrow

MAP_COLUMNS = 16  # feature-map tiles per row
FILTER_TILES_PER_ROW = 8
HINT = (
    "Train a network with Conv2D or Conv1D layers to see its first layer's filters and, for the chosen image, "
    "what every filter picks out of it (the feature maps)"
)


class FeatureMapsView(QWidget):
    sample_chosen = Signal(int)  # the index of the image picked (in the images set by set_images)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.snapshot: MonitorSnapshot | None = None
        self.images: np.ndarray | None = None  # (N, ...) as the user's data holds them
        self.classes: np.ndarray | None = None  # (N,) class of each, if known
        self.source = "validation"
        self.dirty = False
        self.layer_ids: list[str] = []
        self.rows: dict[str, tuple[pg.LabelItem, pg.ImageItem]] = {}
        self.picker = QSpinBox()
        self.picker.setToolTip("The image whose feature maps are shown (its number in the data set)")
        self.picker.setAccessibleName("Image number")
        self.picker.valueChanged.connect(self._picked)
        self.picked = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Image:"))
        top.addWidget(self.picker)
        top.addWidget(self.picked, 1)
        self.side = pg.GraphicsLayoutWidget()
        self.side.setToolTip(
            "Left: the chosen image. Below: the first convolution's filters, one tile per filter and "
            "input channel (red: positive weight, blue: negative, white: 0)"
        )
        self.input_title = self.side.addLabel("Image", row=0, col=0)
        self.input_image, _ = mosaic_view(self.side.addViewBox(row=1, col=0))
        self.filter_title = self.side.addLabel("Filters", row=2, col=0)
        self.filter_image, _ = mosaic_view(self.side.addViewBox(row=3, col=0))
        self.maps = pg.GraphicsLayoutWidget()
        self.maps.setToolTip(
            "Each convolution's output for the chosen image: one tile per filter (channel); bright where "
            "the filter finds its pattern. One colour scale per layer (dark: its lowest value)"
        )
        body = QHBoxLayout()
        body.addWidget(self.side, 1)
        body.addWidget(self.maps, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        scroll_when_narrow(self)
        self.hint = EmptyHint(HINT, self)
        self.set_images(None, None)

    # ---------------------------------------------------------------- inputs
    def set_images(self, images: np.ndarray | None, y: np.ndarray | None, source: str = "validation") -> None:
        """The images the picker chooses from (raw values, (N, C, H, W) or flat), with their labels
        `y` (class indices or one-hot rows; None for a regression); `source` names the set."""
        self.images, self.source = images, source
        self.classes = None if y is None else class_indices(np.asarray(y))
        self.picker.blockSignals(True)
        self.picker.setRange(0, max(len(images) - 1, 0) if images is not None else 0)
        self.picker.blockSignals(False)
        self.picker.setEnabled(images is not None and len(images) > 0)
        self._show_input()

    def choose(self, index: int) -> None:
        """Pick image `index` as the user would (emits `sample_chosen` when it changes)."""
        self.picker.setValue(index)

    def clear(self) -> None:
        """The empty state: no maps or filters of any network (the images to pick from stay)."""
        self.snapshot = None
        self.dirty = False
        self._set_layers([])
        self.filter_image.clear()
        self.filter_title.setText("Filters")
        self.hint.show_hint(True)

    def add_snapshot(self, snapshot: MonitorSnapshot) -> None:
        """Keep a snapshot's feature maps and filters for the next redraw (those without keep the
        picture: a health snapshot of a network without convolutions shows nothing here)."""
        if snapshot.filters is None and not snapshot.feature_maps:
            return
        self.snapshot = snapshot
        self.dirty = True

    def _picked(self, index: int) -> None:
        self._show_input()
        self.sample_chosen.emit(index)

    # ---------------------------------------------------------------- output
    def _show_input(self) -> None:
        index = self.picker.value()
        if self.images is None or not len(self.images):
            self.input_image.clear()
            self.picked.setText("no images loaded")
            self.input_title.setText("Image")
            return
        label = f" (class {self.classes[index]})" if self.classes is not None else ""
        self.picked.setText(f"of {len(self.images)} {self.source} images{label}")
        self.input_title.setText(f"Image {index}{label}")
        tile = input_tile(self.images[index])
        if tile is None:
            self.input_image.clear()
        else:
            show_mosaic(self.input_image, [tile], tile.shape[:2], 1)

    def redraw(self) -> None:
        if not self.dirty or self.snapshot is None:
            return
        self.dirty = False
        self.hint.show_hint(False)
        snapshot = self.snapshot
        self._draw_filters(snapshot)
        self._set_layers(list(snapshot.feature_maps))
        for nid, maps in snapshot.feature_maps.items():
            title, image = self.rows[nid]
            low, high = value_range(maps)
            scale = f"(colour {low:.3g} dark … {high:.3g} bright)"
            if maps.ndim == 2:  # a Conv1D's (channels, length): one row per channel
                channels, length = maps.shape
                show_mosaic(image, [coloured(maps, low, high, VIRIDIS)], (channels, length), 1)
                title.setText(
                    f"{nid}: {channels} channels (rows) along {length} positions, "
                    f"sample {snapshot.sample} {scale}"
                )
                continue
            channels, height, width = maps.shape
            show_mosaic(
                image,
                [coloured(m, low, high, VIRIDIS) for m in maps],
                (height, width),
                min(channels, MAP_COLUMNS),
            )
            title.setText(
                f"{nid}: {channels} feature maps of {height}×{width}, image {snapshot.sample} {scale}"
            )

    def _draw_filters(self, snapshot: MonitorSnapshot) -> None:
        filters = snapshot.filters
        if filters is None:
            self.filter_image.clear()
            self.filter_title.setText("Filters")
            return
        if filters.ndim == 3:  # a Conv1D's (filters, in_channels, k): tiles one row high
            filters = filters[:, :, None, :]
        count, channels, height, width = filters.shape
        bound = float(np.nanmax(np.abs(filters))) if filters.size else 1.0
        tiles = [diverging(filters[f, c], bound) for f in range(count) for c in range(channels)]
        show_mosaic(
            self.filter_image, tiles, (height, width), channels * max(1, FILTER_TILES_PER_ROW // channels)
        )
        per = f" × {channels} channels" if channels > 1 else ""
        self.filter_title.setText(
            f"{snapshot.filters_id}: {count} filters{per} of {height}×{width}<br>"
            f"red +, blue −, white 0 (±{bound:.2g})"
        )

    def _set_layers(self, ids: list[str]) -> None:
        """One titled grid per convolutional layer (rebuilt only when the layers change)."""
        if ids == self.layer_ids:
            return
        self.maps.clear()
        self.rows = {}
        for i, nid in enumerate(ids):
            title = self.maps.addLabel(nid, row=2 * i, col=0)
            image, _ = mosaic_view(self.maps.addViewBox(row=2 * i + 1, col=0))
            self.rows[nid] = (title, image)
        self.layer_ids = ids

    def table(self) -> tuple[list[str], list[list[float]]]:
        """Per layer and channel, the mean and the largest value of its feature map for the image."""
        header = ["layer", "channel", "image", "mean", "max"]
        if self.snapshot is None:
            return header, []
        sample = self.snapshot.sample
        return header, [
            [nid, channel, sample, float(m.mean()), float(m.max())]
            for nid, maps in self.snapshot.feature_maps.items()
            for channel, m in enumerate(maps)
        ]

    def shown_layers(self) -> list[str]:
        """The layers whose grids are on show, top to bottom."""
        return list(self.layer_ids)


def value_range(maps: np.ndarray) -> tuple[float, float]:
    """(low, high) of the finite values of `maps` (0, 1 when there are none)."""
    finite = maps[np.isfinite(maps)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def input_tile(sample: np.ndarray) -> np.ndarray | None:
    """RGB (H, W, 3) of one input as an image: greyscale (1, H, W), (H, W) or a flat square, or
    colour (3, H, W); None for other inputs."""
    shape = image_shape(sample.shape)
    return picture(sample, shape) if shape is not None else None
