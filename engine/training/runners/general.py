"""The general runner: any network, batch by batch, layer by layer through `Model`.

Each batch is gathered into reused arrays, run forward and backward through the model's layers
(the output activation fused with its loss where they match: the gradient then comes from the
logits), its gradients clipped if asked, and the optimizer steps. It trains every network the
registry can build, so the trainer tries it last.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import losses as _loss_kernels
from engine.optimizers import clip_by_global_norm
from engine.training.runners.base import Runner, TrainingSetup
from engine.training.totals import EpochTotals

SOFTMAX_CE_KERNELS = {
    "sparse_categorical_crossentropy": _loss_kernels.softmax_ce_index,
    "categorical_crossentropy": _loss_kernels.softmax_ce_dense,
}
"""Loss name -> the Numba kernel computing softmax cross-entropy and its gradient in one pass."""


class GeneralRunner(Runner):
    """One batch per call, through the model's own forward and backward."""

    name = "general"

    def __init__(self, setup: TrainingSetup):
        self.setup = setup
        self.model = setup.model
        self.loss = setup.loss
        self.fused = setup.model.uses_fused_loss(setup.loss.fused_activation)
        self._buffers: dict[str, np.ndarray] = {}

    @classmethod
    def plan(cls, setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray) -> GeneralRunner:
        """Every set-up: the general runner trains any network."""
        return cls(setup)

    def start_epoch(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        order: np.ndarray,
        totals: EpochTotals,
        first_batch: int = 0,
    ) -> None:
        self.x, self.y, self.order, self.totals = x, y, order, totals
        self.weights, self.grads, self.decay = self.model.trainable()

    def run_batches(self, first_batch: int, batches: int, learning_rate: float) -> list[float]:
        size = self.setup.batch_size
        losses = []
        for batch in range(first_batch, first_batch + batches):
            start = batch * size
            if not self.setup.shuffle:  # batches in order: slices are views, nothing to copy
                xb = [arr[start : start + size] for arr in self.x]
                yb = self.y[start : start + size]
            else:
                xb, yb = self._gather(self.x, self.y, self.order[start : start + size])
            loss_value, y_pred = self._train_step(xb, yb, learning_rate)
            losses.append(loss_value)
            if not math.isfinite(loss_value):
                break
            self.totals.add_batch(loss_value, y_pred, yb)
        return losses

    def end_epoch(self, batches: int) -> None:
        """Nothing to add: each batch added its totals as it ran."""

    def _train_step(self, xb: list[np.ndarray], yb: np.ndarray, lr: float) -> tuple[float, np.ndarray]:
        """The batch's loss (with the weight penalties) and outputs after its optimizer step."""
        loss_value, output = self._loss_and_gradients(xb, yb)
        if self.setup.clip_norm is not None:
            clip_by_global_norm(self.grads, self.setup.clip_norm)
        self.setup.optimizer.step(self.weights, self.grads, lr, self.decay)
        return loss_value, output

    def _loss_and_gradients(self, xb: list[np.ndarray], yb: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss (with the weight penalties) and outputs of the batch, layer by layer; fills
        every layer's gradients."""
        output = self.model.forward(xb, training=True, rng=self.setup.dropout_rng)
        if self.fused:
            z = self.model.output_layer.pre_activation  # type: ignore[attr-defined]
            loss_value, grad_z = self._loss_from_logits(z, yb)
            self.model.backward(grad_z, from_preactivation=True)
        else:
            loss_value = self.loss.forward(output, yb)
            self.model.backward(self.loss.backward(output, yb))
        return float(loss_value) + self.model.regularization_loss(), output

    def _loss_from_logits(self, z: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        """Fused loss and its gradient w.r.t. the logits; softmax cross-entropy runs its kernel
        once for both, into a reused array (targets were validated when fit started)."""
        kernel = SOFTMAX_CE_KERNELS.get(self.loss.name)
        ok = kernel is not None and z.ndim == 2 and z.dtype in KERNEL_DTYPES and z.flags.c_contiguous
        if ok and self.loss.target == "index":  # (class ids were checked in range when fit started)
            ok = yb.shape == z.shape[:1] and yb.dtype == np.int64 and yb.flags.c_contiguous
        elif ok:
            ok = yb.shape == z.shape and yb.dtype == z.dtype and yb.flags.c_contiguous
        if not ok:
            return self.loss.forward_from_logits(z, yb), self.loss.backward_from_logits(z, yb)
        grad = self._buffer(f"grad.{len(z)}", z.shape, z.dtype)
        return kernel(z, yb, grad), grad

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A scratch array kept between batches and epochs (reallocated when its shape changes)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(shape, dtype)
        return buf

    def _gather(
        self, x: list[np.ndarray], y: np.ndarray, idx: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """The batch `idx` of the inputs and targets, copied into reused arrays."""
        rows = len(idx)
        # mode="clip" (idx is valid): with the default "raise", take buffers `out` (an extra copy)
        xb = [
            np.take(
                arr,
                idx,
                axis=0,
                mode="clip",
                out=self._buffer(f"x{i}.{rows}", (rows, *arr.shape[1:]), arr.dtype),
            )
            for i, arr in enumerate(x)
        ]
        yb = np.take(
            y, idx, axis=0, mode="clip", out=self._buffer(f"y.{rows}", (rows, *y.shape[1:]), y.dtype)
        )
        return xb, yb
