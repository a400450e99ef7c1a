"""Layer types; importing this package registers them all in `engine.registry.LAYERS`."""

# The import order is the registration order, which the palette lists: core types first.
# isort: off
from engine.layers import core, regularization, reshaping, merge, normalization
from engine.layers import conv
from engine.layers import pooling

# isort: on
from engine.layers.base import ActivatedLayer, Layer

__all__ = [
    "ActivatedLayer",
    "Layer",
    "conv",
    "core",
    "merge",
    "normalization",
    "pooling",
    "regularization",
    "reshaping",
]
