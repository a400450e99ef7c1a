"""The benchmark cases: one network, optimizer, batch size and dtype each, plus synthetic data.

Every implementation of a case trains the same layer sizes with the same optimizer on the same
data (random, of the real shapes) in shuffled mini-batches, reading each batch's loss as a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def unit(self) -> str:
        return "steps/s" if self.per_step else "samples/s"

    def data(self, quick: bool = False) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        count = self.samples if not quick else min(self.samples, max(self.batch * 20, 200))
        x = rng.standard_normal((count, self.sizes[0])).astype(self.dtype)
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
    )
}


def flops_per_step(case: Case) -> float:
    """Multiply-adds x 2 of the step's matrix products (forward, weight and input gradients; the
    first layer needs no input gradient)."""
    pairs = list(zip(case.sizes[:-1], case.sizes[1:], strict=True))
    macs = sum(3 * a * b for a, b in pairs) - pairs[0][0] * pairs[0][1]
    return 2.0 * case.batch * macs
