"""The Problems list: everything that stops the network from being built, live.

Reads `document.shape_report.problems` after every edit. Clicking a problem about a layer
selects that layer (the canvas then shows it); `problem_activated(node_id)` lets the window
scroll the canvas to it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from gui.document import NetworkDocument

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsWidget(QWidget):
    problem_activated = Signal(str)  # node id of the clicked problem ("" when it concerns no layer)
    count_changed = Signal(int)  # number of problems

    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setToolTip("Problems that stop the network from being built; click one to select "
                             "its layer")
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        document.shapes_changed.connect(self.refresh)
        document.document_reset.connect(self.refresh)
        self.refresh()

    def count(self) -> int:
        return len(self.document.shape_report.problems)

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def refresh(self) -> None:
        self.list.clear()
        problems = self.document.shape_report.problems
        error_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        ok_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        for problem in problems:
            where = f"[{problem.node_id}] " if problem.node_id else ""
            item = QListWidgetItem(error_icon, f"{where}{problem.message}")
            item.setData(NODE_ROLE, problem.node_id or "")
            item.setToolTip(problem.message + ("\nClick to select the layer." if problem.node_id else ""))
            self.list.addItem(item)
        if not problems:
            item = QListWidgetItem(ok_icon, "No problems: the network can be built and trained.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self.count_changed.emit(len(problems))

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id is None:
            return
        if node_id in self.document.spec.nodes:
            self.document.set_selection([node_id])
        self.problem_activated.emit(node_id)
