"""Convolution and pooling layers in the editor: the canvas shows their shapes, parameter counts
and problems live, the inspector edits their window sizes, the palette lists their groups."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.registry import LAYERS
from gui.canvas.view import CanvasView
from gui.inspector import InspectorWidget, NodePage
from gui.palette import PaletteWidget
from gui.param_editors import TextField
from gui.theme import group_icon
from tests.gui.test_inspector import type_into


@pytest.fixture
def editor(qtbot, doc):
    """Palette, canvas and inspector on one document, shown; Input [1, 5, 5] -> Conv2D "conv"."""
    host = QWidget()
    view = CanvasView(doc)
    palette = PaletteWidget(doc, lambda: (100.0, 50.0))
    inspector = InspectorWidget(doc)
    layout = QHBoxLayout(host)
    layout.addWidget(palette)
    layout.addWidget(view, 1)
    layout.addWidget(inspector)
    qtbot.addWidget(host)
    host.resize(1400, 800)
    host.show()
    qtbot.waitExposed(host)
    doc.rename_node(doc.add_node("Input", (0.0, 0.0), {"shape": [1, 5, 5]}), "in")
    doc.rename_node(doc.add_node("Conv2D", (240.0, 0.0), {"filters": 4}), "conv")
    doc.connect("in", "conv")
    yield doc, view, palette, inspector
    del host


def kernel_field(doc, inspector, name: str = "kernel_size") -> TextField:
    doc.set_selection(["conv"])
    assert isinstance(inspector.page, NodePage) and inspector.page.node_id == "conv"
    field = inspector.page.form.fields[name]
    assert isinstance(field, TextField)
    return field


def test_conv_card_shows_shape_and_parameters(editor):
    doc, view, _palette, _inspector = editor
    item = view.node_item("conv")
    assert item.content.shape == "→ (None, 4, 3, 3)"
    assert item.content.params == "40 params"  # 4 filters x 1 channel x 3 x 3 + 4 biases
    assert item.content.problem == ""


def test_a_kernel_larger_than_its_input_gets_a_badge_with_the_reason(editor, qtbot):
    doc, view, _palette, inspector = editor
    item = view.node_item("conv")
    type_into(qtbot, kernel_field(doc, inspector).input, "7")
    assert doc.spec.nodes["conv"].params["kernel_size"] == (7,)
    assert item.content.shape == "→ ?"
    assert "7" in item.content.problem and "5" in item.content.problem  # names window and input
    assert item.content.problem in item.toolTip()
    doc.undo_stack.undo()
    assert item.content.problem == "" and item.content.shape == "→ (None, 4, 3, 3)"


def test_a_stride_that_leaves_nothing_and_a_pool_too_large_get_badges(editor):
    doc, view, _palette, _inspector = editor
    doc.set_node_params("conv", {"kernel_size": (5,), "strides": (1,), "padding": "valid"})
    assert view.node_item("conv").content.shape == "→ (None, 4, 1, 1)"
    doc.rename_node(doc.add_node("MaxPooling2D", (480.0, 0.0), {"pool_size": [2]}), "pool")
    doc.connect("conv", "pool")
    pool = view.node_item("pool")
    assert pool.content.problem and pool.content.shape == "→ ?"
    assert "2" in pool.content.problem and "1" in pool.content.problem


def test_the_inspector_edits_window_sizes_as_one_number_or_one_per_axis(editor, qtbot):
    doc, view, _palette, inspector = editor
    item = view.node_item("conv")
    type_into(qtbot, kernel_field(doc, inspector).input, "3, 2")
    assert doc.spec.nodes["conv"].params["kernel_size"] == (3, 2)
    assert item.content.shape == "→ (None, 4, 3, 4)"
    assert item.content.params == "28 params"  # 4 x 1 x 3 x 2 + 4
    type_into(qtbot, kernel_field(doc, inspector, "strides").input, "2")
    assert item.content.shape == "→ (None, 4, 2, 2)"
    field = kernel_field(doc, inspector, "strides")
    type_into(qtbot, field.input, "two", enter=False)
    assert field.error and "whole numbers" in field.hint.text()
    assert doc.spec.nodes["conv"].params["strides"] == (2,)  # nothing committed
    assert kernel_field(doc, inspector).input.placeholderText() == "e.g. 3 or 3, 5"
    doc.set_selection(["conv"])
    combo = inspector.page.form.fields["padding"].input
    combo.setCurrentIndex(combo.findText("same"))  # what picking it from the list does
    assert doc.spec.nodes["conv"].params["padding"] == "same"
    assert item.content.shape == "→ (None, 4, 3, 3)"  # ceil(5 / 2)


@pytest.mark.parametrize(
    "group, types",
    [
        ("Convolution", ["Conv2D", "Conv1D"]),
        (
            "Pooling",
            [
                "MaxPooling2D",
                "AveragePooling2D",
                "GlobalAveragePooling2D",
                "GlobalMaxPooling2D",
                "MaxPooling1D",
            ],
        ),
        ("Reshape", ["ZeroPadding2D"]),
    ],
)
def test_the_palette_lists_the_new_groups_with_icon_and_description(editor, group, types):
    _doc, _view, palette, _inspector = editor
    for type_name in types:
        item = palette.layer_item(type_name)
        assert item is not None and item.parent().text(0) == group
        assert LAYERS.get(type_name).description and LAYERS.get(type_name).description in item.toolTip(0)
        assert not item.icon(0).isNull()
    default = group_icon("No such group").pixmap(32, 32).toImage()
    assert group_icon(group).pixmap(32, 32).toImage() != default  # its own colour and glyph


def test_every_layer_group_has_a_glyph_of_its_own():
    from gui.theme import _GLYPHS

    groups = {LAYERS.get(name).group for name in LAYERS.names()}
    assert groups - set(_GLYPHS) == set()
