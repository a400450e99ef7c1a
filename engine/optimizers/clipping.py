"""Gradient clipping by the global L2 norm of all gradients (the trainer's `clip_norm`)."""

from __future__ import annotations

import math

import numpy as np

from engine._kernels import optimizers as K
from engine.errors import ConfigError
from engine.optimizers.base import FLOATS


def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> float:
    """Scale every gradient array in place by `max_norm / norm` when their joint L2 norm exceeds
    `max_norm` (TensorFlow's clip_by_global_norm); return the norm before clipping.

    The norm is accumulated in float64. A non-finite norm leaves the gradients untouched
    (clipping cannot repair them; the trainer reports the divergence).
    """
    limit = float(max_norm)
    if not (math.isfinite(limit) and limit > 0.0):
        raise ConfigError(f"clip_by_global_norm: max_norm must be a finite number > 0, got {max_norm!r}")
    for i, g in enumerate(grads):
        if not isinstance(g, np.ndarray) or g.dtype not in FLOATS:
            kind = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise ConfigError(
                f"clip_by_global_norm: gradient {i} must be a float32 or float64 array, got {kind}"
            )
    norm = math.sqrt(sum(K.sum_squares(g.reshape(-1)) for g in grads))
    if math.isfinite(norm) and norm > limit:
        scale = limit / norm
        for g in grads:
            np.multiply(g, g.dtype.type(scale), out=g)
    return norm
