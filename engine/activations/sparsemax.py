"""Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of the scores onto the
probability simplex, over the last axis.

Like softmax it turns a vector of scores into probabilities that sum to 1, but it gives exactly
0 to the scores far enough below the largest ones: p = max(z - τ, 0), with the threshold τ such
that the p sum to 1. With the scores sorted in decreasing order z₍₁₎ ≥ z₍₂₎ ≥ …, τ is the largest
of (z₍₁₎ + … + z₍ₖ₎ - 1) / k over k (each of them is at most τ, and the one at k = the size of the
support equals it), so one sort, one cumulative sum and one maximum give it, with no search for
the support.

Its Jacobian is diag(s) - s·sᵀ / |S| for the 0/1 support indicator s: a backward pass keeps the
incoming gradient on the support minus its mean there, and gives 0 outside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.activations.base import Activation, OnnxGraph, OnnxMatch, OnnxReader, as_float
from engine.registry import ACTIVATIONS


def sparsemax_threshold(z: np.ndarray) -> np.ndarray:
    """τ of each row of z `(..., K)` over the last axis, shape `(..., 1)`, in z's dtype."""
    ordered = -np.sort(-z, axis=-1)
    ranks = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    return np.max((np.cumsum(ordered, axis=-1) - 1) / ranks, axis=-1, keepdims=True)


def _compute_dtype(z: np.ndarray) -> np.dtype:
    """float16 is computed in float32 (its cumulative sums lose too much); others as they are."""
    return np.dtype(np.float32) if z.dtype.itemsize < 4 else z.dtype


