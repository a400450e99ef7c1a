"""NetworkDocument: every edit is one undoable command with a readable text, and emits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import ConfigError, GraphError, NetworkFileError, RegistryError
from gui.document import NetworkDocument
from gui.network_layout import layer_depths, layered_positions, order_layers


@pytest.fixture
def chain(doc):
    """in (Input [4]) -> h (Dense 8 relu) -> out (Dense 1)."""
    doc.add_node("Input", (0, 0), {"shape": [4]})
    doc.rename_node("input_1", "in")
    doc.add_node_after("Dense", "in")
    doc.rename_node("dense_1", "h")
    doc.set_node_params("h", {"units": 8, "activation": "relu"})
    doc.add_node_after("Dense", "h")
    doc.rename_node("dense_1", "out")
    doc.set_node_params("out", {"units": 1})
    doc.undo_stack.clear()
    return doc


def history(doc):
    return [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]


def test_add_connect_texts_and_signals(doc, qtbot):
    with qtbot.waitSignal(doc.shapes_changed), qtbot.waitSignal(doc.node_added) as blocker:
        first = doc.add_node("Input", (10, 20), {"shape": [3]})
    assert blocker.args == ["input_1"]
    second = doc.add_node("Dense", (250, 20))
    with qtbot.waitSignal(doc.edge_added) as blocker:
        assert doc.connect(first, second) == (True, "")
    assert blocker.args == [first, second]
    assert history(doc) == ["Add Input 'input_1'", "Add Dense 'dense_1'", "Connect input_1 → dense_1"]
    assert doc.shape_report.shapes == {"input_1": (3,), "dense_1": (32,)}
    assert doc.is_modified()
    doc.undo_stack.undo()
    assert doc.spec.edges == []
    doc.undo_stack.redo()
    assert doc.spec.edges == [("input_1", "dense_1")]


def test_connect_refused_with_reason_and_nothing_pushed(chain):
    count = chain.undo_stack.count()
    assert chain.connect("out", "in") == (False, "Input 'in' is an input: nothing can feed it")
    extra = chain.add_node("Input", (0, 200), {"shape": [4]})
    ok, reason = chain.connect(extra, "h")
    assert not ok and "already has 1" in reason
    first, second = chain.add_node("Add"), chain.add_node("Add")
    chain.connect(first, second)
    count = chain.undo_stack.count()
    assert chain.connect(second, first) == (False, "that connection would make a cycle")
    assert chain.undo_stack.count() == count


def test_invalid_edits_raise_and_push_nothing(chain):
    with pytest.raises(RegistryError, match="valid choices"):
        chain.add_node("Densee")
    with pytest.raises(ConfigError, match="units"):
        chain.set_node_params("h", {"units": 0})
    with pytest.raises(ConfigError, match="already exists"):
        chain.rename_node("h", "out")
    with pytest.raises(ConfigError, match="not valid"):
        chain.rename_node("h", "has space")
    with pytest.raises(GraphError):
        chain.disconnect("in", "out")
    assert chain.undo_stack.count() == 0
    assert chain.spec.nodes["h"].params["units"] == 8


def test_remove_undo_restores_nodes_edges_and_order(chain, qtbot):
    before = chain.spec.to_dict()
    with qtbot.waitSignals([chain.edge_removed, chain.edge_removed, chain.node_removed]):
        chain.remove_nodes(["h"])
    assert list(chain.spec.nodes) == ["in", "out"] and chain.spec.edges == []
    assert history(chain) == ["Remove Dense 'h'"]
    chain.undo_stack.undo()
    assert chain.spec.to_dict() == before


def test_set_params_rename_and_settings_undo(chain, qtbot):
    with qtbot.waitSignal(chain.node_changed):
        chain.set_node_params("h", {"units": 16})
    assert chain.shape_report.shapes["h"] == (16,)
    chain.rename_node("h", "hidden")
    assert chain.spec.edges == [("in", "hidden"), ("hidden", "out")]
    with qtbot.waitSignal(chain.settings_changed):
        chain.set_training({"epochs": 3, "optimizer": {"type": "sgd", "learning_rate": 0.1}})
    assert chain.network.training.epochs == 3
    chain.set_data({"source": "xor", "n": 100})
    assert history(chain) == [
        "Set units of Dense 'h'",
        "Rename Dense 'h' to 'hidden'",
        "Change training settings",
        "Change data settings",
    ]
    for _ in range(4):
        chain.undo_stack.undo()
    assert chain.spec.edges == [("in", "h"), ("h", "out")]
    assert chain.spec.nodes["h"].params["units"] == 8
    assert chain.network.training.epochs == 20 and chain.spec.data == {}
    with pytest.raises(ConfigError):
        chain.set_data({"source": "nowhere"})


def test_copy_paste_and_duplicate(chain, qtbot):
    fragment = json.loads(json.dumps(chain.copy_fragment(["h", "out"])))
    assert [n["id"] for n in fragment["nodes"]] == ["h", "out"]
    assert fragment["edges"] == [["h", "out"]]
    with qtbot.waitSignal(chain.selection_changed):
        ids = chain.paste_fragment(fragment)
    assert ids == ["h_1", "out_1"]
    assert ("h_1", "out_1") in chain.spec.edges and len(chain.spec.edges) == 3
    assert chain.spec.nodes["h_1"].pos == (
        chain.spec.nodes["h"].pos[0] + 40,
        chain.spec.nodes["h"].pos[1] + 40,
    )
    assert chain.spec.nodes["h_1"].params == chain.spec.nodes["h"].params
    assert chain.selected_ids == ids
    assert chain.duplicate(["in"]) == ["in_1"]
    assert history(chain) == ["Paste 2 layers", "Duplicate Input 'in_1'"]
    chain.undo_stack.undo()
    chain.undo_stack.undo()
    assert list(chain.spec.nodes) == ["in", "h", "out"]
    other = NetworkDocument()  # another window keeps the ids when they are free
    assert other.paste_fragment(fragment) == ["h", "out"]
    with pytest.raises(ConfigError):
        other.paste_fragment({"format": "netcanvas-fragment", "nodes": [{"type": "Dense"}]})


def test_move_and_auto_layout_one_entry_each(chain):
    chain.move_nodes({"h": (500, 300), "out": (100, 900)})
    chain.move_nodes({"h": (500, 300)})  # nothing moved: no entry
    assert history(chain) == ["Move 2 layers"]
    chain.auto_layout()
    assert history(chain)[-1] == "Auto-layout"
    xs = [chain.spec.nodes[i].pos[0] for i in ("in", "h", "out")]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert len({chain.spec.nodes[i].pos[1] for i in ("in", "h", "out")}) == 1
    chain.undo_stack.undo()
    assert chain.spec.nodes["out"].pos == (100.0, 900.0)


def test_layout_orders_rows_to_avoid_crossings():
    nodes = ["a", "b", "x", "y"]
    edges = [("a", "y"), ("b", "x")]  # drawn in the given order, these two edges would cross
    layers = order_layers(nodes, edges, layer_depths(nodes, edges))
    assert [layers[0].index("a"), layers[0].index("b")] == [layers[1].index("y"), layers[1].index("x")]
    pos = layered_positions(["in", "a", "b", "add"], [("in", "a"), ("in", "b"), ("a", "add"), ("b", "add")])
    assert pos["in"][0] < pos["a"][0] == pos["b"][0] < pos["add"][0]
    assert pos["a"][1] != pos["b"][1] and min(p[1] for p in pos.values()) == 0


def test_save_open_round_trip_and_clean_state(chain, tmp_path, qtbot):
    path = tmp_path / "net.json"
    chain.set_node_params("h", {"units": 5})
    with qtbot.waitSignals([chain.modified_changed, chain.path_changed]):
        chain.save(path)
    assert not chain.is_modified() and chain.path == path
    fresh = NetworkDocument()
    with qtbot.waitSignals([fresh.document_reset, fresh.shapes_changed]):
        fresh.open_file(path)
    assert fresh.spec.to_dict() == chain.spec.to_dict()
    assert fresh.path == path and not fresh.is_modified() and fresh.undo_stack.count() == 0
    fresh.set_node_params("h", {"units": 6})
    fresh.revert()
    assert fresh.spec.nodes["h"].params["units"] == 5


def test_open_corrupt_file_keeps_document(chain, tmp_path, qtbot):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "netcanvas", "nodes": [', encoding="utf-8")
    before = chain.spec.to_dict()
    with qtbot.assertNotEmitted(chain.document_reset), pytest.raises(NetworkFileError, match="bad.json"):
        chain.open_file(bad)
    assert chain.spec.to_dict() == before and chain.path is None


def test_new_document_and_selection(chain, qtbot):
    with qtbot.waitSignal(chain.selection_changed) as blocker:
        chain.set_selection(["h", "missing"])
    assert blocker.args == [["h"]]
    chain.remove_nodes(["h"])
    assert chain.selected_ids == []
    with qtbot.waitSignal(chain.document_reset):
        chain.new_document()
    assert chain.spec.nodes == {} and chain.undo_stack.count() == 0


def _train_copy(doc, epochs: int):
    """Train the document's copy for `epochs` on 32 random samples, as a run's worker does."""
    doc.set_training({**doc.spec.training, "loss": "mse", "batch_size": 8, "epochs": epochs})
    doc.undo_stack.clear()
    network, before, version = doc.copy_for_training()
    rng = np.random.default_rng(0)
    network.fit(rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32"))
    return network, before, version


def test_a_run_trains_a_copy_and_ends_in_one_train_entry(chain, qtbot):
    untrained = chain.network.get_weights()
    network, before, version = _train_copy(chain, 2)
    assert chain.network.history.steps == 0  # the run changed only its copy
    assert all(np.array_equal(a, b) for a, b in zip(chain.network.get_weights(), untrained, strict=True))
    with qtbot.waitSignal(chain.weights_changed):
        assert chain.finish_training(before, network, version, "finished")
    assert history(chain)[-1] == "Train (2 epochs, finished)"
    assert chain.network.history.steps == 8 and chain.network.model is network.model
    chain.undo_stack.undo()
    assert chain.network.history.steps == 0
    assert all(np.array_equal(a, b) for a, b in zip(chain.network.get_weights(), untrained, strict=True))


def test_a_run_whose_network_was_edited_meanwhile_is_not_taken(chain):
    network, before, version = _train_copy(chain, 1)
    chain.set_node_params("h", {"units": 5})  # while it trained
    entries = history(chain)
    assert not chain.finish_training(before, network, version, "finished")
    # its weights are not taken; the run is still kept in the Runs list, to compare its curves
    assert history(chain) == [*entries, "Record Run 1"] and chain.network.history.steps == 0
    assert [run.name for run in chain.network.runs] == ["Run 1"]
