"""A dialog to pick one of the bundled example networks (listed by gui.examples).

Each example shows its metadata name and description and a picture: <stem>.png beside it if
present, else the network drawn by an offscreen canvas in the current theme.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import io as engine_io
from engine.errors import NetCanvasError
from gui.canvas import CanvasView
from gui.document import NetworkDocument
from gui.examples import list_examples

__all__ = ["ExamplesDialog", "render_preview"]

PREVIEW_SIZE = QSize(460, 260)
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def render_preview(path: Path, size: QSize = PREVIEW_SIZE, widget: QWidget | None = None) -> QPixmap:
    """The example's picture: <stem>.png next to it, else its network drawn offscreen."""
    picture = path.with_suffix(".png")
    if picture.exists():
        pixmap = QPixmap(str(picture))
        if not pixmap.isNull():
            return pixmap.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
    document = NetworkDocument(engine_io.load(path))
    view = CanvasView(document)
    if widget is not None:
        view.setPalette(widget.palette())
    scene = view.canvas_scene
    source = scene.content_rect().adjusted(-24, -24, 24, 24)
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(scene.theme.canvas)
    scale = min(size.width() / source.width(), size.height() / source.height(), 1.2)
    target = QRectF(0, 0, source.width() * scale, source.height() * scale)
    target.moveCenter(QRectF(0, 0, size.width(), size.height()).center())
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, target, source)
    painter.end()
    view.deleteLater()
    document.deleteLater()
    return QPixmap.fromImage(image)


class ExamplesDialog(QDialog):
    """A list of examples with a preview and description; `selected_path` after Open."""

    def __init__(self, parent: QWidget | None = None, folder: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Example networks")
        self.selected_path: Path | None = None
        self._previews: dict[Path, QPixmap] = {}
        self.list = QListWidget()
        self.list.setToolTip("Choose an example; double-click opens it")
        self.list.setMinimumWidth(220)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_SIZE)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setToolTip("The example's network")
        self.title = QLabel()
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setMaximumWidth(PREVIEW_SIZE.width())
        for example in list_examples(folder):
            item = QListWidgetItem(example.name)
            item.setData(PATH_ROLE, str(example.path))
            item.setData(Qt.ItemDataRole.ToolTipRole, example.description)
            item.setData(Qt.ItemDataRole.UserRole + 2, example.description)
            self.list.addItem(item)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Open).setToolTip("Open the chosen example")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("Close without opening")
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.preview)
        right.addWidget(self.description)
        right.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.list)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(buttons)
        if self.list.count():
            self.list.setCurrentRow(0)

    def _show(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        path = Path(item.data(PATH_ROLE))
        self.title.setText(
            f"<span style='font-size:13pt; font-weight:600'>{item.text()}</span>"
            f"  <span style='color:gray'>{path.name}</span>"
        )
        self.description.setText(item.data(Qt.ItemDataRole.UserRole + 2))
        if path not in self._previews:
            try:
                self._previews[path] = render_preview(path, PREVIEW_SIZE, self)
            except (NetCanvasError, OSError) as exc:
                self.preview.setText(f"No preview: {exc}")
                return
        self.preview.setPixmap(self._previews[path])

    def accept(self) -> None:
        item = self.list.currentItem()
        self.selected_path = Path(item.data(PATH_ROLE)) if item is not None else None
        super().accept()