@ACTIVATIONS.register
class Sparsemax(Activation):
    """Sparsemax over the last axis: probabilities that sum to 1, many of them exactly 0."""

    name = "sparsemax"
    description = "Like softmax, probabilities that sum to 1, but scores far below the top get exactly 0"
    formula = "sparsemax(x)ᵢ = max(xᵢ - τ, 0), τ chosen so that the outputs sum to 1"
    kernel_code = None
    bounded_range = (0.0, 1.0)
    onnx_ops = ("TopK",)
    numpy_name = "sparsemax"
    numpy_source = '''def sparsemax(x):
    """Projection onto the probability simplex over the last axis (Martins & Astudillo 2016)."""
    x = x - x.max(axis=-1, keepdims=True)
    ordered = -np.sort(-x, axis=-1)
    ranks = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    tau = np.max((np.cumsum(ordered, axis=-1) - 1) / ranks, axis=-1, keepdims=True)
    return np.maximum(x - tau, 0)'''

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = as_float(z)
        work = z.astype(_compute_dtype(z), copy=False)
        if work.ndim == 0 or work.shape[-1] == 0:
            return z.copy()
        work = work - work.max(axis=-1, keepdims=True)  # τ in [-1, 0): no rounding of huge scores
        return np.maximum(work - sparsemax_threshold(work), 0).astype(z.dtype, copy=False)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """Jacobian-vector product over the last axis: on the support S (a > 0) the incoming
        gradient minus its mean over S, 0 elsewhere."""
        a = as_float(a)
        grad_a = np.asarray(grad_a, dtype=a.dtype)
        support = (a > 0).astype(a.dtype)
        size = np.maximum(support.sum(axis=-1, keepdims=True), 1)
        mean = np.sum(grad_a * support, axis=-1, keepdims=True) / size
        return (support * (grad_a - mean)).astype(a.dtype, copy=False)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The Jacobian's diagonal: 1 - 1/|S| on the support, 0 elsewhere."""
        a = self.forward(z)
        support = (a > 0).astype(a.dtype)
        size = np.maximum(support.sum(axis=-1, keepdims=True), 1)
        return support * (1 - 1 / size)

    def curve(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Treats each x as the score of one class against a second class fixed at 0 (as softmax's
        curve does): the probability of the first class, clip((x + 1) / 2, 0, 1), and its slope
        (1/2 while both classes are in the support, else 0)."""
        x = as_float(np.asarray(x)).reshape(-1)
        pair = np.stack([x, np.zeros_like(x)], axis=-1)
        return self.forward(pair)[:, 0], self.derivative(pair)[:, 0]

    def to_onnx(self, graph: OnnxGraph, x: str, out: str, prefix: str) -> str:
        """K = Shape(x)[-1:], ranks 1..K = Range(1, K + 1, 1), the scores sorted by TopK(x, K),
        τ = ReduceMax((CumSum(sorted) - 1) / ranks) over the last axis, then Relu(x - τ)."""
        p, one = prefix, graph.scalar(1.0)
        k = graph.add("Shape", [x], f"{p}/classes", f"{p}/classes", start=-1)
        limit = graph.add("Squeeze", [k], f"{p}/count", f"{p}/count")
        limit = graph.add("Cast", [limit], f"{p}/count_float", f"{p}/count_float", to=1)  # FLOAT
        limit = graph.add("Add", [limit, one], f"{p}/limit", f"{p}/limit")
        ranks = graph.add("Range", [one, limit, one], f"{p}/ranks", f"{p}/ranks")
        ordered = graph.add(
            "TopK", [x, k], [f"{p}/sorted", f"{p}/order"], f"{p}/sort", axis=-1, largest=1, sorted=1
        )
        last_axis = graph.tensor(f"{p}/last_axis", np.array(-1, dtype=np.int64))
        t = graph.add("CumSum", [ordered, last_axis], f"{p}/cumsum", f"{p}/cumsum")
        t = graph.add("Sub", [t, one], f"{p}/cumsum_1", f"{p}/cumsum_1")
        t = graph.add("Div", [t, ranks], f"{p}/candidates", f"{p}/candidates")
        tau = graph.add("ReduceMax", [t], f"{p}/tau", f"{p}/tau", axes=[-1], keepdims=1)
        t = graph.add("Sub", [x, tau], f"{p}/shifted", f"{p}/shifted")
        return graph.add("Relu", [t], out, prefix)

    @classmethod
    def from_onnx(cls, reader: OnnxReader, node: Any) -> OnnxMatch | None:
        """The pattern `to_onnx` writes, from its TopK on: sorted over the last axis, largest
        first, k the last axis' length; then CumSum, - 1, / ranks 1..K, ReduceMax over the last
        axis, x - τ, Relu."""
        x, rank = node.input[0], reader.rank(node.input[0])
        if int(reader.attr(node, "axis", -1)) % rank != rank - 1:
            return None
        if int(reader.attr(node, "largest", 1)) != 1 or int(reader.attr(node, "sorted", 1)) != 1:
            return None
        k_writer = reader.writer_of(node.input[1])
        if k_writer is None or k_writer.op_type != "Shape" or k_writer.input[0] != x:
            return None
        if int(reader.attr(k_writer, "start", 0)) not in (-1, rank - 1) or reader.attr(k_writer, "end", None):
            return None
        chain, tensor = [], node.output[0]
        for op in ("CumSum", "Sub", "Div", "ReduceMax", "Sub", "Relu"):
            user = reader.only_consumer(tensor)
            if user is None or user.op_type != op or not _step_matches(reader, user, tensor, x, rank):
                return None
            chain.append(user)
            tensor = user.output[0]
        return OnnxMatch(x, tensor, consumed=tuple(chain), users=3)

    def torch_expression(self, arg: str) -> str:
        return (
            "(lambda z: torch.relu(z - ((torch.sort(z, dim=-1, descending=True).values.cumsum(-1) - 1)"
            " / torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device))"
            f".amax(-1, keepdim=True)))({arg})"
        )


def _step_matches(reader: OnnxReader, node: Any, tensor: str, x: str, rank: int) -> bool:
    """Whether `node` (reading `tensor`) is the next step of the sparsemax pattern over x."""
    ins = list(node.input)
    if node.op_type == "CumSum":
        axis = reader.constant(ins[1])
        return (
            axis is not None
            and int(axis.reshape(-1)[0]) % rank == rank - 1
            and not reader.attr(node, "exclusive", 0)
            and not reader.attr(node, "reverse", 0)
        )
    if node.op_type == "Sub" and ins[0] == tensor:
        return reader.const_is(ins[1], 1.0)
    if node.op_type == "Div":
        ranks = reader.constant(ins[1])
        return (
            ins[0] == tensor
            and ranks is not None
            and ranks.ndim == 1
            and np.array_equal(ranks, np.arange(1, ranks.size + 1))
        )
    if node.op_type == "ReduceMax":
        axes = [int(a) % rank for a in reader.attr(node, "axes", [])]
        return axes == [rank - 1] and int(reader.attr(node, "keepdims", 1)) == 1
    if node.op_type == "Sub":
        return ins == [x, tensor]
    return node.op_type == "Relu"
