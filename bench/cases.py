"""The benchmark cases: one network, optimizer, batch size and dtype each, plus synthetic data.

Every implementation of a case trains the same layer sizes with the same optimizer on the same
data (random, of the real shapes) in shuffled mini-batches, reading each batch's loss as a float.
A case is a chain of Dense layers (`sizes`), or, with `image` set, convolution stages (`convs`:
Conv2D "valid" with stride 1 and the hidden activation, then MaxPooling2D) on `(C, H, W)` images,
then Flatten (C, H, W order) and the Dense chain, whose `sizes[0]` is the flattened features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    sizes: tuple[int, ...]  # input, hidden..., output
    hidden: str  # relu | tanh
    loss: str  # softmax_ce (integer labels) | mse (linear output)
    optimizer: str  # adam | sgd
    lr: float
    batch: int
    dtype: str
    samples: int  # dataset size (one epoch)
    per_step: bool = False  # report steps/s instead of samples/s
    implementations: tuple[str, ...] = ("netcanvas", "numpy", "torch")
    extras: dict = field(default_factory=dict)
    image: tuple[int, ...] = ()  # (C, H, W) of an image input; () for a Dense chain
    convs: tuple[tuple[int, int, int], ...] = ()  # (filters, kernel size, pool size) per stage

    @property
    def unit(self) -> str:
        return "steps/s" if self.per_step else "samples/s"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape: the image `(C, H, W)`, or `(sizes[0],)` for a Dense chain."""
        return self.image or (self.sizes[0],)

    def data(self, quick: bool = False) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        count = self.samples if not quick else min(self.samples, max(self.batch * 20, 200))
        x = rng.standard_normal((count, *self.input_shape)).astype(self.dtype)
        if self.loss == "softmax_ce":
            return x, rng.integers(0, self.sizes[-1], count).astype(np.int64)
        y = np.tanh(x[:, :1] * x[:, 1:2]) if self.sizes[0] > 1 else np.tanh(x)
        return x, np.repeat(y, self.sizes[-1], axis=1).astype(self.dtype)


_MNIST = dict(
    sizes=(784, 256, 128, 10),
    hidden="relu",
    loss="softmax_ce",
    optimizer="adam",
    lr=1e-3,
    batch=128,
    samples=128 * 40,
)
_PLAYGROUND = dict(
    sizes=(2, 8, 8, 1), hidden="tanh", loss="mse", optimizer="sgd", lr=0.03, samples=2000, per_step=True
)

CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case(
            "mnist-f32",
            "MNIST MLP 784-256-128-10 relu, softmax-CE, Adam, batch 128, float32",
            dtype="float32",
            implementations=("netcanvas", "numpy", "numpy-tuned", "torch", "torch-fused-adam", "matmul"),
            **_MNIST,
        ),
        Case("mnist-f64", "MNIST MLP 784-256-128-10, Adam, batch 128, float64", dtype="float64", **_MNIST),
        Case(
            "deep-narrow-f32",
            "Deep narrow 64-(10 x Dense 64 tanh)-10, softmax-CE, Adam, batch 64, float32",
            sizes=(64,) + (64,) * 10 + (10,),
            hidden="tanh",
            loss="softmax_ce",
            optimizer="adam",
            lr=1e-3,
            batch=64,
            dtype="float32",
            samples=64 * 40,
        ),
        Case(
            "deep-narrow-f64",
            "Deep narrow 10 x Dense 64 tanh, Adam, batch 64, float64",
            sizes=(64,) + (64,) * 10 + (10,),
            hidden="tanh",
            loss="softmax_ce",
            optimizer="adam",
            lr=1e-3,
            batch=64,
            dtype="float64",
            samples=64 * 40,
        ),
        Case(
            "playground-b10-f64",
            "Playground 2-8-8-1 tanh, MSE, SGD, batch 10, float64",
            batch=10,
            dtype="float64",
            **_PLAYGROUND,
        ),
        Case(
            "playground-b1-f64",
            "Playground 2-8-8-1 tanh, MSE, SGD, batch 1, float64",
            batch=1,
            dtype="float64",
            **_PLAYGROUND,
        ),
        Case(
            "playground-b10-f32",
            "Playground 2-8-8-1 tanh, MSE, SGD, batch 10, float32",
            batch=10,
            dtype="float32",
            **_PLAYGROUND,
        ),
        Case(
            "wide-f32",
            "Wide MLP 784-1024-1024-10 relu, softmax-CE, Adam, batch 128, float32",
            sizes=(784, 1024, 1024, 10),
            hidden="relu",
            loss="softmax_ce",
            optimizer="adam",
            lr=1e-3,
            batch=128,
            dtype="float32",
            samples=128 * 16,
        ),
        Case(
            "mnist-cnn-f32",
            "MNIST CNN Conv 32 3x3 relu, MaxPool 2, Conv 64 3x3 relu, MaxPool 2, Flatten, "
            "Dense 128 relu, Dense 10, softmax-CE, Adam, batch 64, float32",
            sizes=(64 * 5 * 5, 128, 10),
            hidden="relu",
            loss="softmax_ce",
            optimizer="adam",
            lr=1e-3,
            batch=64,
            dtype="float32",
            samples=64 * 32,
            implementations=(
                "netcanvas",
                "torch",
                "torch-fused-adam",
                "matmul",
                "netcanvas-predict",
                "torch-predict",
            ),
            image=(1, 28, 28),
            convs=((32, 3, 2), (64, 3, 2)),
        ),
    )
}

