"""A convolution and the max pooling that alone reads it, trained as one step.

`Model` finds such pairs (`ConvPool.fuses`) and, in a training forward and its backward, runs
each as one: the pooled output comes straight from each chunk's products, and the convolution's
full-size output, and the pooling's full-size gradient, are never written
(engine/_kernels/conv_pool.py says why that matters and why the results are the same). Outside
training (prediction, the monitor's snapshot, a trace), the two layers run apart as always, so
every view still sees the convolution's own output.
"""

from __future__ import annotations

import numpy as np

from engine._kernels import activations as _ka
from engine._kernels import blas
from engine._kernels import conv_pool as _k
from engine._kernels.parts import in_parts, scratch
from engine.errors import GraphError
from engine.layers.base import Layer, shape_text
from engine.layers.conv import _Conv
from engine.layers.pooling import _Pooling


class ConvPool:
    """The training forward and backward of `conv` followed by `pool`."""

    def __init__(self, conv: _Conv, pool: _Pooling):
        self.conv, self.pool = conv, pool
        self.pairs = pool.window == (2, 2, 2, 2, 0, 0)
        # the last training forward's input images, pooled output (N, F, OH, OW) and argmax
        self._images: np.ndarray | None = None
        self._pooled: np.ndarray | None = None
        self._argmax: np.ndarray | None = None

    @staticmethod
    def fuses(conv: Layer, pool: Layer) -> bool:
        """Whether `pool`, reading `conv` alone, can run with it: a max pooling of a convolution
        whose activation's derivative comes from its output, with NumPy's BLAS reachable from
        Numba (engine/_kernels/blas.py)."""
        return (
            blas.AVAILABLE
            and isinstance(conv, _Conv)
            and isinstance(pool, _Pooling)
            and pool.mode == "max"
            and pool.image_in == (conv.params["filters"], *conv.geometry_args[-2:])
            and not conv.feeds_loss
            and conv.activation.kernel_code in _ka.DERIVATIVE_FROM_OUTPUT
        )

    def forward(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The pooling's output `(N, *pool.output_shape_)` for the convolution's input, in the
        pooling's reused array (valid until its next forward with this batch size)."""
        conv, pool = self.conv, self.pool
        x = conv.as_images(inputs[0])
        batch, filters = x.shape[0], conv.params["filters"]
        bias = conv.checked_bias()
        kernel = conv.kernel_matrix()
        pooled, argmax = pool.workspace(batch, "out"), pool.workspace(batch, "argmax")
        pooled_positions = pooled.shape[2] * pooled.shape[3]
        chunk, alpha = conv.chunk_samples(), conv.activation_alpha()
        code = conv.activation.kernel_code

        def part(lo: int, hi: int) -> None:
            cols, z = conv.chunk_buffers(chunk)
            best = scratch("pooled chunk", (filters * chunk * pooled_positions,), conv.dtype)
            where = scratch("pooled chunk argmax", (filters * chunk * pooled_positions,), np.dtype(np.int32))
            _k.pooled_forward_range(
                x[lo:hi], kernel, bias, pooled[lo:hi], argmax[lo:hi], cols, z, best, where, chunk, code, alpha,
                *conv.geometry_args, *pool.window, self.pairs,
            )  # fmt: skip

        in_parts(batch, (conv.taps + filters) * conv.positions * batch, part)
        conv.images = conv.pre_activation = None  # type: ignore[assignment]  # nothing for conv.backward
        pool.argmax = None  # nor for pool.backward
        self._images, self._pooled, self._argmax = x, pooled, argmax
        return pooled.reshape((batch, *pool.output_shape_))

    def backward(self, grad_out: np.ndarray) -> list[np.ndarray | None]:
        """The convolution's input gradient (or [None]) from the pooling's output gradient;
        fills the convolution's `grads`."""
        conv, pool = self.conv, self.pool
        if self._pooled is None:
            raise GraphError(f"{conv.name} '{conv.node_id}': backward needs a training forward first")
        pooled, argmax, x = self._pooled, self._argmax, self._images
        if grad_out.shape[1:] != tuple(pool.output_shape_) or grad_out.shape[0] != pooled.shape[0]:
            raise GraphError(
                f"{pool.name} '{pool.node_id}' expects an output gradient of shape "
                f"{shape_text((pooled.shape[0], *pool.output_shape_))}, got {shape_text(grad_out.shape)}"
            )
        g = np.ascontiguousarray(grad_out, dtype=conv.dtype).reshape(pooled.shape)
        return conv.backward_by_ranges(
            _k.pooled_backward_range, (x, pooled, argmax, g), conv.activation.kernel_code
        )
