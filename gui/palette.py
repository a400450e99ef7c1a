"""The layer palette: every registered layer type by group, with a search field.

Drag a layer onto the canvas (MIME "application/x-netcanvas-layer", data: the type name), or
double-click it to add it after the selected layer (connected) or in the middle of the view.
`start_drag(mime)` runs the actual `QDrag`; tests replace it to deliver the drop themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QDrag, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.registry import LAYERS
from gui.document import LAYER_MIME, NetworkDocument
from gui.theme import group_color, group_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1  # the registry type name (None on group headers)
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 2
ICON_SIZE = 26
PAD = 6


def layer_groups() -> dict[str, list[type]]:
    """Registered layer classes by group, groups in first-registration order."""
    groups: dict[str, list[type]] = {}
    for _name, layer in LAYERS.items():
        groups.setdefault(layer.group, []).append(layer)
    return groups


class LayerDelegate(QStyledItemDelegate):
    """Draws a layer row as icon + bold name + wrapped description; group headers as captions."""

    def __init__(self, view: QTreeWidget):
        super().__init__(view)
        self.view = view

    def _text_width(self, option: QStyleOptionViewItem) -> int:
        width = option.rect.width() if option.rect.width() > 0 else self.view.viewport().width()
        return max(80, width - ICON_SIZE - 3 * PAD)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        if index.data(TYPE_ROLE) is None:
            return QSize(100, QFontMetrics(option.font).height() + 2 * PAD)
        width = self.view.viewport().width() - self.view.indentation()
        small = QFontMetrics(self._small_font(option.font))
        text = small.boundingRect(
            QRect(0, 0, max(80, width - ICON_SIZE - 3 * PAD), 1000),
            Qt.TextFlag.TextWordWrap,
            index.data(DESCRIPTION_ROLE),
        )
        height = QFontMetrics(option.font).height() + 2 + text.height() + 2 * PAD
        return QSize(width, max(height, ICON_SIZE + 2 * PAD))

    @staticmethod
    def _small_font(font: QFont) -> QFont:
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.88))
        return small

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        self.initStyleOption(option, index)
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))
        rect = option.rect.adjusted(PAD, PAD // 2, -PAD, -PAD // 2)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        bold = QFont(option.font)
        bold.setBold(True)
        type_name = index.data(TYPE_ROLE)
        if type_name is None:  # group header
            painter.setPen(group_color(index.data(Qt.ItemDataRole.DisplayRole)))
            painter.setFont(bold)
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter, index.data(Qt.ItemDataRole.DisplayRole))
            painter.restore()
            return
        icon_rect = QRect(rect.left(), rect.top() + PAD // 2, ICON_SIZE, ICON_SIZE)
        option.icon.paint(painter, icon_rect)
        text_left = icon_rect.right() + PAD
        painter.setPen(palette.color(text_role))
        painter.setFont(bold)
        name_height = QFontMetrics(bold).height()
        painter.drawText(
            QRect(text_left, rect.top(), rect.right() - text_left, name_height),
            Qt.AlignmentFlag.AlignLeft,
            type_name,
        )
        small = self._small_font(option.font)
        painter.setFont(small)
        muted = palette.color(text_role)
        if not selected:
            muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        painter.drawText(
            QRect(
                text_left,
                rect.top() + name_height + 2,
                rect.right() - text_left,
                rect.bottom() - rect.top() - name_height,
            ),
            Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignTop,
            index.data(DESCRIPTION_ROLE),
        )
        painter.restore()


class LayerTree(QTreeWidget):
    """The tree of the palette; its drag start goes through the palette's `start_drag`."""

    def __init__(self, palette: PaletteWidget):
        super().__init__()
        self.palette_widget = palette
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(0)
        self.setUniformRowHeights(False)
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setItemDelegate(LayerDelegate(self))

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt override)
        return self.palette_widget.mimeData(items)

    def startDrag(self, supported_actions) -> None:  # noqa: N802 (Qt override)
        item = self.currentItem()
        if item is not None and item.data(0, TYPE_ROLE):
            self.palette_widget.start_drag(self.palette_widget.mimeData([item]))

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
            self.palette_widget.add_layer(item.data(0, TYPE_ROLE))
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()  # descriptions re-wrap to the new width


