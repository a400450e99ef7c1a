"""The sparsemax loss (Martins & Astudillo, 2016), the partner of the sparsemax activation as
cross-entropy is softmax's.

For scores z `(..., K)`, the true class y and p = sparsemax(z) with its threshold τ and support
S = {j : p_j > 0}:

    L(z, y) = -z_y + ½·Σ_{j∈S} (z_j² - τ²) + ½,    dL/dz = p - e_y

(e_y the one-hot target), averaged over the samples. It is 0 exactly when p = e_y with a margin,
and, like cross-entropy after a softmax, its gradient through the activation is the simple
difference of the probabilities and the target: the trainer uses that fused form whenever the
output layer's activation is sparsemax.

On probabilities p alone (what `evaluate` and a non-sparsemax output give), the loss is
½·‖p - e_y‖², which equals L(z, y) whenever the true class is in the support (z_j = p_j + τ on S),
and is smaller than L by τ - z_y when it is not: the scores below τ are not in p any more.
"""

from __future__ import annotations

import numpy as np

from engine.activations import get_activation
from engine.activations.sparsemax import sparsemax_threshold
from engine.losses.base import Loss, as_float, index_pair, row_count
from engine.registry import LOSSES

_SPARSEMAX = get_activation("sparsemax")


def _onehot(labels: np.ndarray, classes: int, dtype: np.dtype) -> np.ndarray:
    return (labels[..., None] == np.arange(classes)).astype(dtype)


@LOSSES.register
class SparsemaxLoss(Loss):
    name = "sparsemax_loss"
    torch_loss = """
    onehot = F.one_hot(target, output.shape[-1]).to(output.dtype)
    if not logits:
        return 0.5 * (output - onehot).square().sum(dim=-1).mean()
    z = output - output.amax(dim=-1, keepdim=True)
    ranks = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    ordered = torch.sort(z, dim=-1, descending=True).values
    tau = ((ordered.cumsum(-1) - 1) / ranks).amax(dim=-1, keepdim=True)
    p = torch.relu(z - tau)
    return (0.5 * (p * (z + tau)).sum(dim=-1) - (z * onehot).sum(dim=-1) + 0.5).mean()
    """
    description = "The loss that goes with a sparsemax output: its gradient is sparsemax(z) - target"
    formula = "L = -z_y + ½·Σ_{j∈S}(z_j² - τ²) + ½ = ½·‖p - e_y‖² when y is in the support S"
    when_to_use = (
        "Multi-class classification with a sparsemax output and class numbers 0..C-1 as targets: "
        "confident predictions give the other classes exactly 0."
    )
    fused_activation = "sparsemax"
    target = "index"
    task = "classification"
    min_classes = 2

    def _probabilities(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, labels = index_pair(y_pred, y_true, self.name)
        return p, _onehot(labels, p.shape[-1], p.dtype)

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """½·‖p - e_y‖² averaged over the samples, for probabilities p `(N, ..., K)`."""
        p, t = self._probabilities(y_pred, y_true)
        return float(0.5 * np.sum(np.square(p - t)) / row_count(p))

    def backward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        p, t = self._probabilities(y_pred, y_true)
        return ((p - t) * p.dtype.type(1.0 / row_count(p))).astype(p.dtype, copy=False)

    def forward_from_logits(self, z: np.ndarray, y_true: np.ndarray) -> float:
        """L(z, y) averaged over the samples, on the scores z `(N, ..., K)`. The scores are first
        shifted so that the largest is 0 (L does not change), so large scores do not cancel; the value is computed in float64."""
        z, labels = index_pair(as_float(z), y_true, self.name)
        if z.size == 0:
            return 0.0
        z = z.astype(np.float64, copy=False)
        shifted = z - z.max(axis=-1, keepdims=True)
        tau = sparsemax_threshold(shifted)
        p = np.maximum(shifted - tau, 0)
        true = np.take_along_axis(shifted, labels[..., None], axis=-1)[..., 0]
        values = 0.5 * np.sum(p * (shifted + tau), axis=-1) - true + 0.5
        return float(np.sum(values) / row_count(z))

    def backward_from_logits(self, z: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """(sparsemax(z) - e_y) / samples, shape and dtype of z."""
        z, labels = index_pair(as_float(z), y_true, self.name)
        p = _SPARSEMAX.forward(z)
        grad = (p - _onehot(labels, z.shape[-1], z.dtype)) * z.dtype.type(1.0 / row_count(z))
        return grad.astype(z.dtype, copy=False)
