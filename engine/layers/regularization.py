"""Dropout: silences random units while training, the identity at inference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.layers.base import Layer
from engine.registry import LAYERS, ParamSpec

if TYPE_CHECKING:
    from engine.layers.export_forms import LayerOnnxGraph, LayerOnnxReader, NumpyScript, TorchModule


@LAYERS.register
class Dropout(Layer):
    """Inverted dropout: during training zeroes a fraction `rate` and scales the rest by 1/(1-rate)."""

    name = "Dropout"
    group = "Regularization"
    description = "Randomly silences units while training, against overfitting"
    param_specs = (
        ParamSpec(
            "rate", "float", 0.5, "Fraction of units dropped while training", minimum=0.0, maximum=0.95
        ),
    )

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        return f"Dropout {params['rate']:g}"

    def forward(self, inputs: list[np.ndarray], training: bool, rng: np.random.Generator) -> np.ndarray:
        x = inputs[0]
        rate = self.params["rate"]
        if not training or rate == 0.0:
            self.mask = None
            return x
        keep = rng.random(x.shape, dtype=np.float64 if self.dtype == np.float64 else np.float32)
        self.mask = (keep >= rate).astype(self.dtype) * self.dtype.type(1.0 / (1.0 - rate))
        return x * self.mask

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        return [grad_out if self.mask is None else grad_out * self.mask]

    # ------------------------------------------------------------- export forms
    onnx_ops = ("Dropout",)

    def to_onnx(self, g: LayerOnnxGraph, args: list[str], out: str, weights: dict[str, np.ndarray]) -> str:
        """Dropout with training_mode absent (the identity at inference); the ratio is kept for
        re-import."""
        ratio = g.tensor(f"{out}/ratio", np.array(self.params["rate"], dtype=np.float32))
        return g.add("Dropout", [args[0], ratio], out, out)

    def to_torch(self, m: TorchModule, args: list[str]) -> str:
        dropout = m.module(f"nn.Dropout({self.params['rate']!r})")
        return f"{dropout}({args[0]})"

    def to_numpy(self, s: NumpyScript, args: list[str]) -> str:
        s.note(f"Dropout {s.node_literal} (rate {self.params['rate']:g}): identity at inference")
        return args[0]

    @classmethod
    def from_onnx(cls, reader: LayerOnnxReader, node: Any) -> None:
        ins, out = list(node.input), node.output[0]
        ratio = reader.constant(ins[1]) if len(ins) > 1 and ins[1] else None
        rate = float(ratio) if ratio is not None else float(reader.attr(node, "ratio", 0.5))
        reader.add_layer("Dropout", {"rate": round(rate, 7)}, [ins[0]], out, rank=reader.rank(ins[0]))
