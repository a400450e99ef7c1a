"""Layer types; importing this package registers them all in `engine.registry.LAYERS`."""

from engine.layers import core, merge, normalization
from engine.layers.base import ActivatedLayer, Layer

__all__ = ["ActivatedLayer", "Layer", "core", "merge", "normalization"]
