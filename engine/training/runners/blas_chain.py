"""The fused BLAS-chain runner: many training steps of a Dense-chain classifier per Numba call.

For the networks `DenseChainStep` takes (Input -> Dense ... -> Dense softmax, (sparse)
categorical cross-entropy, no weight penalties), when the optimizer is one the fused kernels
implement (SGD, Adam without AMSGrad), there is no gradient clipping and every layer is at least
2 wide, `engine._kernels.blas_chain.train_batches` runs chunks of an epoch's batches in one
GIL-free call. It makes the calls of the general runner's lean step and of the optimizer's update,
BLAS included, so the weights, gradients and optimizer state are those the general runner gives
(tests/engine/test_blas_chain.py): bit for bit with SGD and without tanh; within rounding where
Adam's update, compiled inside the kernel, rounds its last bit differently, or where tanh runs
(NumPy's SIMD tanh cannot be called from Numba: in float64 the fused small-net runner's tanh,
within 1e-14 of NumPy's; in float32 Eigen's rational function, within 3.5e-7). A network too
small for BLAS to pay goes to the fused small-net runner, which the trainer tries first.
"""

from __future__ import annotations

import numpy as np

from engine._kernels import blas
from engine._kernels import blas_chain as K
from engine._kernels.small_net_forward import DENSE_CE, SPARSE_CE
from engine.layers.core import Dense
from engine.losses import Loss
from engine.model import Model
from engine.optimizers import Optimizer
from engine.training.runners.base import TrainingSetup
from engine.training.runners.dense_chain import dense_chain_layers
from engine.training.runners.fused import FusedRunner, fused_set_up, weight_offsets

CALL_MULTIPLY_ADDS = 1_500_000_000
MAX_BATCHES_PER_CALL = 256
"""At most about this much work (multiply-adds, ~20-40 ms here) and this many batches per kernel
call, so pause and stop, honoured between calls, land within a fraction of a second on any
network, and the progress views hear of small networks' batches often enough."""


class BlasChainRunner(FusedRunner):
    """Runs chunks of an epoch's batches in one kernel call; see the module docstring."""

    name = "fused BLAS chain"

    def __init__(self, model: Model, loss: Loss, optimizer: Optimizer, dense: list[Dense], batch_size: int):
        super().__init__(
            model,
            optimizer,
            SPARSE_CE if loss.target == "index" else DENSE_CE,
            dense[-1].output_shape_[0],
            batch_size,
        )
        offsets = weight_offsets(model)
        rows, units, inputs = [], 0, 0
        for i, layer in enumerate(dense):
            fan_in, fan_out = layer.input_shapes[0][0], layer.output_shape_[0]
            code = layer.activation.kernel_code
            rows.append(
                (
                    offsets[(layer.node_id, "kernel")],
                    offsets.get((layer.node_id, "bias"), -1),
                    fan_in,
                    fan_out,
                    -1 if code is None else code,
                    units,
                    inputs,
                )
            )
            units += fan_out
            inputs += fan_in if i else 0
        self.layers = np.array(rows, dtype=np.int64)
        self.alphas = np.array([getattr(layer.activation, "alpha", 0.0) for layer in dense], model.dtype)
        work = 3 * max(batch_size, 1) * sum(layer.weights["kernel"].size for layer in dense)
        self.batches_per_call = max(1, min(MAX_BATCHES_PER_CALL, CALL_MULTIPLY_ADDS // work))
        size, dtype = max(batch_size, 1), model.dtype
        self.xb = np.empty((size, int(self.layers[0, 2])), dtype)
        sparse = self.loss_code == SPARSE_CE
        self.yb_dense = np.empty((1 if sparse else size, self.outputs), dtype)
        self.yb_index = np.empty(size if sparse else 1, np.int64)
        self.z, self.a, self.grad_z = (np.empty(size * units, dtype) for _ in range(3))
        self.grad_x = np.empty(size * inputs, dtype)

    @classmethod
    def plan(cls, setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray) -> BlasChainRunner | None:
        """This runner for the set-up and prepared data, or None when it does not apply."""
        if not blas.AVAILABLE or not fused_set_up(setup):
            return None
        dense = dense_chain_layers(setup.model, setup.loss, x, y)
        if dense is None:
            return None
        if min(min(layer.input_shapes[0][0], layer.output_shape_[0]) for layer in dense) < 2:
            return None  # (np.matmul uses gemv, not gemm, for a 1-wide operand)
        return cls(setup.model, setup.loss, setup.optimizer, dense, setup.batch_size)

    def _train_batches(
        self, x, targets, order, first_batch, batches, slot1, slot2, consts, preds, losses
    ) -> int:
        model = self.model
        return K.train_batches(
            model.weight_buffer,
            model.grad_buffer,
            slot1,
            slot2,
            self.layers,
            self.alphas,
            x,
            targets[0],
            targets[1],
            order,
            first_batch,
            batches,
            self.batch_size,
            self.loss_code,
            self.opt_code,
            self.nesterov,
            consts,
            self.xb,
            self.yb_dense,
            self.yb_index,
            self.z,
            self.a,
            self.grad_z,
            self.grad_x,
            preds,
            losses,
        )
