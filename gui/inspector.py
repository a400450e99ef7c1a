"""The inspector: edits the selected layer, or the network's training and data settings.

One layer selected: its id (renamable), type, description, output shape, parameter count,
any problem, and one validated editor per parameter (with an activation plot where there is an
activation). Nothing selected: the training settings (gui/training_settings.py). Every edit
goes through the document (undoable); the inspector refreshes from the document's signals, with
set_value never re-emitting, so there are no echo loops.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NetCanvasError
from engine.registry import LAYERS
from gui.activation_plot import ActivationPlot
from gui.document import NetworkDocument
from gui.param_editors import SpecForm, install_wheel_guard
from gui.summary_view import node_parameters
from gui.theme import ERROR_COLOR, group_icon, hint_color
from gui.training.settings_page import TrainingSettingsPage


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return (
        "unknown (fix the problems upstream)"
        if shape is None
        else "(None, " + ", ".join(str(d) for d in shape) + ")"
    )


class NodePage(QWidget):
    """Everything about one layer."""

    def __init__(self, document: NetworkDocument, node_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.node_id = node_id
        node = document.spec.nodes[node_id]
        layer = LAYERS.get(node.type)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        header = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(group_icon(layer.group, 36).pixmap(36, 36))
        icon.setToolTip(f"{layer.group} layer")
        title = QLabel(
            f"<span style='font-size:13pt; font-weight:600'>{node.type}</span>"
            f"<br><span style='color:{hint_color(self.palette())}'>{layer.group} layer</span>"
        )
        title.setToolTip(f"Layer type {node.type} ({layer.group})")
        header.addWidget(icon)
        header.addWidget(title, 1)
        layout.addLayout(header)
        description = QLabel(layer.description)
        description.setWordWrap(True)
        layout.addWidget(description)

        info = QFormLayout()
        self.id_edit = QLineEdit(node_id)
        self.id_edit.setToolTip("The layer's name on the canvas and in files (letters, digits, _ - .)")
        self.id_edit.editingFinished.connect(self._rename)
        self.id_error = QLabel()
        self.id_error.setWordWrap(True)
        self.id_error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.id_error.hide()
        id_box = QVBoxLayout()
        id_box.setSpacing(1)
        id_box.addWidget(self.id_edit)
        id_box.addWidget(self.id_error)
        info.addRow("Name", id_box)
        self.shape_label = QLabel()
        self.shape_label.setToolTip("Shape of this layer's output; None is the batch dimension")
        self.params_label = QLabel()
        self.params_label.setToolTip("Number of trainable weights and biases (and running statistics)")
        info.addRow("Output shape", self.shape_label)
        info.addRow("Parameters", self.params_label)
        layout.addLayout(info)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {ERROR_COLOR}; font-weight: 600;")
        layout.addWidget(self.problem_label)

        box = QGroupBox("Settings")
        box_layout = QVBoxLayout(box)
        self.form = SpecForm(layer.param_specs)
        self.form.committed.connect(self._commit)
        box_layout.addWidget(self.form)
        if not layer.param_specs:
            box_layout.addWidget(QLabel("This layer has no parameters."))
        self.plot: ActivationPlot | None = None
        if "activation" in self.form.fields:
            self.plot = ActivationPlot()
            self.form.add_below("activation", self.plot)
        layout.addWidget(box)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        """Show the document's current values (never emits an edit)."""
        spec, report = self.document.spec, self.document.shape_report
        node = spec.nodes.get(self.node_id)
        if node is None:
            return
        self.form.set_values(node.params)
        if self.plot is not None:
            self.plot.set_activation(node.params["activation"], node.params.get("alpha"))
        self.shape_label.setText(_shape_text(report.shapes.get(self.node_id)))
        count = node_parameters(spec, report, self.node_id)
        self.params_label.setText("unknown" if count is None else f"{count:,}")
        problems = [p.message for p in report.problems if p.node_id == self.node_id]
        self.problem_label.setText("\n".join(f"⚠ {m}" for m in problems))
        self.problem_label.setVisible(bool(problems))

    def _commit(self, name: str, value: Any) -> None:
        try:
            self.document.set_node_params(self.node_id, {name: value})
        except NetCanvasError as exc:
            self.form.fields[name].show_error(str(exc))

    def _rename(self) -> None:
        new_id = self.id_edit.text().strip()
        if new_id == self.node_id:
            self.id_error.hide()
            return
        try:
            self.document.rename_node(self.node_id, new_id)
        except NetCanvasError as exc:
            self.id_error.setText(str(exc))
            self.id_error.show()
            self.id_edit.setStyleSheet(f"border: 2px solid {ERROR_COLOR}; border-radius: 3px;")


class InspectorWidget(QScrollArea):
    """Shows the page for the current selection and rebuilds it when the selection changes."""

    def __init__(self, document: NetworkDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.page: QWidget | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("")
        document.selection_changed.connect(self.rebuild)
        document.document_reset.connect(self.rebuild)
        document.node_changed.connect(self._node_changed)
        document.shapes_changed.connect(self._shapes_changed)
        document.settings_changed.connect(self._settings_changed)
        self.rebuild()

    def rebuild(self, *_args: object) -> None:
        ids = [i for i in self.document.selected_ids if i in self.document.spec.nodes]
        if len(ids) == 1:
            page: QWidget = NodePage(self.document, ids[0])
        elif ids:
            page = QLabel(
                f"{len(ids)} layers selected.\n\nSelect a single layer to edit it, or click "
                "an empty spot of the canvas for the training settings."
            )
            page.setWordWrap(True)
            page.setAlignment(Qt.AlignmentFlag.AlignTop)
            page.setMargin(12)
        else:
            page = TrainingSettingsPage(self.document)
        old = self.takeWidget()
        if old is not None:
            old.deleteLater()
        self.page = page
        self.setWidget(page)
        # never narrower than the page: there is no horizontal scroll bar, so it would be clipped
        bar = self.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(min(page.minimumSizeHint().width() + bar + 2, 480))

    def _node_changed(self, node_id: str) -> None:
        if isinstance(self.page, NodePage) and self.page.node_id == node_id:
            self.page.refresh()

    def _shapes_changed(self) -> None:
        if isinstance(self.page, NodePage):
            self.page.refresh()

    def _settings_changed(self) -> None:
        if isinstance(self.page, TrainingSettingsPage):
            self.page.refresh()


def _demo() -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    import engine
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    install_wheel_guard(app)
    spec = engine.NetworkSpec()
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 16, "activation": "tanh"}, (220, 0), node_id="hidden")
    spec.connect("in", "hidden")
    document = NetworkDocument(engine.Network(spec))
    inspector = InspectorWidget(document)
    inspector.setWindowTitle("NetCanvas — inspector (Dense selected; run with 'settings' for training)")
    if "settings" not in sys.argv[1:]:
        document.set_selection(["hidden"])
    inspector.resize(360, 760)
    inspector.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(_demo())