PREDICT_BATCH = 256  # batch size of the inference implementations ("-predict")


@dataclass(frozen=True)
class Stage:
    """One convolution stage on `(channels, size, size)` images: the convolution's output is
    `(filters, out, out)`, the pooling's `(filters, pooled, pooled)`."""

    channels: int
    size: int
    filters: int
    kernel: int
    out: int
    pooled: int


def stages(case: Case) -> list[Stage]:
    """The convolution stages in order (none for a Dense chain); square images and kernels."""
    found = []
    if case.image:
        channels, size = case.image[0], case.image[1]
        for filters, kernel, pool in case.convs:
            out = size - kernel + 1
            found.append(Stage(channels, size, filters, kernel, out, out // pool))
            channels, size = filters, out // pool
        if channels * size * size != case.sizes[0]:
            raise ValueError(
                f"{case.name}: the stages give {channels * size * size} features, sizes[0] is {case.sizes[0]}"
            )
    return found


class Gemm(NamedTuple):
    """One layer's forward matrix product (m, k) @ (k, n), as the engine lays it out: a
    convolution's kernel (filters, channels * kh * kw) @ its im2col columns (.., batch * oh * ow)
    (`weights_left`), a Dense layer's inputs (batch, inputs) @ kernel (inputs, units). Its backward
    makes two of the same size: the weight gradient, and the input gradient (not for the first
    layer)."""

    m: int
    k: int
    n: int
    weights_left: bool


def gemms(case: Case) -> list[Gemm]:
    """Each layer's forward matrix product, in order."""
    convs = [Gemm(s.filters, s.channels * s.kernel**2, case.batch * s.out**2, True) for s in stages(case)]
    dense = [Gemm(case.batch, a, b, False) for a, b in zip(case.sizes[:-1], case.sizes[1:], strict=True)]
    return convs + dense


def flops_per_step(case: Case) -> float:
    """Multiply-adds x 2 of the step's matrix products (forward, weight and input gradients; the
    first layer needs no input gradient)."""
    shapes = gemms(case)
    macs = sum(3 * g.m * g.k * g.n for g in shapes) - shapes[0].m * shapes[0].k * shapes[0].n
    return 2.0 * macs


def memory_budget(case: Case, cores: int = 1) -> dict[str, int]:
    """Elements of what training needs at least: parameters, optimizer state (Adam: 2 x the
    parameters), one batch's activations (the input and every layer's output; a convolution's
    output and its pooled output) and the convolutions' im2col buffers: on each of `cores`, one
    chunk's columns and products (engine/layers/conv.py works through the batch in chunks of
    CHUNK_BYTES), as large as the largest layer's."""
    from engine.layers.conv import CHUNK_BYTES

    params = sum(s.filters * (s.channels * s.kernel**2 + 1) for s in stages(case))
    params += sum(a * b + b for a, b in zip(case.sizes[:-1], case.sizes[1:], strict=True))
    if case.image:
        per_sample = int(np.prod(case.image)) + sum(
            s.filters * (s.out**2 + s.pooled**2) for s in stages(case)
        )
        per_sample += sum(case.sizes[1:])
    else:
        per_sample = sum(case.sizes)
    itemsize = np.dtype(case.dtype).itemsize
    chunks = []
    for s in stages(case):
        taps, positions = s.channels * s.kernel**2, s.out**2
        samples = max(1, CHUNK_BYTES // ((taps + s.filters) * positions * itemsize))
        chunks.append((samples * taps * positions, samples * s.filters * positions))
    columns = cores * (max((c for c, _ in chunks), default=0) + max((p for _, p in chunks), default=0))
    return {
        "params": params,
        "state": 2 * params if case.optimizer == "adam" else 0,
        "activations": case.batch * per_sample,
        "columns": columns,
    }
