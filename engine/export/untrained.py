"""Was the network to export ever trained? An export of initial weights predicts nothing useful,
so the GUI asks before writing one and the CLI prints a warning."""

from __future__ import annotations

import numpy as np

from engine.errors import NetCanvasError
from engine.network import Network


def untrained_warning(network: Network) -> str | None:
    """A warning when `network` still has the initial weights its seed gives (no training step in
    its history and weights equal to a fresh initialisation), else None.

    Weights that came from elsewhere (an imported ONNX model, a file saved after training) differ
    from the fresh ones, so they are not warned about; neither is a network without weights, or one
    that cannot be built (the export itself says why).
    """
    if network.history.steps:
        return None
    try:
        weights = network.get_weights()
        fresh = Network(network.spec)
        fresh.training = network.training
        initial = fresh.get_weights()
    except NetCanvasError:
        return None
    if not weights or len(weights) != len(initial):
        return None
    if not all(np.array_equal(a, b) for a, b in zip(weights, initial, strict=True)):
        return None
    name = network.spec.metadata.get("name")
    what = f"'{name}'" if name else "the network"
    return f"{what} has never been trained: the export holds its random initial weights"


__all__ = ["untrained_warning"]
