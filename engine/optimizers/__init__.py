"""Optimizers: update weight arrays in place from their gradients, one fused kernel per array.

Update formulas follow PyTorch's `torch.optim` (SGD, Adagrad, Adam, AdamW), so one step can be
compared against torch; defaults and parameter names follow Keras. Differences:
- epsilon defaults to Keras' 1e-7 (PyTorch: 1e-8) and Adagrad's initial accumulator to 0.1
  (PyTorch: 0); the formulas put epsilon where PyTorch does, outside the square root.
- rmsprop follows Keras exactly: epsilon inside the square root, `lr*g/sqrt(v + eps)`, and the
  momentum buffer accumulates steps that already include the learning rate. With a constant
  learning rate this equals PyTorch's RMSprop except for where epsilon sits.
- Moments with `abs(x) < 1e-30` (float32; 1e-300 in float64) are stored as 0, so they never
  become subnormal (docs/performance.md, "Subnormals"; tests/engine/test_optimizers.py checks it).
  PyTorch keeps them.

Per-step constants (1-β, bias corrections, lr·weight_decay) are computed in float64 once per
step and rounded once to the weights' dtype (in float32, 1 - 0.999 is 1.3e-5 off relative, as is
0.999**1000, and the error compounds over the steps); the kernels never upcast.
State arrays are allocated on the first step, match each weight's shape and dtype, and are reused.
"""

from __future__ import annotations

from typing import Any

# `adaptive` imports `first_order`, so sgd registers first: the settings page lists the registry
# in order (tests/engine/test_optimizers.py checks it).
from engine.optimizers.adaptive import Adagrad, Adam, AdamW, RMSprop
from engine.optimizers.base import Optimizer
from engine.optimizers.clipping import clip_by_global_norm
from engine.optimizers.first_order import SGD
from engine.registry import OPTIMIZERS

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_by_global_norm", "get_optimizer"]


def get_optimizer(name: str, **params: Any) -> Optimizer:
    """A new optimizer of registered type `name` (RegistryError lists the valid names)."""
    return OPTIMIZERS.get(name)(**params)
