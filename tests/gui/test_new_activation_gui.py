"""The activation added in tests/engine/new_activation.py (one class, NumPy only) is offered in
the GUI: the palette's Activation layer takes it in the inspector, and so does a Dense."""

from __future__ import annotations

import pytest

import engine
from gui.document import NetworkDocument
from gui.inspector import InspectorWidget, NodePage
from gui.palette import PaletteWidget
from tests.engine.new_activation import ScaledSoftsign, registered

NAME = ScaledSoftsign.name


@pytest.fixture
def scaled_softsign():
    with registered(ScaledSoftsign) as cls:
        yield cls


@pytest.fixture
def editor(qtbot, qapp, scaled_softsign):
    """A palette and an inspector on a document Input -> Dense 'hidden' (tanh), shown."""
    spec = engine.NetworkSpec()
    spec.add_node("Input", {"shape": [2]}, node_id="in")
    spec.add_node("Dense", {"units": 4, "activation": "tanh"}, (220, 0), node_id="hidden")
    spec.connect("in", "hidden")
    doc = NetworkDocument(engine.Network(spec))
    palette = PaletteWidget(doc, lambda: (100.0, 50.0))
    inspector = InspectorWidget(doc)
    for widget in (palette, inspector):
        qtbot.addWidget(widget)
        widget.show()
    inspector.resize(380, 900)
    qtbot.waitExposed(inspector)
    return doc, palette, inspector


def choose(qtbot, doc, page: NodePage, name: str) -> None:
    combo = page.form.fields["activation"].input
    assert combo.findText(name) >= 0, [combo.itemText(i) for i in range(combo.count())]
    with qtbot.waitSignal(doc.node_changed):
        combo.setFocus()
        combo.setCurrentIndex(combo.findText(name))  # what picking it from the list does


def test_the_palettes_activation_layer_takes_it(qtbot, editor):
    doc, palette, inspector = editor
    assert "Activation" in palette.visible_types()
    doc.set_selection(["hidden"])
    node_id = palette.add_layer("Activation")  # double-click: added after the selection
    page = inspector.page
    assert isinstance(page, NodePage) and page.node_id == node_id
    choose(qtbot, doc, page, NAME)
    assert doc.spec.nodes[node_id].params["activation"] == NAME
    assert doc.network.model.layers[node_id].activation.name == NAME
    assert "2x / (1 + |x|)" in page.plot.formula.text()
    _x, y = page.plot.curve.getData()
    assert y[0] == pytest.approx(2 * -5.0 / 6.0)


def test_a_dense_takes_it(qtbot, editor):
    doc, _palette, inspector = editor
    doc.set_selection(["hidden"])
    choose(qtbot, doc, inspector.page, NAME)
    assert doc.spec.nodes["hidden"].params["activation"] == NAME
