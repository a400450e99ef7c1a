"""What the fused runners share: each runs chunks of an epoch's batches in one GIL-free Numba
call on the model's own flat weight and gradient buffers and the optimizer's own state slabs, so
weights, `layer.grads`, optimizer moments and iteration count are those the general runner's
steps leave. `SmallNetRunner` (engine.training.runners.small_net) and `BlasChainRunner`
(engine.training.runners.blas_chain) differ in the networks they take and in their kernel.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from engine._kernels import small_net as K
from engine._kernels import small_net_forward as KF
from engine.model import Model
from engine.optimizers import SGD, Adam, Optimizer
from engine.training.runners.base import Runner, TrainingSetup
from engine.training.totals import EpochTotals


def fused_set_up(setup: TrainingSetup) -> bool:
    """What every fused runner needs of a set-up: fused runners allowed, a float model, an
    optimizer the kernels implement (SGD with any momentum, Adam without AMSGrad), no gradient
    clipping."""
    optimizer = setup.optimizer
    return (
        setup.fused_paths
        and setup.clip_norm is None
        and setup.model.dtype.kind == "f"
        and type(optimizer) in (SGD, Adam)
        and not optimizer.params.get("amsgrad")
    )


def optimizer_code(optimizer: Optimizer) -> int:
    """The kernels' code of an optimizer `fused_set_up` accepts (SGD or Adam)."""
    return K.ADAM if isinstance(optimizer, Adam) else K.SGD


def optimizer_slots(model: Model, optimizer: Optimizer) -> tuple[np.ndarray, np.ndarray]:
    """The optimizer's state slabs the kernels update: Adam (m, v); SGD (momentum or empty, empty)."""
    slabs = optimizer.slabs(model.trainable()[0])
    if optimizer_code(optimizer) == K.ADAM:
        return slabs["m"], slabs["v"]
    momentum = slabs.get("momentum", model.grad_buffer[:0])
    return momentum, momentum[:0]


def weight_offsets(model: Model) -> dict[tuple[str, str], int]:
    """(node id, weight name) -> where that weight starts in the model's flat weight buffer."""
    offsets, offset = {}, 0
    for nid, key, arr in model.weight_entries():
        offsets[(nid, key)] = offset
        offset += arr.size
    return offsets


def check_array(array: object, shape: tuple[int, ...], dtype: np.dtype | type, name: str) -> None:
    """ValueError unless `array` is a C-contiguous ndarray of `shape` and `dtype`: the kernels
    index it by these sizes without bounds checks."""
    ok = (
        isinstance(array, np.ndarray)
        and array.shape == shape
        and array.dtype == dtype
        and array.flags.c_contiguous
    )
    if not ok:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ValueError(f"fused path: {name} must be C-contiguous {np.dtype(dtype)} {shape}, got {got}")