class PaletteWidget(QWidget):
    """Search field + layer tree. `view_centre` gives the scene point for double-click adds."""

    def __init__(
        self,
        document: NetworkDocument,
        view_centre: Callable[[], tuple[float, float]] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.document = document
        self.view_centre = view_centre
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter the layers by name or description")
        self.search.textChanged.connect(self.filter)
        self.tree = LayerTree(self)
        self.tree.setToolTip(
            "Drag a layer onto the canvas, or double-click it to add it after the selected layer"
        )
        self.tree.itemDoubleClicked.connect(lambda item, _column: self.add_layer(item.data(0, TYPE_ROLE)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._populate()

    def _populate(self) -> None:
        self.tree.clear()
        for group, layers in layer_groups().items():
            header = QTreeWidgetItem([group])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            header.setToolTip(0, f"{group} layers")
            self.tree.addTopLevelItem(header)
            for layer in layers:
                item = QTreeWidgetItem(header, [layer.name])
                item.setData(0, TYPE_ROLE, layer.name)
                item.setData(0, DESCRIPTION_ROLE, layer.description)
                item.setIcon(0, group_icon(group))
                item.setToolTip(
                    0,
                    f"<b>{layer.name}</b> ({group})<br>{layer.description}<br>"
                    "<i>Drag onto the canvas or double-click to add.</i>",
                )
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
            header.setExpanded(True)

    # ----------------------------------------------------------------- public
    def layer_item(self, type_name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(i)
            for j in range(header.childCount()):
                if header.child(j).data(0, TYPE_ROLE) == type_name:
                    return header.child(j)
        return None

    def visible_types(self) -> list[str]:
        """Type names not hidden by the search filter, in display order."""
        names = []
        for i in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(i)
            names += [
                header.child(j).data(0, TYPE_ROLE)
                for j in range(header.childCount())
                if not header.child(j).isHidden()
            ]
        return names

    def filter(self, text: str) -> None:
        """Show the layers whose name or description contains every word of `text`."""
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            header = self.tree.topLevelItem(i)
            shown = 0
            for j in range(header.childCount()):
                child = header.child(j)
                haystack = f"{child.data(0, TYPE_ROLE)} {child.data(0, DESCRIPTION_ROLE)} {header.text(0)}"
                match = all(w in haystack.lower() for w in words)
                child.setHidden(not match)
                shown += match
            header.setHidden(shown == 0)

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # noqa: N802 (Qt naming)
        """The palette's drag data: LAYER_MIME holding the first item's type name (utf-8)."""
        mime = QMimeData()
        names = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        if names:
            mime.setData(LAYER_MIME, names[0].encode("utf-8"))
            mime.setText(names[0])
        return mime

    def start_drag(self, mime: QMimeData) -> None:
        """Run the drag (blocks until the drop); overridden in tests, see QT-NOTES.md."""
        drag = QDrag(self.tree)
        drag.setMimeData(mime)
        type_name = bytes(mime.data(LAYER_MIME)).decode("utf-8")
        item = self.layer_item(type_name)
        if item is not None:
            drag.setPixmap(item.icon(0).pixmap(ICON_SIZE, ICON_SIZE))
        drag.exec(Qt.DropAction.CopyAction)

    def add_layer(self, type_name: str | None) -> str | None:
        """Add `type_name` after the selected layer (connected), else at the view centre."""
        if not type_name:
            return None
        selected = [i for i in self.document.selected_ids if i in self.document.spec.nodes]
        try:
            if selected:
                node_id = self.document.add_node_after(type_name, selected[-1])
            else:
                x, y = self.view_centre() if self.view_centre is not None else (0.0, 0.0)
                node_id = self.document.add_node(type_name, (x, y))
        except NetCanvasError:
            return None
        self.document.set_selection([node_id])
        return node_id


def _demo() -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    import engine  # noqa: F401  (registers every type)
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    palette = PaletteWidget(NetworkDocument())
    palette.setWindowTitle("NetCanvas — layer palette")
    palette.resize(300, 640)
    palette.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_demo())
