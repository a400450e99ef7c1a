"""The general runner's step for a plain chain of Dense layers, with its Python pared down.

A classifier such as the MNIST MLP spends each step in its matrix products, but the per-layer
bookkeeping around them (graph dictionaries, workspace lookups, dtype and contiguity checks) ran
every batch. Measured inside the training loop it cost ~10% of a step, more than the same calls
cost timed alone (likely cache misses after the big kernels). `DenseChainStep`
checks everything once, when training starts, and then runs exactly the calls `Dense.forward`,
`Dense.backward` and the fused softmax cross-entropy would run, on arrays it keeps, so the numbers
are bit for bit those of the layer-by-layer step (tests/engine/test_dense_chain.py checks it).
`DenseChainRunner` is the general runner with this step: the trainer tries it just before the
general runner, and the path it shows is "general" too.

It applies to Input -> Dense -> ... -> Dense with float32/float64 weights, elementwise hidden
activations, no weight penalties, and a softmax output trained with (sparse) categorical
cross-entropy, on C-contiguous 2-D inputs of the model's dtype and targets the loss kernel
takes as they are. Anything else keeps the layer-by-layer step.
"""

from __future__ import annotations

import numpy as np

from engine._kernels import KERNEL_DTYPES
from engine._kernels import activations as _k
from engine.layers.core import UFUNC_ACTIVATIONS, Dense
from engine.losses import Loss
from engine.model import Model
from engine.training.runners.base import TrainingSetup
from engine.training.runners.general import SOFTMAX_CE_KERNELS, GeneralRunner


def plain_dense_chain(model: Model) -> list[Dense] | None:
    """The Dense layers of a model that is one 1-D Input -> Dense -> ... -> Dense, without weight
    penalties and with hidden activations the Numba kernels compute; None for any other model.
    The lean step and both fused runners start from this."""
    if len(model.input_ids) != 1 or len(model.input_shape()) != 1:
        return None
    dense = [model.layers[nid] for nid in model.order[1:]]
    chain = all(model.sources[nid] == [prev] for prev, nid in zip(model.order, model.order[1:], strict=False))
    if not chain or not dense or not all(type(layer) is Dense for layer in dense):
        return None
    if any(layer.params["kernel_l1"] or layer.params["kernel_l2"] for layer in dense):
        return None
    if any(layer.activation.kernel_code is None for layer in dense[:-1]):
        return None
    return dense


def dense_chain_layers(model: Model, loss: Loss, x: list[np.ndarray], y: np.ndarray) -> list[Dense] | None:
    """The Dense layers of a model this module's step applies to (see the module docstring),
    for this loss and prepared training data; None when it does not apply."""
    if loss.name not in SOFTMAX_CE_KERNELS or model.dtype not in KERNEL_DTYPES:
        return None
    if len(x) != 1 or x[0].dtype != model.dtype or x[0].ndim != 2 or not x[0].flags.c_contiguous:
        return None
    if not model.uses_fused_loss(loss.fused_activation) or not y.flags.c_contiguous:
        return None
    if (y.dtype, y.ndim) != ((np.dtype(np.int64), 1) if loss.target == "index" else (model.dtype, 2)):
        return None
    dense = plain_dense_chain(model)
    if dense is not None:
        _check_data(dense, loss, x[0], y)
    return dense


def _check_data(dense: list[Dense], loss: Loss, x: np.ndarray, y: np.ndarray) -> None:
    """What the step's kernels index, checked once per fit: a target per sample, each sample
    as wide as the first kernel, class ids in [0, classes) (or a target row per class)."""
    classes = dense[-1].output_shape_[0]
    if x.shape[1] != dense[0].weights["kernel"].shape[0] or len(y) != len(x):
        raise ValueError(f"dense chain: x {x.shape} and targets {y.shape} do not fit the network")
    if loss.target != "index":
        if y.shape[1] != classes:
            raise ValueError(f"dense chain: targets {y.shape} for {classes} classes")
    elif len(y) and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"dense chain: class ids must lie in [0, {classes})")


