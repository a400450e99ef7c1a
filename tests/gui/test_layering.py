"""Model and view: the GUI's model modules import no view, not even inside a function.

The model (the document, its commands and the Runs list's, the list of examples, the layout of a
network's cards) is what every view shows; a view (canvas, palette, inspector, main window,
training views, dialogs) observes it. Imports are read with `ast`, nothing is imported. A lazy import inside a function
counts: it hides a dependency on a view, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_MODULES = ("gui.document", "gui.commands", "gui.run_commands", "gui.examples", "gui.network_layout")
# What a model module may import from the GUI: other model modules. Of Qt: the core and the undo
# stack (QtGui), never widgets.
QT_ALLOWED = ("PySide6.QtCore", "PySide6.QtGui")
VIEWS = (
    "gui.canvas",
    "gui.palette",
    "gui.inspector",
    "gui.main_window",
    "gui.training",
    "gui.examples_dialog",
    "gui.summary_view",
    "gui.problems",
    "gui.workspaces",
    "gui.actions",
)


def imported_names(source: str) -> set[str]:
    """Every module an `import` anywhere in `source` names (`from a.b import c` gives a.b and
    a.b.c, since c may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden(names: set[str]) -> list[str]:
    """The names a model module must not import: a gui module that is not a model module, or Qt
    beyond QtCore / QtGui."""
    allowed = {"gui": MODEL_MODULES, "PySide6": QT_ALLOWED}
    bad = []
    for name in sorted(names):
        within = allowed.get(name.split(".")[0])
        if within and "." in name and not any(name == m or name.startswith(m + ".") for m in within):
            bad.append(name)
    return bad


def _source(module: str) -> str:
    return (ROOT / Path(*module.split("."))).with_suffix(".py").read_text(encoding="utf-8")


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_a_model_module_imports_no_view(module: str) -> None:
    assert forbidden(imported_names(_source(module))) == []


def test_the_layout_of_a_network_needs_no_qt() -> None:
    assert [n for n in imported_names(_source("gui.network_layout")) if n.split(".")[0] == "PySide6"] == []


@pytest.mark.parametrize(
    "source",
    [
        "from gui.canvas import CanvasView",
        "from gui.canvas.node_item import WIDTH",
        "import gui.main_window",
        "from gui import palette",
        "from gui.training.panel import TrainingPanel",
        "from PySide6.QtWidgets import QMessageBox",
        "def render():\n    from gui.canvas import CanvasView\n    return CanvasView",
    ],
)
def test_an_import_of_a_view_is_found_even_inside_a_function(source: str) -> None:
    assert forbidden(imported_names(source))


def test_every_view_named_here_exists() -> None:
    for view in VIEWS:
        path = ROOT / Path(*view.split("."))
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), view


@pytest.mark.parametrize("view", VIEWS)
def test_the_views_are_not_mistaken_for_the_model(view: str) -> None:
    assert forbidden({view, f"{view}.anything"})
