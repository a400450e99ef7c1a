"""The acceptance scenario of "every view shows the open network": open Spiral → train → open the
MNIST example → train one epoch → open Vanishing gradients → New. After each step every tab
(Curves, Boundary, Health, Results, Data) and the status bar shows the current document, or its
empty state, never the previous file's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from test_views_follow_document import assert_views_show_the_document

from gui.training.session import IDLE

MNIST = Path(__file__).parents[3] / "shared/data/mnist"


@pytest.fixture
def window(window, monkeypatch):
    # (each step drops the previous network unsaved, as "Discard" would)
    for kind in ("warning", "critical", "information"):  # any message box would be a failure here
        monkeypatch.setattr(
            QMessageBox, kind, lambda _p, title, text, *a, _k=kind, **k: pytest.fail(f"{title}: {text}")
        )
    return window


def _open_example(win, qtbot, name: str) -> None:
    entries = [a for a in win.actions_.menus["examples"].actions() if a.text().replace("&", "") == name]
    assert entries, f"no example called {name!r}"
    with qtbot.waitSignal(win.document.document_reset):
        entries[0].trigger()
    qtbot.waitUntil(lambda: not win.session.data_pending(), timeout=20000)


def _train(win, qtbot) -> None:
    win.training_controls.train.trigger()
    qtbot.waitUntil(lambda: win.session.state != IDLE, timeout=20000)
    qtbot.waitUntil(lambda: win.session.state == IDLE, timeout=120000)


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"the MNIST files are not in {MNIST} (the shared data folder)")
def test_every_tab_follows_the_document_through_a_session(window, qtbot):
    panel, doc = window.training_panel, window.document

    _open_example(window, qtbot, "Spiral")
    assert_views_show_the_document(window)
    doc.set_training({**doc.spec.training, "epochs": 20})
    _train(window, qtbot)
    assert (
        doc.network.history.steps > 0
        and panel.curves.epoch_logs["loss"] == doc.network.history.epochs["loss"]
    )
    assert panel.surface.surface is not None and panel.results.matrix.shape == (2, 2)
    assert panel.surface.unit_side.isVisibleTo(panel.surface)
    assert {layer.node_id for layer in panel.health.latest.layers} == set(doc.spec.nodes) - {"in"}

    _open_example(window, qtbot, "MNIST MLP")
    doc.set_data({"source": "mnist", "path": str(MNIST)})  # the shared folder, not the download cache
    qtbot.waitUntil(lambda: window.session.dataset is not None, timeout=20000)
    assert_views_show_the_document(window)
    assert panel.surface.surface is None and panel.results.matrix is None  # the spiral's are gone
    doc.set_training({**doc.spec.training, "epochs": 1})
    _train(window, qtbot)
    assert len(doc.network.history.epochs["loss"]) == 1
    assert panel.results.matrix.shape == (10, 10) and panel.surface.surface is None
    assert panel.surface.note.isVisibleTo(panel.surface)  # images have no decision plane to draw
    assert not panel.surface.unit_side.isVisibleTo(panel.surface)  # nor unit maps over one
    assert [layer.node_id for layer in panel.health.latest.layers] == ["hidden", "digits"]

    _open_example(window, qtbot, "Vanishing gradients")
    assert_views_show_the_document(window)
    assert panel.results.matrix is None and panel.health.latest is None  # MNIST's 10x10 matrix is gone

    window.actions_.new.trigger()
    qtbot.waitUntil(lambda: not window.session.data_pending(), timeout=10000)
    assert_views_show_the_document(window)
    assert window.session.dataset is None
    assert panel.health.layer_choice.count() == 0  # no "sigmoid1" histogram left over
