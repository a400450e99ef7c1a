"""The Problems list: everything that stops the network from being built or trained, live.

Reads `document.shape_report.problems` after every edit, and lists after them the data check's
problems the window passes in (`set_data_problems`: no data chosen, data that does not fit).
Clicking a problem about a layer selects that layer (the canvas then shows it);
`problem_activated(node_id)` lets the window scroll the canvas to it, and
`data_problem_activated` lets it show the Data tab.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from engine.data_fit import FitProblem
from gui.document import NetworkDocument

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
DATA_ROLE = Qt.ItemDataRole.UserRole + 2  # True on the data check's problems


class ProblemsWidget(QWidget):
    problem_activated = Signal(str)  # node id of the clicked problem ("" when it concerns no layer)
    count_changed = Signal(int)  # number of problems
    data_problem_activated = Signal()  # a data problem that concerns no layer was clicked

    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.data_problems: list[FitProblem] = []
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setToolTip("Problems that stop the network from being built; click one to select its layer")
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        document.shapes_changed.connect(self.refresh)
        document.document_reset.connect(self.refresh)
        self.refresh()

    def count(self) -> int:
        return len(self.document.shape_report.problems) + len(self.data_problems)

    def set_data_problems(self, problems: list[FitProblem]) -> None:
        """Show the data check's problems after the network's (the window calls this)."""
        if problems != self.data_problems:
            self.data_problems = list(problems)
            self.refresh()

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
        for problem in self.data_problems:
            item = QListWidgetItem(error_icon, f"[data] {problem.message}")
            item.setData(NODE_ROLE, problem.node_id or "")
            item.setData(DATA_ROLE, True)
            item.setToolTip(
                problem.message
                + (
                    "\nTrain offers the fix: " + problem.fix.label
                    if problem.fix
                    else "\nClick to open the Data tab."
                )
            )
            self.list.addItem(item)
        if not problems and not self.data_problems:
            item = QListWidgetItem(ok_icon, "No problems: the network can be built and trained.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self.count_changed.emit(self.count())

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id is None:
            return
        if item.data(DATA_ROLE) and not node_id:
            self.data_problem_activated.emit()
            return
        if node_id in self.document.spec.nodes:
            self.document.set_selection([node_id])
        self.problem_activated.emit(node_id)
