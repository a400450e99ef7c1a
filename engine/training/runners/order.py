"""The order the trainer tries the runners in: the fastest that can train a set-up first, the
general runner, which trains every network, last."""

from __future__ import annotations

import numpy as np

from engine.training.runners.base import Runner, TrainingSetup
from engine.training.runners.blas_chain import BlasChainRunner
from engine.training.runners.dense_chain import DenseChainRunner
from engine.training.runners.general import GeneralRunner
from engine.training.runners.small_net import SmallNetRunner

RUNNERS: tuple[type[Runner], ...] = (SmallNetRunner, BlasChainRunner, DenseChainRunner, GeneralRunner)
"""Small nets go to the small-net runner before the BLAS chain (BLAS does not pay for them); the
lean Dense-chain step is the general runner's, for the Dense chains neither fused runner takes."""


def choose_runner(
    setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray, in_use: Runner | None = None
) -> Runner:
    """The first runner, in `RUNNERS`' order, that accepts the set-up and data; given the runner
    `in_use` (after a live change, mid-epoch), that runner again if it still accepts, else the
    first after it that does."""
    start = RUNNERS.index(type(in_use)) if in_use is not None else 0
    planned = (cls.plan(setup, x, y) for cls in RUNNERS[start:])
    return next(runner for runner in planned if runner is not None)
