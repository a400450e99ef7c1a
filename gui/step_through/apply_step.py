"""Apply: the weights after the Step-through's gradient step become the network's, as one undo
entry (the same kind of entry as "Train": its Undo gives back the very weights from before)."""

from __future__ import annotations

import numpy as np

from engine.network import Network
from gui.commands import NetworkState, StateCmd
from gui.document import NetworkDocument


class GradientStepCmd(StateCmd):
    """Swaps the weights for those after one gradient step. The document tells views about a
    weights change only for a trained network; this entry's network may be untrained, so it tells
    them itself."""

    def redo(self) -> None:
        super().redo()
        self._tell()

    def undo(self) -> None:
        super().undo()
        self._tell()

    def _tell(self) -> None:
        if not (self.before.trained or self.after.trained):
            self.document.weights_changed.emit()


def apply_gradient_step(document: NetworkDocument, weights: list[np.ndarray], learning_rate: float) -> None:
    """Push "Gradient step" (one undo entry): the document's network takes `weights` (arrays as
    `get_weights()`); its optimizer state, history and standardizer stay."""
    before = document.state()
    stepped = Network(document.spec.copy())
    stepped.set_weights(weights)
    after = NetworkState(stepped.model, before.optimizer, before.history, before.scaler)
    text = f"Gradient step of one sample (η = {learning_rate:g})"
    document.undo_stack.push(GradientStepCmd(document, before, after, text))
