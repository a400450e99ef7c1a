"""Export / import entries for the main window's menus (wired by main_window.py).

Both call engine.export, so the GUI shows exactly the messages the CLI prints (without the CLI's
"error: " prefix), through gui.errors, where every error is shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QWidget

from engine import NetCanvasError, Network
from engine.export import EXPORT_FORMATS, export_network, import_onnx
from engine.export.untrained import untrained_warning
from gui import errors

EXPORT_FAILED = "Cannot export the network"
IMPORT_FAILED = "Cannot import the ONNX model"


def _show_status(parent: QWidget, text: str) -> None:
    """A status-bar message when the parent window has one (QMainWindow), else nothing."""
    status = getattr(parent, "statusBar", None)
    if callable(status):
        status().showMessage(text, 8000)


def export_dialog(parent: QWidget, network: Network, fmt: str, source_path: str | None = None) -> None:
    """Ask where to write `network` in format `fmt` ("onnx", "pytorch", "python", "netcanvas"),
    export it, then show a status message, or the error (gui.errors). A network that was
    never trained is exported only when the user confirms it."""
    warning = untrained_warning(network)
    if warning:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            parent,
            "Export an untrained network",
            f"{warning[0].upper()}{warning[1:]}, so its predictions mean nothing yet.\n\n"
            "Export it anyway? (To export what it learns, train it first: Train > Train.)",
            buttons.Yes | buttons.Cancel,
            buttons.Cancel,
        )
        if answer != buttons.Yes:
            return
    spec = EXPORT_FORMATS[fmt]
    caption = f"Export as {spec.label.rstrip('…')}"
    if spec.is_folder:
        output = QFileDialog.getExistingDirectory(parent, caption)
    else:
        output, _ = QFileDialog.getSaveFileName(
            parent, caption, "", f"{spec.label.rstrip('…')} (*{spec.suffix})"
        )
        if output and not Path(output).suffix:
            output += spec.suffix
    if not output:
        return
    try:
        written = export_network(network, fmt, output, source_path=source_path)
    except NetCanvasError as exc:
        errors.show_error(parent, EXPORT_FAILED, str(exc))
        return
    except OSError as exc:
        errors.show_error(parent, EXPORT_FAILED, f"{exc.filename or output}: {exc.strerror or exc}")
        return
    _show_status(parent, f"Exported {fmt}: {', '.join(p.name for p in written)}")


def import_onnx_dialog(parent: QWidget) -> Network | None:
    """Ask for an .onnx file and return it as a Network (None when cancelled or refused; the
    reason, e.g. the unsupported operator, is shown by gui.errors)."""
    path, _ = QFileDialog.getOpenFileName(parent, "Import ONNX model", "", "ONNX model (*.onnx)")
    if not path:
        return None
    try:
        network = import_onnx(path)
    except NetCanvasError as exc:
        errors.show_error(parent, IMPORT_FAILED, str(exc))
        return None
    _show_status(parent, f"Imported {Path(path).name}: {len(network.spec.nodes)} nodes")
    return network


def build_model_menus(window: QMainWindow, file_menu: QMenu) -> QMenu:
    """Add File > Export Model (one entry per registry format) and File > Import ONNX…, placed
    before the menu's last entry (Quit). Returns the Export Model submenu."""
    document = window.document
    last = file_menu.actions()[-1] if file_menu.actions() else None
    menu = QMenu("Export &Model", file_menu)
    menu.setToolTipsVisible(True)
    for name, spec in EXPORT_FORMATS.items():
        action = QAction(spec.label, menu)
        action.setToolTip(spec.description)
        action.setStatusTip(spec.description)
        action.triggered.connect(
            lambda _=False, fmt=name: export_dialog(
                window, document.network, fmt, str(document.path) if document.path else None
            )
        )
        menu.addAction(action)
    importer = QAction("&Import ONNX Model…", file_menu)
    importer.setStatusTip("Open an ONNX model as a network on the canvas, with its weights")

    def import_into_window() -> None:
        if not window.maybe_save():
            return
        network = import_onnx_dialog(window)
        if network is not None:
            document.load_network(network, None)
            window.view.fit_to_view()

    importer.triggered.connect(import_into_window)
    file_menu.insertMenu(last, menu)
    file_menu.insertAction(last, importer)
    file_menu.insertSeparator(last)
    return menu