class DenseChainStep:
    """Forward, fused loss and backward of one batch; gradients land in the layers' `grads`."""

    def __init__(self, model: Model, dense: list[Dense], loss_kernel):
        self.loss_kernel = loss_kernel
        self.dtype = model.dtype
        no_bias = np.empty(0, model.dtype)
        self.kernels = [layer.weights["kernel"] for layer in dense]
        self.biases = [layer.weights.get("bias", no_bias) for layer in dense]
        self.kernel_grads = [layer.grads["kernel"] for layer in dense]
        self.bias_grads = [layer.grads.get("bias") for layer in dense]
        self.codes = [layer.activation.kernel_code for layer in dense]
        self.alphas = [model.dtype.type(getattr(layer.activation, "alpha", 0.0)) for layer in dense]
        self._arrays: dict[int, tuple[list[np.ndarray], ...]] = {}

    @classmethod
    def plan(cls, model: Model, loss: Loss, x: list[np.ndarray], y: np.ndarray) -> DenseChainStep | None:
        """The lean step for this model, loss and prepared training data, or None."""
        dense = dense_chain_layers(model, loss, x, y)
        return None if dense is None else cls(model, dense, SOFTMAX_CE_KERNELS[loss.name])

    def _buffers(self, rows: int) -> tuple[list[np.ndarray], ...]:
        """Per layer: pre-activation, output, d/d(pre-activation), d/d(input), kept per batch size."""
        arrays = self._arrays.get(rows)
        if arrays is None:
            units = [k.shape[1] for k in self.kernels]
            fan_in = [k.shape[0] for k in self.kernels]
            arrays = self._arrays[rows] = (
                [np.empty((rows, u), self.dtype) for u in units],
                [np.empty((rows, u), self.dtype) for u in units],
                [np.empty((rows, u), self.dtype) for u in units],
                [np.empty((rows, f) if i else (0, 0), self.dtype) for i, f in enumerate(fan_in)],
            )  # (the first layer needs no input gradient)
        return arrays

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, output probabilities) of the batch `x` (rows, inputs) C-contiguous in the
        model's dtype; fills every layer's gradients. The outputs stay valid until the next step
        with as many rows. `y` holds rows of the training targets `plan` checked."""
        if len(y) != len(x):  # the loss kernel reads a target per row of x
            raise ValueError(f"dense chain: {len(x)} samples but {len(y)} targets")
        z, a, grad_z, grad_x = self._buffers(len(x))
        kernels, biases, codes, alphas = self.kernels, self.biases, self.codes, self.alphas
        last = len(kernels) - 1
        inputs = x
        for i in range(last):
            np.matmul(inputs, kernels[i], out=z[i])
            ufunc = UFUNC_ACTIVATIONS.get(codes[i])
            if ufunc is not None:
                if biases[i].size:
                    np.add(z[i], biases[i], out=z[i])
                ufunc(z[i], out=a[i])
            else:
                _k.add_bias_act(z[i], biases[i], a[i], codes[i], alphas[i])
            inputs = a[i]
        logits = z[last]
        np.matmul(inputs, kernels[last], out=logits)
        if biases[last].size:
            logits += biases[last]
        _k.softmax_rows(logits, a[last])
        loss = self.loss_kernel(logits, y, grad_z[last])
        for i in range(last, -1, -1):
            below = x if i == 0 else a[i - 1]
            np.matmul(below.T, grad_z[i], out=self.kernel_grads[i])
            if self.bias_grads[i] is not None:
                _k.column_sums(grad_z[i], self.bias_grads[i])
            if i:
                np.matmul(grad_z[i], kernels[i].T, out=grad_x[i])
                _k.bias_act_backward(
                    z[i - 1], a[i - 1], grad_x[i], grad_z[i - 1], codes[i - 1], alphas[i - 1]
                )
        return loss, a[last]


class DenseChainRunner(GeneralRunner):
    """The general runner with the lean step (`DenseChainStep`) for the networks it takes."""

    name = "general"  # (the same numbers as the layer-by-layer step: shown as the general path)

    def __init__(self, setup: TrainingSetup, step: DenseChainStep):
        super().__init__(setup)
        self.step = step

    @classmethod
    def plan(cls, setup: TrainingSetup, x: list[np.ndarray], y: np.ndarray) -> DenseChainRunner | None:
        """This runner where the lean step applies (see the module docstring), else None."""
        step = DenseChainStep.plan(setup.model, setup.loss, x, y)
        return None if step is None else cls(setup, step)

    def _loss_and_gradients(self, xb: list[np.ndarray], yb: np.ndarray) -> tuple[float, np.ndarray]:
        # (a chain it takes has no weight penalties)
        loss_value, output = self.step.step(xb[0], yb)
        return float(loss_value), output
