"""EmptyHint: a note over a view that has nothing to show, such as "Train to see the decision
boundary". It floats over its view (in no layout, so the view's own layout is untouched), keeps
itself centred near the top when the view is resized, and lets the mouse through."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

STYLE = (
    "QLabel { color: #475569; background: rgba(241, 245, 249, 225); border: 1px solid #cbd5e1;"
    " border-radius: 6px; padding: 8px 14px; }"
)


class EmptyHint(QLabel):
    def __init__(self, text: str, view: QWidget):
        super().__init__(text, view)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName("Empty view note")
        view.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self._place()

    def show_hint(self, shown: bool) -> None:
        self.setVisible(shown)
        if shown:
            self.raise_()

    def _place(self) -> None:
        view = self.parentWidget()
        width = min(max(view.width() - 40, 120), 420)
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        self.setGeometry((view.width() - width) // 2, max(view.height() // 4 - height // 2, 8), width, height)
