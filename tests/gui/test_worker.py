"""How a run ends, as the worker reports it: a diverged run by the engine's DivergenceError, any
other engine error as "failed", whatever its message says."""

from __future__ import annotations

import numpy as np

from engine.data import load_data
from engine.errors import TrainingError
from engine.network import Network
from engine.training.control import TrainingControl
from gui.training.worker import TrainingResult, TrainingWorker
from tests.gui.test_training import _exploding_network


def _run(network: Network) -> TrainingResult:
    """Run the worker on this thread (its signals reach the slot directly); its result."""
    data = load_data(network.spec.data)
    worker = TrainingWorker(network, data.x, data.y, None, TrainingControl())
    results: list[TrainingResult] = []
    worker.finished.connect(results.append)
    worker.run()
    assert len(results) == 1
    return results[0]


def test_a_run_with_learning_rate_1e6_ends_diverged_with_finite_weights(qapp):
    result = _run(_exploding_network())
    assert result.reason == "diverged"
    assert "learning rate" in result.message
    assert all(np.isfinite(w).all() for w in result.weights)


def test_another_engine_error_ends_failed_even_if_it_says_diverged(qapp, monkeypatch):
    def fit(self, *args, **kwargs):
        raise TrainingError("the loss diverged in a way no DivergenceError reported")

    monkeypatch.setattr(Network, "fit", fit)
    result = _run(_exploding_network())
    assert result.reason == "failed"
    assert result.message == "the loss diverged in a way no DivergenceError reported"
