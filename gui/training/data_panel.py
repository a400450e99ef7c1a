"""The Data tab: the one place where the training data is chosen and looked at.

Left, a card per source (synthetic sets with their picture, MNIST, Fashion-MNIST, CSV, NPZ, a
folder of images);
in the middle, the chosen source's parameters (samples, noise, seed, the validation split; the
split is hidden for sources that bring their own test set), its file or folder, and for MNIST /
Fashion-MNIST the download with progress and Cancel; right, a preview of the loaded data.
Every choice goes through `document.set_data` (one undo entry). A file that fails to load gets
the loader's message and the previous data stays. Data outside the network file's folder is not
read when the file opens: the tab says where it points and offers Load (see `TrainingSession`).
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data.sources import IMAGE_SOURCES
from engine.errors import NetCanvasError
from engine.registry import DATASETS
from gui import errors
from gui.param_editors import SpecForm
from gui.theme import hint_color
from gui.training.confusion_view import class_indices, image_shape
from gui.training.csv_import import CsvImportDialog
from gui.training.data_cards import SourceCards, description, heading, title
from gui.training.download import DownloadBox
from gui.training.image_grid import mosaic_view, picture, show_mosaic
from gui.training.session import TrainingSession
from gui.training.surface_view import class_brushes

THUMBNAILS = 12
THUMBNAIL_COLUMNS = 4  # 3 rows of 4: legible in the narrow preview column
PARAM_LABELS = {"n": "Samples", "noise": "Noise", "seed": "Seed", "classes": "Classes"}
NO_DATA_TEXT = "<b>No data chosen.</b> Click a card on the left to choose what the network trains on."


class DataPanel(QWidget):
    def __init__(self, session: TrainingSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.document = session.document
        self.cards = SourceCards()
        self.cards.chosen.connect(self.choose)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.form_holder = QVBoxLayout()
        self.form: SpecForm | None = None
        self.form_source: str | None = None
        self.location = QLabel()
        self.location.setWordWrap(True)
        self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.change_button = QPushButton()
        self.change_button.clicked.connect(self._change_location)
        self.cache_button = QPushButton("Use the data cache")
        self.cache_button.setToolTip("Read the files downloaded into your data cache instead of a folder")
        self.cache_button.clicked.connect(self._use_cache)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the file again (after it changed on disk)")
        self.reload_button.clicked.connect(lambda: self.reload())
        location_row = QHBoxLayout()
        location_row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.change_button, self.cache_button, self.reload_button):
            location_row.addWidget(widget)
        location_row.addStretch(1)
        self.held_label = QLabel()
        self.held_label.setWordWrap(True)
        self.held_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Read this data now")
        self.load_button.clicked.connect(self._load_held)
        self.held_box = QWidget()
        held_layout = QVBoxLayout(self.held_box)
        held_layout.setContentsMargins(0, 6, 0, 0)
        held_layout.addWidget(self.held_label)
        held_row = QHBoxLayout()
        held_row.addWidget(self.load_button)
        held_row.addStretch(1)
        held_layout.addLayout(held_row)
        self.held_box.hide()
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setRange(5, 50)
        self.split.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.split.setAccessibleName("Validation split")
        self.split.setToolTip("The share of the data kept aside for validation")
        self.split_label = QLabel()
        self.split.valueChanged.connect(lambda v: self.split_label.setText(f"Validation {v}%"))
        self.split.sliderReleased.connect(self._split_changed)
        self.split_row = QWidget()
        split_layout = QHBoxLayout(self.split_row)
        split_layout.setContentsMargins(0, 0, 0, 0)
        split_layout.addWidget(self.split_label)
        split_layout.addWidget(self.split, 1)
        self.download = DownloadBox()
        self.download.finished.connect(self._downloaded)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self._shown_for: dict | None = None  # the data section the preview was drawn for

        params = QWidget()
        column = QVBoxLayout(params)
        column.setContentsMargins(6, 4, 6, 4)
        column.addWidget(self.heading)
        column.addLayout(self.form_holder)
        column.addWidget(self.split_row)
        column.addWidget(self.location)
        column.addLayout(location_row)
        column.addWidget(self.held_box)
        column.addWidget(self.download)
        column.addWidget(self.summary)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(params)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.preview = pg.GraphicsLayoutWidget()
        self.preview.setToolTip("A preview of the training data")
        self.preview.setAccessibleName("Data preview")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.cards)
        splitter.addWidget(scroll)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([420, 300, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        session.data_changed.connect(self.refresh)
        session.ask_to_read_outside = self._ask_to_read
        session.preload_failed.connect(self._preload_failed)
        self.document.settings_changed.connect(self._settings_changed)
        self.document.document_reset.connect(self._settings_changed)
        self._settings_changed()

    # ------------------------------------------------------------ the chosen source
    def source(self) -> str | None:
        return self.document.spec.data.get("source") or None

    def _settings_changed(self) -> None:
        data = self.document.spec.data
        source = self.source()
        self.cards.set_current(source)
        self._show_parameters(source, data)
        value = int(round(100 * float(data.get("val_split", 0.2))))
        self.split.blockSignals(True)
        self.split.setValue(min(max(value, self.split.minimum()), self.split.maximum()))
        self.split.blockSignals(False)
        self.split_label.setText(f"Validation {value}%")
        self._show_split()
        self.download.show_set(source if source in IMAGE_SOURCES and "path" not in data else None)
        if self._shown_for != data:  # what the preview shows is not this section's data (yet)
            self.preview.clear()
            self._shown_for = None
            self.summary.setText(NO_DATA_TEXT if source is None else "Reading the data…")
        if self.session.state == "idle":
            self.reload(quiet=True)
        self._show_held()

    def _show_held(self) -> None:
        """Say where the data points and offer Load while it is outside the file's folder."""
        held = self.session.held_location()
        self.held_box.setVisible(held is not None)
        if held is None:
            return
        self.reload_button.hide()
        self.summary.setText("")
        muted = hint_color(self.palette())
        self.held_label.setText(
            f"<b>Not read yet.</b> This data points outside the network's folder, to "
            f"<code>{html.escape(str(held))}</code>.<br><span style='color:{muted}'>Opening a "
            "network reads no data outside its folder or your data cache by itself.</span>"
        )

    def _load_held(self) -> None:
        """The Load button: read the data the file names, outside its folder, in the background."""
        held = self.session.held_location()
        if held is not None:
            self.session.allow_location(held)
        self._show_location(self.source(), self.document.spec.data)
        self._show_held()
        self.summary.setText("Reading the data…")
        self.session.preload_data()

    def _ask_to_read(self, location: Path) -> bool:
        """Train with data outside the network's folder: read it? (the session asks)"""
        answer = QMessageBox.question(
            self,
            "Data outside the network's folder",
            f"This network's data is outside its folder:\n{location}\n\nRead it and train?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _show_parameters(self, source: str | None, data: dict[str, Any]) -> None:
        muted = hint_color(self.palette())
        if source is None:
            self.heading.setText(f"<span style='color:{muted}'>Choose a data source.</span>")
        else:
            self.heading.setText(
                f"<b>{heading(source)}</b><br><span style='color:{muted}'>{description(source)}</span>"
            )
        if source != self.form_source:
            if self.form is not None:
                self.form_holder.removeWidget(self.form)
                self.form.deleteLater()
                self.form = None
            self.form_source = source
            if source in DATASETS:
                self.form = SpecForm(DATASETS.get(source).param_specs)
                for name, field in self.form.fields.items():
                    label = self.form.form.labelForField(field)
                    if label is not None and name in PARAM_LABELS:
                        label.setText(PARAM_LABELS[name])
                self.form.committed.connect(self._param_committed)
                self.form_holder.addWidget(self.form)
        if self.form is not None:
            self.form.set_values(data)
        self._show_location(source, data)

    def _show_location(self, source: str | None, data: dict[str, Any]) -> None:
        path = data.get("path")
        files = source in ("csv", "npz", "image_folder")
        images = source in IMAGE_SOURCES
        if source == "image_folder":
            self.location.setText(f"Folder: {path}" if path else "No folder chosen yet.")
            self.change_button.setText("Choose a folder…" if not path else "Choose another folder…")
            self.change_button.setToolTip("Open a folder with one sub-folder of PNG images per class")
        elif images:
            self.location.setText(f"Files: the folder {path}" if path else "Files: your data cache")
            self.change_button.setText("Use a folder…")
            self.change_button.setToolTip("Read the four IDX files from a folder of your own")
        elif files:
            text = f"File: {path}" if path else "No file chosen yet."
            if source == "csv" and path:
                text += f" (target: {data.get('target') or 'the last column'})"
            self.location.setText(text)
            self.change_button.setText("Choose a file…" if not path else "Choose another file…")
            self.change_button.setToolTip(f"Open a {source.upper()} file")
        self.location.setVisible(images or files)
        self.change_button.setVisible(images or files)
        self.cache_button.setVisible(images and bool(path))
        self.reload_button.setVisible(files and bool(path))

    def _show_split(self) -> None:
        """The split slider only where the validation part is cut from the data."""
        source = self.source()
        dataset = self.session.dataset
        own_test_set = source in IMAGE_SOURCES or (dataset is not None and dataset.x_val is not None)
        self.split_row.setVisible(source is not None and not own_test_set)

    def choose(self, name: str) -> None:
        """A card was clicked: switch to that source (files ask for the file first)."""
        old = self.document.spec.data
        choosers = {"csv": self.choose_csv, "npz": self.choose_npz, "image_folder": self.choose_image_folder}
        if name in choosers:
            if not choosers[name]():
                self.cards.set_current(self.source())
            return
        if name in IMAGE_SOURCES:
            if old.get("source") != name:
                self._set_data({"source": name})
            return
        if old.get("source") == name:
            return
        config: dict[str, Any] = {"source": name}
        for key in ("val_split", "seed"):
            if key in old:
                config[key] = old[key]
        if not self.apply_config(config):
            self.cards.set_current(self.source())

    def _set_data(self, config: dict) -> bool:
        try:
            self.document.set_data(config)
        except NetCanvasError as exc:
            errors.show_error(self, "Data", str(exc))
            return False
        return True

    def _param_committed(self, name: str, value: Any) -> None:
        data = dict(self.document.spec.data)
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
        if not self.apply_config(data):
            self._settings_changed()

    def _split_changed(self) -> None:
        data = dict(self.document.spec.data)
        data["val_split"] = self.split.value() / 100
        self.apply_config(data)

    def _change_location(self) -> None:
        source = self.source()
        if source == "csv":
            self.choose_csv()
        elif source == "npz":
            self.choose_npz()
        elif source == "image_folder":
            self.choose_image_folder()
        elif source in IMAGE_SOURCES:
            self.choose_folder(source)

    def _use_cache(self) -> None:
        self._set_data({k: v for k, v in self.document.spec.data.items() if k != "path"})

    def _downloaded(self, name: str, complete: bool) -> None:
        if complete and self.source() == name:
            self.reload(quiet=True)

    def reveal(self) -> None:
        """Bring the Data tab to the front, with room: the window's Train workspace (when it has
        one), the dock that holds the tab, the tab."""
        workspaces = getattr(self.window(), "workspaces", None)
        if workspaces is not None:
            workspaces.switch("train")
        widget: QWidget | None = self.parentWidget()
        while widget is not None:
            if isinstance(widget, QTabWidget):
                pages = [widget.widget(i) for i in range(widget.count())]
                widget.setCurrentWidget(next(p for p in pages if p is self or p.isAncestorOf(self)))
            if isinstance(widget, QDockWidget):
                widget.show()
                widget.raise_()
            widget = widget.parentWidget()
        self.cards.setFocus()

    # ------------------------------------------------------------------ loading
    def reload(self, quiet: bool = False) -> None:
        """Read the data again (the Reload button: now, with a message on failure) or, quietly
        after a change of file or settings, in the background."""
        if quiet:
            self.session.preload_data()
            return
        problem = self.session.load_data(force=True)
        if problem:
            errors.show_error(self, "Data", problem)

    def _preload_failed(self, problem: str) -> None:
        if not self.download.isHidden():  # "not downloaded yet": the download box says it
            self.summary.setText("")
            return
        self.summary.setText(f"<b>Data not loaded:</b> {problem}")

    def apply_config(self, config: dict) -> bool:
        """Switch to `config`; if it cannot be loaded, say why and keep the previous data."""
        previous = dict(self.document.spec.data)
        if not self._set_data(config):
            return False
        if self.session.held_location() is not None:  # not read until Load or Train
            return True
        problem = self.session.load_data(force=True)
        if problem:
            if self.document.spec.data != previous:
                self.document.undo_stack.undo()
            errors.show_error(self, "Data", problem)
            return False
        return True

    def _start_folder(self) -> str:
        return str(self.document.path.parent) if self.document.path is not None else ""

    def choose_folder(self, source: str) -> bool:
        folder = QFileDialog.getExistingDirectory(
            self, f"Folder with the four {title(source)} files", self._start_folder()
        )
        if folder:
            self.session.allow_location(folder)
        return bool(folder) and self.apply_config({"source": source, "path": folder})

    def choose_npz(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(
            self, "NPZ data", self._start_folder(), "NumPy archives (*.npz)"
        )
        if path:
            self.session.allow_location(path)
        return bool(path) and self.apply_config(
            {"source": "npz", "path": path, "val_split": self.split.value() / 100}
        )

    def choose_image_folder(self) -> bool:
        """Read in the background (thousands of PNG files take a while): the window stays free,
        and a folder that cannot be read says why in the summary and the status bar."""
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with one sub-folder of PNG images per class", self._start_folder()
        )
        if folder:
            self.session.allow_location(folder)
        config = {"source": "image_folder", "path": folder, "val_split": self.split.value() / 100}
        return bool(folder) and self._set_data(config)

    def choose_csv(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(
            self, "CSV data", self._start_folder(), "CSV tables (*.csv *.txt);;All files (*)"
        )
        if not path:
            return False
        self.session.allow_location(path)
        try:
            dialog = CsvImportDialog(Path(path), self)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            errors.show_error(self, "Data", f"{path}: cannot read the file: {exc}")
            return False
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        config = dialog.config()
        dialog.deleteLater()
        return accepted and self.apply_config({**config, "val_split": self.split.value() / 100})

    # ------------------------------------------------------------------ preview
    def refresh(self) -> None:
        data = self.session.dataset
        self.preview.clear()
        self._show_split()
        if data is None:
            self._shown_for = None
            self.summary.setText(NO_DATA_TEXT if self.source() is None else "")
            return
        self._shown_for = dict(self.document.spec.data)  # (the session emits for the current section)
        train, val = self.session.train_set, self.session.val_set
        classes = f", {data.n_classes} classes" if data.task == "classification" else ""
        own = " (the source's own test set)" if data.x_val is not None else ""
        self.summary.setText(
            f"<b>{title(data.name) if data.name else self.source() or 'data'}</b>: {len(data)} samples of shape "
            f"{tuple(data.x.shape[1:])}, {data.task}{classes}; {len(train)} for training, "
            f"{len(val)} for validation{own}."
            + (_class_counts(data) if self.source() == "image_folder" else "")
        )
        if data.x.ndim == 2 and data.x.shape[1] in (1, 2):
            plot = self.preview.addPlot()
            if data.x.shape[1] == 2:
                colours = (
                    class_brushes(class_indices(np.asarray(data.y)))
                    if data.task == "classification"
                    else pg.mkBrush("#3b82f6")
                )
                plot.addItem(pg.ScatterPlotItem(data.x[:, 0], data.x[:, 1], size=5, brush=colours))
            else:
                plot.addItem(
                    pg.ScatterPlotItem(
                        data.x[:, 0],
                        np.asarray(data.y).reshape(len(data.y), -1)[:, 0],
                        size=4,
                        brush=pg.mkBrush("#3b82f6"),
                    )
                )
        elif (shape := image_shape(tuple(data.x.shape[1:]))) is not None:
            image, captions = mosaic_view(self.preview.addViewBox())
            shown = range(min(THUMBNAILS, len(data)))
            labels = (
                class_indices(np.asarray(data.y)[: len(shown)]) if data.task == "classification" else None
            )
            names = data.class_names
            texts = (
                [names[c] if names and c < len(names) else str(c) for c in labels]
                if labels is not None
                else None
            )
            show_mosaic(
                image,
                [picture(data.x[i], shape) for i in shown],
                shape,
                THUMBNAIL_COLUMNS,
                captions,
                texts,
            )


def _class_counts(data: Any) -> str:
    """An image folder's classes and their image counts: "<br>Classes: bars 12, square 12"."""
    counts = np.bincount(np.asarray(data.y), minlength=data.n_classes)
    pairs = [
        f"{html.escape(str(name))} {count}" for name, count in zip(data.class_names, counts, strict=False)
    ]
    return "<br>Classes: " + ", ".join(pairs)