def kernel_targets(
    y: np.ndarray, sparse: bool, outputs: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """(dense targets (N, outputs), class ids (N,)) as the kernels take them, the one the loss
    does not use a one-row stand-in."""
    if sparse:
        return np.zeros((1, outputs), dtype), np.ascontiguousarray(y.reshape(len(y)), dtype=np.int64)
    return np.ascontiguousarray(y.reshape(len(y), outputs), dtype=dtype), np.zeros(1, np.int64)


class FusedRunner(Runner):
    """A fused runner for one training set-up: `run` trains chunks of an epoch's batches."""

    def __init__(self, model: Model, optimizer: Optimizer, loss_code: int, outputs: int, batch_size: int):
        self.model = model
        self.optimizer = optimizer
        # engine._kernels.small_net_forward's MSE, BCE_LOGITS, SPARSE_CE or DENSE_CE
        self.loss_code = loss_code
        self.opt_code = optimizer_code(optimizer)
        self.nesterov = bool(optimizer.params.get("nesterov", False))
        self.outputs = outputs
        self.batch_size = batch_size  # the scratch arrays hold this many rows
        self.batches_per_call = 1  # most batches one `run` call should take (set by each runner)
        self._preds = np.empty((0, outputs), model.dtype)  # each sample's output, kept between epochs

    @property
    def inputs(self) -> int:
        """Features per sample (the first layer's fan-in)."""
        return int(self.layers[0, 2])

    def start_epoch(
        self,
        x: list[np.ndarray],
        y: np.ndarray,
        order: np.ndarray,
        totals: EpochTotals,
        first_batch: int = 0,
    ) -> None:
        """The kernels' data and order, checked once per epoch (not per chunk)."""
        count = len(y)
        if self._preds.shape != (count, self.outputs):
            self._preds = np.empty((count, self.outputs), self.model.dtype)
        self._xs, self._targets = self.kernel_data(x[0], y)
        self._y, self._order = y, np.ascontiguousarray(order, dtype=np.int64)
        self._totals, self._first = totals, first_batch
        self._losses: list[float] = []  # this epoch's, from first_batch on

    def run_batches(self, first_batch: int, batches: int, learning_rate: float) -> list[float]:
        values = self.run(
            self._xs, self._targets, self._order, first_batch, batches, learning_rate, self._preds
        )
        losses = values.tolist()
        self._losses.extend(losses)
        return losses

    def end_epoch(self, batches: int) -> None:
        self._totals.add_outputs(
            self._losses[: batches - self._first], self._preds, self._y, self._order, self._first
        )

    def kernel_data(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The samples `x` (N, inputs) C-contiguous and (dense targets (N, outputs), class ids
        (N,)), the one the loss does not use a stand-in, checked (`check_data`). Called once per
        epoch, not per batch."""
        xs, targets = np.ascontiguousarray(x), self.targets(y)
        self.check_data(xs, targets)
        return xs, targets

    def targets(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dense targets (N, outputs), class ids (N,)) for the kernel, the unused one a stand-in."""
        return kernel_targets(y, self.loss_code == KF.SPARSE_CE, self.outputs, self.model.dtype)

    def check_data(self, x: np.ndarray, targets: tuple[np.ndarray, np.ndarray]) -> None:
        """What the kernels index for a fit's data: a row of x and of the targets per sample,
        class ids in [0, outputs)."""
        self._check_shapes(x, targets)
        index = targets[1]
        if self.loss_code == KF.SPARSE_CE and len(index) and (index.min() < 0 or index.max() >= self.outputs):
            raise ValueError(f"fused path: class ids must lie in [0, {self.outputs})")

    def _check_shapes(self, x: np.ndarray, targets: tuple[np.ndarray, np.ndarray]) -> None:
        sparse, dtype, count = self.loss_code == KF.SPARSE_CE, self.model.dtype, len(x)
        check_array(x, (count, self.inputs), dtype, "x")
        check_array(targets[0], (1 if sparse else count, self.outputs), dtype, "targets")
        check_array(targets[1], (count if sparse else 1,), np.dtype(np.int64), "class ids")

    def check_call(
        self,
        x: np.ndarray,
        targets: tuple[np.ndarray, np.ndarray],
        order: np.ndarray,
        first_batch: int,
        batches: int,
        preds: np.ndarray,
        slots: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """What one training call indexes besides this path's own scratch arrays: x and targets
        shaped as `kernel_data` gives them (it checked their class ids), the sample order (N,) over
        the batches run, which must lie in the epoch, the outputs (N, outputs) and the optimizer's
        state slabs (P,) or (0,). A few comparisons and a pass over the order of the batches run."""
        self._check_shapes(x, targets)
        count = len(x)
        check_array(order, (count,), np.dtype(np.int64), "order")
        check_array(preds, (count, self.outputs), self.model.dtype, "preds")
        total = -(-count // max(self.batch_size, 1))
        if self.batch_size < 1 or first_batch < 0 or batches < 1 or first_batch + batches > total:
            raise ValueError(
                f"fused path: batches {first_batch}..{first_batch + batches - 1} are not in the "
                f"epoch's {total} batches of {self.batch_size}"
            )
        run = order[first_batch * self.batch_size : (first_batch + batches) * self.batch_size]
        if run.min() < 0 or run.max() >= count:
            raise ValueError(f"fused path: the sample order must lie in [0, {count})")
        size = self.model.grad_buffer.size
        for slot in slots:
            if slot.shape not in ((size,), (0,)) or slot.dtype != self.model.dtype:
                raise ValueError(f"fused path: optimizer state of shape {slot.shape} for {size} weights")

    def run(
        self,
        x: np.ndarray,
        targets: tuple[np.ndarray, np.ndarray],
        order: np.ndarray,
        first_batch: int,
        batches: int,
        learning_rate: float,
        preds: np.ndarray,
    ) -> np.ndarray:
        """Train batches first_batch .. first_batch+batches-1 of the epoch (sample `order`);
        return their losses (float64; fewer when one was not finite, that one last). `preds`
        (N, outputs) receives each sample's output before its step, at its position in order."""
        slot1, slot2 = optimizer_slots(self.model, self.optimizer)
        self.check_call(x, targets, order, first_batch, batches, preds, (slot1, slot2))
        consts = self.optimizer.constants_table(learning_rate, batches)
        losses = np.empty(batches, np.float64)
        done = self._train_batches(
            x, targets, order, first_batch, batches, slot1, slot2, consts, preds, losses
        )
        self.optimizer.iterations += done
        return losses[:done]

    @abstractmethod
    def _train_batches(
        self, x, targets, order, first_batch, batches, slot1, slot2, consts, preds, losses
    ) -> int:
        """The kernel call behind `run`; returns the batches done."""
