"""One QUndoCommand per kind of edit of a NetworkDocument.

Commands are built by the document after it has validated the edit, so `redo()` cannot fail
(Qt calls it inside `QUndoStack.push`, where an exception would only be printed). Each command
changes the spec through the document's private primitives, which emit the fine-grained signals
(`node_added`, `edge_removed`, ...); then `_edited()` re-infers the shapes and emits
`shapes_changed`. `text()` is what Edit > History shows, e.g. "Connect in → h".

The weights, optimizer state, history and scaler (a `NetworkState`) are part of the undo state: a
structural edit keeps the state it drops and gives it back on undo, "Train" and "Reset weights"
swap one state for another. States are shared, never copied: nothing changes a `Model`, optimizer
or `History` once it is in a state (runs train a copy), so holding one per command costs nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from engine.graph import Node
from engine.training.callbacks import History

if TYPE_CHECKING:
    from engine.data import Standardizer
    from engine.model import Model
    from engine.optimizers import Optimizer
    from gui.document import NetworkDocument

Pos = tuple[float, float]


@dataclass(frozen=True, eq=False)
class NetworkState:
    """What a run changes besides the spec. `model` None means fresh weights from the seed."""

    model: Model | None
    optimizer: Optimizer | None
    history: History
    scaler: Standardizer | None

    @property
    def trained(self) -> bool:
        return self.history.steps > 0


def layers_text(verb: str, nodes: list[Node]) -> str:
    """'Add Dense 'dense_1'' for one node, 'Add 3 layers' for several."""
    if len(nodes) == 1:
        return f"{verb} {nodes[0].label()}"
    return f"{verb} {len(nodes)} layers"


class DocumentCommand(QUndoCommand):
    """Base: applies `_redo`/`_undo`, then lets the document re-infer shapes and emit. A
    structural command drops the weights (they no longer fit the drawing) and its undo gives back
    the very state it dropped, trained or not."""

    structural = True  # changes what the model computes (so trained weights no longer fit)

    def __init__(self, document: NetworkDocument, text: str):
        super().__init__(text)
        self.document = document
        self.dropped: NetworkState | None = None

    def redo(self) -> None:
        self._redo()
        if self.structural:
            self.dropped = self.document._drop_state()
        self.document._edited(self.structural)

    def undo(self) -> None:
        self._undo()
        if self.dropped is not None:
            self.document._set_state(self.dropped)
        self.document._edited(self.structural)

    def _redo(self) -> None:
        raise NotImplementedError

    def _undo(self) -> None:
        raise NotImplementedError


class AddNodesCmd(DocumentCommand):
    """Adds nodes (already validated, with fresh ids) and edges among or into them."""

    def __init__(self, document: NetworkDocument, nodes: list[Node], edges: list[tuple[str, str]], text: str):
        super().__init__(document, text)
        self.nodes = [copy.deepcopy(n) for n in nodes]
        self.edges = list(edges)

    def _redo(self) -> None:
        for node in self.nodes:
            self.document._insert_node(copy.deepcopy(node))
        for source, target in self.edges:
            self.document._insert_edge(source, target)

    def _undo(self) -> None:
        for source, target in reversed(self.edges):
            self.document._delete_edge(source, target)
        for node in reversed(self.nodes):
            self.document._delete_node(node.id)


class RemoveNodesCmd(DocumentCommand):
    """Removes nodes and every edge touching them; undo restores node and edge order exactly."""

    def __init__(self, document: NetworkDocument, ids: list[str]):
        spec = document.spec
        nodes = [spec.nodes[i] for i in ids]
        super().__init__(document, layers_text("Remove", nodes))
        self.nodes = [copy.deepcopy(n) for n in nodes]
        self.order = list(spec.nodes)
        self.edges = list(spec.edges)

    def _redo(self) -> None:
        for node in self.nodes:
            self.document._delete_node(node.id)

    def _undo(self) -> None:
        for node in self.nodes:
            self.document._insert_node(copy.deepcopy(node))
        self.document._reorder_nodes(self.order)
        self.document._restore_edges(self.edges)


class MoveNodesCmd(DocumentCommand):
    structural = False

    def __init__(self, document: NetworkDocument, old: dict[str, Pos], new: dict[str, Pos], text: str = ""):
        nodes = [document.spec.nodes[i] for i in new]
        super().__init__(document, text or layers_text("Move", nodes))
        self.old = dict(old)
        self.new = dict(new)

    def _redo(self) -> None:
        for node_id, pos in self.new.items():
            self.document._set_pos(node_id, pos)

    def _undo(self) -> None:
        for node_id, pos in self.old.items():
            self.document._set_pos(node_id, pos)


class ConnectCmd(DocumentCommand):
    def __init__(self, document: NetworkDocument, source: str, target: str):
        super().__init__(document, f"Connect {source} → {target}")
        self.source, self.target = source, target

    def _redo(self) -> None:
        self.document._insert_edge(self.source, self.target)

    def _undo(self) -> None:
        self.document._delete_edge(self.source, self.target)


class DisconnectCmd(DocumentCommand):
    def __init__(self, document: NetworkDocument, source: str, target: str):
        super().__init__(document, f"Disconnect {source} → {target}")
        self.source, self.target = source, target
        self.index = document.spec.edges.index((source, target))  # input order matters

    def _redo(self) -> None:
        self.document._delete_edge(self.source, self.target)

    def _undo(self) -> None:
        self.document._insert_edge(self.source, self.target, self.index)


class SetParamsCmd(DocumentCommand):
    def __init__(self, document: NetworkDocument, node_id: str, old: dict[str, Any], new: dict[str, Any]):
        node = document.spec.nodes[node_id]
        changed = [k for k in new if new[k] != old.get(k)]
        what = changed[0] if len(changed) == 1 else f"{len(changed)} parameters"
        super().__init__(document, f"Set {what} of {node.label()}")
        self.node_id = node_id
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def _redo(self) -> None:
        self.document._set_params(self.node_id, copy.deepcopy(self.new))

    def _undo(self) -> None:
        self.document._set_params(self.node_id, copy.deepcopy(self.old))


class RenameCmd(DocumentCommand):
    def __init__(self, document: NetworkDocument, old_id: str, new_id: str):
        node = document.spec.nodes[old_id]
        super().__init__(document, f"Rename {node.label()} to '{new_id}'")
        self.old_id, self.new_id = old_id, new_id

    def _redo(self) -> None:
        self.document._rename(self.old_id, self.new_id)

    def _undo(self) -> None:
        self.document._rename(self.new_id, self.old_id)


class SetSectionCmd(DocumentCommand):
    """Replaces the "training" or "data" section of the spec."""

    structural = False

    def __init__(self, document: NetworkDocument, section: str, old: dict[str, Any], new: dict[str, Any]):
        super().__init__(document, f"Change {section} settings")
        self.section = section
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def _redo(self) -> None:
        self.document._set_section(self.section, copy.deepcopy(self.new))

    def _undo(self) -> None:
        self.document._set_section(self.section, copy.deepcopy(self.old))


class StateCmd(QUndoCommand):
    """Swaps the network's weights, optimizer state, history and scaler: "Train" (before and after
    a run) and "Reset weights" (before and fresh). The spec is unchanged."""

    def __init__(self, document: NetworkDocument, before: NetworkState, after: NetworkState, text: str):
        super().__init__(text)
        self.document, self.before, self.after = document, before, after

    def redo(self) -> None:
        self.document._set_state(self.after)

    def undo(self) -> None:
        self.document._set_state(self.before)
