"""The fused small-net runner: many training steps of a small dense chain per Numba call.

`SmallNetRunner.plan` accepts a model only when the fused kernel computes exactly what the general
runner does: Input -> Dense -> ... -> Dense, every activation elementwise (softmax only on the output
with a cross-entropy loss), no weight penalties, no gradient clipping; loss mse (any output
activation), binary_crossentropy with a sigmoid output, or (sparse_)categorical_crossentropy with
a softmax output; optimizer sgd (with or without (Nesterov) momentum) or adam (no AMSGrad). It works
on the model's own flat weight and gradient buffers and the optimizer's own state, so weights,
`layer.grads`, optimizer moments and iteration count are the same as after the general runner's
steps. Anything else returns None and the trainer tries the next runner. Where epochs are small
it trains whole epochs per kernel call (`run_epochs`), and it predicts without the GIL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np

from engine._kernels import blas
from engine._kernels import small_net as K
from engine._kernels import small_net_forward as KF
from engine.layers.core import Dense
from engine.model import Model
from engine.optimizers import Optimizer
from engine.training.runners.base import EpochsRun, TrainingSetup
from engine.training.runners.dense_chain import plain_dense_chain
from engine.training.runners.fused import (
    FusedRunner,
    check_array,
    fused_set_up,
    optimizer_slots,
    weight_offsets,
)

# At most this many batches (and about this many samples) per kernel call: the trainer checks
# pause/stop and reports between calls, so a stop lands within ~0.1-1 ms.
CHUNK_BATCHES = 256
CHUNK_SAMPLES = 2048
MAX_UNITS = 32  # widest layer the runner takes; wider layers are faster with BLAS
MAX_WORK = 4096  # most multiply-adds per sample (sum of fan_in * fan_out); beyond, BLAS wins
_LOSSES = {
    "mse": KF.MSE,
    "binary_crossentropy": KF.BCE_LOGITS,
    "sparse_categorical_crossentropy": KF.SPARSE_CE,
    "categorical_crossentropy": KF.DENSE_CE,
}
_OUTPUT_ACTIVATION = {KF.BCE_LOGITS: "sigmoid", KF.SPARSE_CE: "softmax", KF.DENSE_CE: "softmax"}


class SmallNetRunner(FusedRunner):
    """Runs chunks of an epoch's batches, or whole epochs, in one kernel call; see the module docstring."""

    name = "fused small net"
    runs_epochs = True

    def __init__(
        self, model: Model, loss_code: int, optimizer: Optimizer, dense: list[Dense], batch_size: int
    ):
        super().__init__(model, optimizer, loss_code, dense[-1].output_shape_[0], batch_size)
        self.batches_per_call = max(1, min(CHUNK_BATCHES, CHUNK_SAMPLES // max(batch_size, 1)))
        dtype = model.dtype
        offsets = weight_offsets(model)
        rows, column = [], model.input_shape()[0]
        for layer in dense:
            code = layer.activation.kernel_code
            rows.append(
                (
                    offsets[(layer.node_id, "kernel")],
                    offsets.get((layer.node_id, "bias"), -1),
                    layer.input_shapes[0][0],
                    layer.output_shape_[0],
                    KF.SOFTMAX if code is None else code,
                    column,
                )
            )
            column += layer.output_shape_[0]
        self.layers = np.array(rows, dtype=np.int64)
        self.alphas = np.array([getattr(layer.activation, "alpha", 0.0) for layer in dense], dtype)
        widest = int(self.layers[:, 3].max())
        rows = max(batch_size, 1)  # scratch: a row per sample of a batch
        self.z, self.a = np.zeros((rows, column), dtype), np.zeros((rows, column), dtype)
        self.delta = np.zeros((2, rows, max(widest, int(self.layers[:, 2].max()))), dtype)

    @classmethod
    def plan(cls, setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray) -> SmallNetRunner | None:
        """This runner for the set-up (the data do not matter), or None."""
        loss_code = _LOSSES.get(setup.loss.name)
        if loss_code is None or not fused_set_up(setup):
            return None
        model = setup.model
        dense = plain_dense_chain(model)
        if dense is None:
            return None
        units = [layer.output_shape_[0] for layer in dense]
        work = sum(layer.weights["kernel"].size for layer in dense)
        if max(units) > MAX_UNITS or work > MAX_WORK:
            return None
        wanted = _OUTPUT_ACTIVATION.get(loss_code)
        output = dense[-1].activation
        if (wanted is not None and output.name != wanted) or (wanted is None and output.kernel_code is None):
            return None
        return cls(model, loss_code, setup.optimizer, dense, setup.batch_size)

    def training_context(self) -> AbstractContextManager[object]:
        """NumPy's BLAS at one thread: the kernels are single-threaded, and BLAS threads would only
        serve the callbacks' occasional small matmuls, and spin on the other core after each one."""
        return blas.single_threaded()

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
            self.z,
            self.a,
            self.delta,
            preds,
            losses,
        )

    def run_epochs(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        orders: np.ndarray,
        learning_rates: np.ndarray,
        x_val: list[np.ndarray] | None,
    ) -> EpochsRun:
        count, batches, dtype = len(y), -(-len(y) // max(self.batch_size, 1)), self.model.dtype
        run = len(orders)
        val = x_val[0] if x_val is not None else x[0][:0]
        preds = np.empty((run, count, self.outputs), dtype)
        losses = np.empty((run, batches), np.float64)
        val_preds = np.empty((run, len(val), self.outputs), dtype)
        epoch_start = np.empty_like(self.model.weight_buffer)
        xs, targets = self.kernel_data(x[0], y)
        done = self.train_epochs(
            xs, targets, orders, learning_rates, val, preds, losses, val_preds, epoch_start
        )
        return EpochsRun(done, losses, preds, val_preds, epoch_start)

    def train_epochs(
        self,
        x: np.ndarray,
        targets: tuple[np.ndarray, np.ndarray],
        orders: np.ndarray,
        learning_rates: np.ndarray,
        x_val: np.ndarray,
        preds: np.ndarray,
        losses: np.ndarray,
        val_preds: np.ndarray,
        epoch_start: np.ndarray,
    ) -> int:
        """Whole epochs in one kernel call (`K.train_epochs`): orders (E, N), learning_rates (E,),
        preds (E, N, outputs), losses (E, batches), val_preds (E, Nv, outputs); returns the
        batches done (all unless a loss was not finite)."""
        model, optimizer = self.model, self.optimizer
        slot1, slot2 = optimizer_slots(model, optimizer)
        x_val = np.ascontiguousarray(x_val, model.dtype)
        self._check_epochs(x, targets, orders, learning_rates, x_val, preds, losses, val_preds, epoch_start)
        self.check_call(x, targets, orders[0], 0, losses.shape[1], preds[0], (slot1, slot2))
        batches = losses.shape[1]
        consts = optimizer.constants_table(np.repeat(learning_rates, batches), len(orders) * batches)
        done = K.train_epochs(
            model.weight_buffer,
            model.grad_buffer,
            slot1,
            slot2,
            self.layers,
            self.alphas,
            x,
            targets[0],
            targets[1],
            orders,
            self.batch_size,
            self.loss_code,
            self.opt_code,
            self.nesterov,
            consts,
            self.z,
            self.a,
            self.delta,
            preds,
            losses,
            x_val,
            val_preds,
            epoch_start,
        )
        optimizer.iterations += done
        return done

    def _check_epochs(self, x, targets, orders, learning_rates, x_val, preds, losses, val_preds, epoch_start):
        """What `K.train_epochs` indexes beyond one `train_batches` call (`check_call` checks
        the first epoch's): every epoch's order, outputs, losses and validation outputs, once
        per call (a whole-run check: at most EPOCH_RUN_MAX_SAMPLES order entries)."""
        epochs, count, dtype = len(orders), len(x), self.model.dtype
        batches = -(-count // max(self.batch_size, 1))
        if epochs < 1:
            raise ValueError("fused path: train_epochs needs at least one epoch")
        self.check_data(x, targets)
        check_array(orders, (epochs, count), np.dtype(np.int64), "orders")
        if orders.min() < 0 or orders.max() >= count:
            raise ValueError(f"fused path: the sample orders must lie in [0, {count})")
        check_array(learning_rates, (epochs,), learning_rates.dtype, "learning_rates")
        check_array(preds, (epochs, count, self.outputs), dtype, "preds")
        check_array(losses, (epochs, batches), np.dtype(np.float64), "losses")
        check_array(x_val, (len(x_val), self.inputs), dtype, "x_val")
        check_array(val_preds, (epochs, len(x_val), self.outputs), dtype, "val_preds")
        check_array(epoch_start, self.model.weight_buffer.shape, dtype, "epoch_start")

    def predict_outputs(self, x: list[np.ndarray]) -> np.ndarray | None:
        if len(x) != 1 or x[0].ndim != 2:
            return None
        return self.predict(x[0], np.empty((len(x[0]), self.outputs), self.model.dtype))

    def predict(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Inference outputs of rows `x` (N, inputs) into `out` (N, outputs), without the GIL."""
        model = self.model
        x = np.ascontiguousarray(x, model.dtype)
        check_array(x, (len(x), self.inputs), model.dtype, "x")
        check_array(out, (len(x), self.outputs), model.dtype, "out")
        KF.predict_rows(
            model.weight_buffer,
            self.layers,
            self.alphas,
            x,
            self.z,
            self.a,
            out,
        )
        return out
