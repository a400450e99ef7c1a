"""NetworkDocument: the network being edited, its undo stack and the signals views observe.

Views never change the spec: they call the methods below, each of which validates the edit,
pushes one command (gui/commands.py) on `undo_stack` and so emits the fine-grained signals, then
`shapes_changed` once the shapes are re-inferred. Structural edits also drop trained weights, since
the model they belong to no longer matches the drawing; their undo gives the trained state back.
The weights, optimizer state, history and scaler (`NetworkState`) are undo state like the spec:
a run trains a copy (`copy_for_training`) and ends in a "Train" entry (`finish_training`), and
Reset weights is an entry too.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine import io as engine_io
from engine.data import source_names
from engine.errors import ConfigError, GraphError, NetworkFileError
from engine.graph import NetworkSpec, Node, ShapeReport
from engine.network import Network
from engine.registry import LAYERS, resolve_params
from engine.runs import GradientNormLog, record_run
from engine.training.callbacks import History
from engine.training.config import TrainingConfig
from gui.commands import (
    AddNodesCmd,
    ConnectCmd,
    DisconnectCmd,
    MoveNodesCmd,
    NetworkState,
    RemoveNodesCmd,
    RenameCmd,
    SetParamsCmd,
    SetSectionCmd,
    StateCmd,
    layers_text,
)
from gui.network_layout import CARD_SIZE, X_GAP, free_position, layered_positions
from gui.run_commands import add_run

FRAGMENT_MIME = "application/x-netcanvas-fragment"  # clipboard: JSON of copy_fragment()
LAYER_MIME = "application/x-netcanvas-layer"  # palette drag: the registry type name (utf-8)
FRAGMENT_FORMAT = "netcanvas-fragment"

Pos = tuple[float, float]


class NetworkDocument(QObject):
    node_added = Signal(str)  # node id
    node_removed = Signal(str)  # node id
    node_moved = Signal(str)  # node id (new pos in spec.nodes[id].pos)
    node_changed = Signal(str)  # node id (params changed)
    edge_added = Signal(str, str)  # source id, target id
    edge_removed = Signal(str, str)  # source id, target id
    shapes_changed = Signal()  # re-inferred after every edit: read document.shape_report
    settings_changed = Signal()  # training or data section changed
    document_reset = Signal()  # whole spec replaced (new/open/revert): rebuild views
    # the weights, optimizer state or history were replaced (a run's Train entry, Reset weights,
    # or the undo/redo of either or of an edit that dropped trained weights): read network.history
    weights_changed = Signal()
    modified_changed = Signal(bool)  # unsaved changes or not (follows undo_stack clean state)
    path_changed = Signal(object)  # pathlib.Path or None
    selection_changed = Signal(list)  # list[str] of selected node ids (set by the canvas)
    runs_changed = Signal()  # network.runs replaced: a run recorded, renamed, deleted, or undone

    def __init__(
        self,
        network: Network | None = None,
        path: str | os.PathLike[str] | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.network = network if network is not None else Network(NetworkSpec())
        self.network.spec.training = self.network.training.to_dict()
        self.path: Path | None = Path(path) if path is not None else None
        self.selected_ids: list[str] = []
        self.shape_report: ShapeReport = self.spec.infer_shapes()
        self.structure_version = 0  # counts structural edits, undos and redos (a run checks it)
        self._seed_weights = self.network._model is None  # the weights are the seed's initial ones

    @property
    def spec(self) -> NetworkSpec:
        return self.network.spec

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    # ------------------------------------------------------------------ edits
    def add_node(self, type_name: str, pos: Pos = (0.0, 0.0), params: dict[str, Any] | None = None) -> str:
        """Add a layer of registry type `type_name` with its top-left corner at `pos`; its id."""
        node = self._new_node(type_name, params, pos, self.spec.new_id(type_name))
        self.undo_stack.push(AddNodesCmd(self, [node], [], layers_text("Add", [node])))
        return node.id

    def add_node_after(self, type_name: str, after_id: str) -> str:
        """Add a layer to the right of `after_id`, fed by it when that connection is allowed."""
        after = self._node(after_id)
        wanted = (after.pos[0] + X_GAP, after.pos[1])
        x, y = free_position(wanted, [n.pos for n in self.spec.nodes.values()], CARD_SIZE)
        node = self._new_node(type_name, None, (x, y), self.spec.new_id(type_name))
        edges = [(after_id, node.id)] if LAYERS.get(type_name).max_inputs != 0 else []
        text = f"Add {node.label()} after '{after_id}'"
        self.undo_stack.push(AddNodesCmd(self, [node], edges, text))
        return node.id

    def remove_nodes(self, ids: list[str]) -> None:
        ids = list(dict.fromkeys(ids))
        for node_id in ids:
            self._node(node_id)
        if ids:
            self.undo_stack.push(RemoveNodesCmd(self, ids))

    def move_nodes(self, positions: dict[str, Pos]) -> None:
        """Move nodes (top-left corners); one undo entry, pushed only if something moved."""
        new = {i: (float(x), float(y)) for i, (x, y) in positions.items() if self._node(i).pos != (x, y)}
        if new:
            old = {i: self.spec.nodes[i].pos for i in new}
            self.undo_stack.push(MoveNodesCmd(self, old, new))

    def connect(self, source: str, target: str) -> tuple[bool, str]:
        """Add the edge source -> target if `spec.can_connect` allows it; (ok, reason)."""
        ok, reason = self.spec.can_connect(source, target)
        if ok:
            self.undo_stack.push(ConnectCmd(self, source, target))
        return ok, reason

    def disconnect(self, source: str, target: str) -> None:
        if (source, target) not in self.spec.edges:
            raise GraphError(f"'{source}' is not connected to '{target}'")
        self.undo_stack.push(DisconnectCmd(self, source, target))

    def set_node_params(self, node_id: str, params: dict[str, Any]) -> None:
        """Change some parameters; ConfigError (nothing changed) if a value is not valid."""
        node = self._node(node_id)
        new = resolve_params(LAYERS.get(node.type), {**node.params, **params}, node.label())
        if new != node.params:
            self.undo_stack.push(SetParamsCmd(self, node_id, node.params, new))

    def rename_node(self, old_id: str, new_id: str) -> None:
        node = self._node(old_id)
        if new_id == old_id:
            return
        if new_id in self.spec.nodes:
            raise ConfigError(f"a node with id '{new_id}' already exists")
        NetworkSpec().add_node(node.type, node.params, node_id=new_id)  # validates the id
        self.undo_stack.push(RenameCmd(self, old_id, new_id))

    def set_training(self, training: dict[str, Any]) -> None:
        """Replace the "training" section; ConfigError if it is not valid."""
        new = TrainingConfig.from_dict(training).to_dict()
        if new != self.spec.training:
            self.undo_stack.push(SetSectionCmd(self, "training", self.spec.training, new))

    def set_data(self, data: dict[str, Any]) -> None:
        """Replace the "data" section (files are only read when training starts)."""
        if not isinstance(data, dict):
            raise ConfigError(f"data: expected an object with a 'source', got {data!r}")
        if data and data.get("source") not in source_names():
            raise ConfigError(
                f"data: 'source' must be one of {', '.join(source_names())}; got {data.get('source')!r}"
            )
        if data != self.spec.data:
            self.undo_stack.push(SetSectionCmd(self, "data", self.spec.data, data))

    def copy_fragment(self, ids: list[str]) -> dict[str, Any]:
        """The nodes `ids` and the edges among them as JSON-able data (for the clipboard)."""
        chosen = [i for i in self.spec.nodes if i in set(ids)]
        whole = self.spec.to_dict()
        return {
            "format": FRAGMENT_FORMAT,
            "nodes": [n for n in whole["nodes"] if n["id"] in chosen],
            "edges": [e for e in whole["edges"] if e[0] in chosen and e[1] in chosen],
        }

    def paste_fragment(
        self, fragment: dict[str, Any], offset: Pos = (40, 40), verb: str = "Paste"
    ) -> list[str]:
        """Add a copied fragment with fresh ids, moved by `offset`; selects and returns the new ids."""
        if not isinstance(fragment, dict) or fragment.get("format") != FRAGMENT_FORMAT:
            raise ConfigError("the clipboard does not hold NetCanvas layers")
        taken = set(self.spec.nodes)
        renamed: dict[str, str] = {}
        scratch = NetworkSpec()  # validates the fragment before anything is pushed
        try:
            for raw in fragment.get("nodes") or []:
                new_id = raw["id"] if raw["id"] not in taken else _fresh_id(raw["id"], taken)
                taken.add(new_id)
                renamed[raw["id"]] = new_id
                x, y = raw.get("pos", (0, 0))
                scratch.add_node(raw["type"], raw.get("params"), (x + offset[0], y + offset[1]), new_id)
            edges = [(renamed[s], renamed[t]) for s, t in fragment.get("edges") or []]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"the copied layers are damaged ({exc!r})") from None
        for source, target in edges:
            scratch.connect(source, target)
        nodes = list(scratch.nodes.values())
        if nodes:
            self.undo_stack.push(AddNodesCmd(self, nodes, edges, layers_text(verb, nodes)))
            self.set_selection([n.id for n in nodes])
        return [n.id for n in nodes]

    def duplicate(self, ids: list[str]) -> list[str]:
        return self.paste_fragment(self.copy_fragment(ids), verb="Duplicate")

    def auto_layout(self) -> None:
        """Layered left-to-right layout keeping the network's top-left corner; one undo entry."""
        if not self.spec.nodes:
            return
        origin = (
            min(n.pos[0] for n in self.spec.nodes.values()),
            min(n.pos[1] for n in self.spec.nodes.values()),
        )
        positions = layered_positions(list(self.spec.nodes), self.spec.edges, origin)
        new = {i: p for i, p in positions.items() if self.spec.nodes[i].pos != p}
        if new:
            old = {i: self.spec.nodes[i].pos for i in new}
            self.undo_stack.push(MoveNodesCmd(self, old, new, "Auto-layout"))

    def state(self) -> NetworkState:
        """The network's current weights, optimizer state, history and scaler (shared, not copied)."""
        network = self.network
        # Network has no public way to hand over its model without copying every array.
        model = network._model
        if self._seed_weights and network.optimizer is None and network.history.steps == 0:
            model = None  # built from the seed since: kept as None, an undo entry costs no arrays
        return NetworkState(model, network.optimizer, network.history, network.scaler)

    def copy_for_training(self) -> tuple[Network, NetworkState, int]:
        """What a run needs: a copy of the network to train (its own weights, optimizer state and
        history; nothing the run does reaches the document), the state it starts from and the
        structure version it starts at (both for `finish_training`)."""
        before = self.state()
        network = Network(self.spec.copy())
        network.set_weights(self.network.get_weights())  # copies into the new model's buffers
        network.optimizer = copy.deepcopy(before.optimizer)
        network.history = copy.deepcopy(before.history)
        network.scaler = before.scaler
        return network, before, self.structure_version

    def finish_training(
        self,
        before: NetworkState,
        trained: Network,
        structure_version: int,
        reason: str,
        gradient_norms: GradientNormLog | None = None,
    ) -> bool:
        """Take a finished run's weights, optimizer state and history, and its Run in the Runs list
        (with the `gradient_norms` seen), as one "Train" undo entry (Undo gives back `before`).
        False, and only the Run recorded, when the structure was edited since the run started at
        `structure_version`: its weights no longer fit the drawing."""
        run = record_run(
            self.network.runs,
            trained.spec,
            trained.history,
            before.history,
            trained.model.named_weights(),
            reason,
            gradient_norms,
        )
        if self.structure_version != structure_version:
            add_run(self, run)
            return False
        # `trained` is dropped after this run: its model, optimizer and history are taken as they
        # are (no copies; nothing changes them any more).
        after = NetworkState(trained.model, trained.optimizer, trained.history, trained.scaler)
        epochs = trained.history.epoch_count - before.history.epoch_count
        text = f"Train ({epochs} epoch{'s' if epochs != 1 else ''}, {reason})"
        self.undo_stack.beginMacro(text)
        self.undo_stack.push(StateCmd(self, before, after, text))
        add_run(self, run)
        self.undo_stack.endMacro()
        return True

    def reset_weights(self) -> None:
        """Fresh initial weights from the seed, forgetting optimizer state and history (undoable)."""
        current = self.state()
        if current.model is None and current.optimizer is None and not current.trained:
            return  # already fresh
        fresh = NetworkState(None, None, History(), current.scaler)
        self.undo_stack.push(StateCmd(self, current, fresh, "Reset weights"))

    def set_selection(self, ids: list[str]) -> None:
        ids = [i for i in dict.fromkeys(ids) if i in self.spec.nodes]
        if ids != self.selected_ids:
            self.selected_ids = ids
            self.selection_changed.emit(list(ids))

    # ------------------------------------------------------------------ files
    def new_document(self) -> None:
        self.load_network(Network(NetworkSpec()), None)

    def open_file(self, path: str | os.PathLike[str]) -> None:
        """Load a network file; NetworkFileError leaves the current document untouched."""
        network = engine_io.load(path)
        self.load_network(network, Path(path))

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the document (atomically) to `path` or its current path, then mark it clean."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise NetworkFileError("the network has no file name yet: choose where to save it")
        engine_io.save(self.network, target)
        self.undo_stack.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit(target)

    def revert(self) -> None:
        """Back to the saved file (or an empty network if it was never saved)."""
        if self.path is None:
            self.new_document()
        else:
            self.open_file(self.path)

    def load_network(self, network: Network, path: str | os.PathLike[str] | None = None) -> None:
        """Replace the whole document (clears undo history and selection)."""
        self.network = network
        network.spec.training = network.training.to_dict()
        self._seed_weights = network._model is None  # (a file's or an import's weights are not)
        self.selected_ids = []
        self.undo_stack.clear()
        self.shape_report = self.spec.infer_shapes()
        new_path = Path(path) if path is not None else None
        moved, self.path = new_path != self.path, new_path  # before the reset: data paths are relative to it
        self.document_reset.emit()
        self.runs_changed.emit()
        self.shapes_changed.emit()
        self.selection_changed.emit([])
        if moved:
            self.path_changed.emit(new_path)
        self.modified_changed.emit(False)

    def _clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    # ---------------------------------------------- primitives used by commands
    def _edited(self, structural: bool) -> None:
        if structural:
            self.structure_version += 1
        self.shape_report = self.spec.infer_shapes()
        self.shapes_changed.emit()

    def _set_state(self, state: NetworkState) -> None:
        previous = self.state()
        network = self.network
        network._model, network.optimizer, network.history, network.scaler = (
            state.model,
            state.optimizer,
            state.history,
            state.scaler,
        )
        self._seed_weights = state.model is None
        if previous.trained or state.trained:  # (views show nothing of an untrained network)
            self.weights_changed.emit()

    def _drop_state(self) -> NetworkState:
        """Fresh weights for a changed structure; the state they replace (for undo)."""
        dropped = self.state()
        self._set_state(NetworkState(None, None, History(), dropped.scaler))
        return dropped

    def _insert_node(self, node: Node) -> None:
        self.spec.add_node(node.type, node.params, node.pos, node.id)
        self.node_added.emit(node.id)

    def _delete_node(self, node_id: str) -> None:
        for source, target in [e for e in self.spec.edges if node_id in e]:
            self._delete_edge(source, target)
        self.spec.remove_node(node_id)
        if node_id in self.selected_ids:
            self.set_selection([i for i in self.selected_ids if i != node_id])
        self.node_removed.emit(node_id)

    def _reorder_nodes(self, order: list[str]) -> None:
        nodes = self.spec.nodes
        self.spec.nodes = {i: nodes[i] for i in [*order, *nodes] if i in nodes}

    def _insert_edge(self, source: str, target: str, index: int | None = None) -> None:
        edges = self.spec.edges
        edges.insert(len(edges) if index is None else index, (source, target))
        self.edge_added.emit(source, target)

    def _delete_edge(self, source: str, target: str) -> None:
        self.spec.disconnect(source, target)
        self.edge_removed.emit(source, target)

    def _restore_edges(self, edges: list[tuple[str, str]]) -> None:
        missing = [e for e in edges if e not in self.spec.edges]
        self.spec.edges = list(edges)
        for source, target in missing:
            self.edge_added.emit(source, target)

    def _set_pos(self, node_id: str, pos: Pos) -> None:
        self.spec.nodes[node_id].pos = pos
        self.node_moved.emit(node_id)

    def _set_params(self, node_id: str, params: dict[str, Any]) -> None:
        self.spec.nodes[node_id].params = params
        self.node_changed.emit(node_id)

    def _rename(self, old_id: str, new_id: str) -> None:
        spec = self.spec
        touching = [e for e in spec.edges if old_id in e]
        for source, target in touching:
            self.edge_removed.emit(source, target)
        node = spec.nodes[old_id]
        node.id = new_id
        spec.nodes = {(new_id if k == old_id else k): v for k, v in spec.nodes.items()}
        spec.edges = [(new_id if s == old_id else s, new_id if t == old_id else t) for s, t in spec.edges]
        was_selected = old_id in self.selected_ids
        self.selected_ids = [i for i in self.selected_ids if i != old_id]
        self.node_removed.emit(old_id)
        self.node_added.emit(new_id)
        for source, target in spec.edges:
            if new_id in (source, target):
                self.edge_added.emit(source, target)
        if was_selected:
            self.set_selection([*self.selected_ids, new_id])

    def _set_section(self, section: str, value: dict[str, Any]) -> None:
        if section == "training":
            self.network.training = TrainingConfig.from_dict(value)
        setattr(self.spec, section, value)
        self.settings_changed.emit()

    # ---------------------------------------------------------------- helpers
    def _node(self, node_id: str) -> Node:
        try:
            return self.spec.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id '{node_id}'") from None

    def _new_node(self, type_name: Any, params: Any, pos: Pos, node_id: str) -> Node:
        """A validated node not yet in the spec (RegistryError/ConfigError if not valid)."""
        scratch = NetworkSpec()
        return copy.deepcopy(scratch.add_node(type_name, params, pos, node_id))


def _fresh_id(base: str, taken: set[str]) -> str:
    """'dense_1' -> 'dense_2' (or the next free number); 'out' -> 'out_1'."""
    stem, _, number = base.rpartition("_")
    if not (stem and number.isdigit()):
        stem = base
    count = 1
    while f"{stem}_{count}" in taken:
        count += 1
    return f"{stem}_{count}"
