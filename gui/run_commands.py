"""The Runs list's edits, each one undo entry on the document's stack: a run recorded (part of
its "Train" entry, so Undo of a run takes its weights and its Runs entry back together), renamed,
deleted, and "Restore this run's weights and settings" (the layer parameters, the training and
data settings, and the weights the run ended with, as one entry whose Undo gives everything back).

Every command emits the document's `runs_changed`; the runs themselves live in
`document.network.runs` (saved with the `.ncv`, see engine/runs.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from engine.errors import ConfigError, NetCanvasError
from engine.network import Network
from engine.runs import MAX_RUNS, MAX_TEXT, Run, settings_of
from engine.training.callbacks import History
from gui.commands import NetworkState, StateCmd

if TYPE_CHECKING:
    from gui.document import NetworkDocument


class RunsCmd(QUndoCommand):
    """Replaces the whole Runs list (runs are shared, not copied: nothing changes a Run)."""

    def __init__(self, document: NetworkDocument, new: list[Run], text: str):
        super().__init__(text)
        self.document, self.old, self.new = document, list(document.network.runs), new

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)

    def _set(self, runs: list[Run]) -> None:
        self.document.network.runs = list(runs)
        self.document.runs_changed.emit()


def add_run(document: NetworkDocument, run: Run) -> None:
    """Append `run`; past MAX_RUNS (what a file keeps) the oldest run leaves the list."""
    runs = [*document.network.runs, run][-MAX_RUNS:]
    document.undo_stack.push(RunsCmd(document, runs, f"Record {run.name}"))


def rename_run(document: NetworkDocument, index: int, name: str) -> None:
    """Rename run `index`; ConfigError for an empty or too long name."""
    name = name.strip()
    limit = MAX_TEXT["name"]
    if not name or len(name) > limit:
        raise ConfigError(f"a run's name must be 1 to {limit} characters, got {len(name)}")
    runs = list(document.network.runs)
    old = runs[index]
    if name == old.name:
        return
    runs[index] = Run(**{**vars(old), "name": name})
    document.undo_stack.push(RunsCmd(document, runs, f"Rename {old.name} to {name}"))


def delete_runs(document: NetworkDocument, indices: list[int]) -> None:
    gone = set(indices)
    runs = [run for i, run in enumerate(document.network.runs) if i not in gone]
    if gone:
        names = [document.network.runs[i].name for i in sorted(gone)]
        text = f"Delete {names[0]}" if len(names) == 1 else f"Delete {len(names)} runs"
        document.undo_stack.push(RunsCmd(document, runs, text))


def restore_run(document: NetworkDocument, index: int) -> None:
    """Give the network run `index`'s layer parameters, training and data settings and the weights
    it ended with (its curves as the history; the optimizer starts fresh), as one undo entry.
    ConfigError, nothing changed, when the run trained other layers or kept no weights."""
    run = document.network.runs[index]
    settings, current = run.settings, settings_of(document.spec)
    layers = [(n["id"], n["type"]) for n in settings["nodes"]]
    if layers != [(n["id"], n["type"]) for n in current["nodes"]] or settings["edges"] != current["edges"]:
        raise ConfigError(
            f"{run.name} trained other layers or connections than the network has now: "
            "its weights cannot be put back into this drawing"
        )
    if not run.weights:
        raise ConfigError(f"{run.name} has no weights kept (the file held too many runs' weights)")
    scratch = document.spec.copy()  # the network as it will be, to check the weights fit it
    for node in settings["nodes"]:
        scratch.nodes[node["id"]].params = dict(node["params"])
    scratch.training = settings["training"]
    network = Network(scratch)
    try:
        network.model.load_named_weights(run.weights, run.name)
    except NetCanvasError as exc:
        raise ConfigError(f"{run.name}'s weights do not fit its network: {exc}") from None
    history = History(
        {k: list(v) for k, v in run.epochs.items()},
        steps=run.steps,
        epoch_numbers={k: list(v) for k, v in run.epoch_numbers.items()},
        epoch_count=1 + max((v[-1] for v in run.epoch_numbers.values() if v), default=-1),
    )
    stack = document.undo_stack
    stack.beginMacro(f"Restore {run.name}'s weights and settings")
    for node in settings["nodes"]:
        document.set_node_params(node["id"], node["params"])
    document.set_training(settings["training"])
    document.set_data(settings["data"] or {})
    after = NetworkState(network.model, None, history, document.state().scaler)
    stack.push(StateCmd(document, document.state(), after, f"Restore {run.name}'s weights"))
    stack.endMacro()
