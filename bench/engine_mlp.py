"""Samples/s of the NetCanvas engine on the MNIST MLP (784-128-10, Adam, batch 128, float32)
next to a plain-NumPy reference, both measured in this run (alternated, median of 5).

    python bench/engine_mlp.py [--batch-size 128] [--repeats 5] [--steps 150]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.numpy_reference import NumpyMLP  # noqa: E402
from engine.graph import NetworkSpec  # noqa: E402
from engine.network import Network  # noqa: E402


def mnist_mlp(batch_size: int) -> Network:
    spec = NetworkSpec(
        training={
            "loss": "sparse_categorical_crossentropy",
            "optimizer": {"type": "adam", "learning_rate": 1e-3},
            "batch_size": batch_size,
            "epochs": 1,
            "seed": 0,
        }
    )
    spec.add_node("Input", {"shape": [784]}, node_id="image")
    spec.add_node("Dense", {"units": 128, "activation": "relu"}, node_id="hidden")
    spec.add_node("Dense", {"units": 10, "activation": "softmax"}, node_id="digits")
    spec.connect("image", "hidden")
    spec.connect("hidden", "digits")
    return Network(spec)


def time_engine(x, y, batch_size: int) -> float:
    network = mnist_mlp(batch_size)
    network.fit(x[: batch_size * 5], y[: batch_size * 5], epochs=1, shuffle=False)  # warm-up / JIT
    start = time.perf_counter()
    network.fit(x, y, epochs=1, shuffle=False)
    return len(x) / (time.perf_counter() - start)


def time_numpy(x, y, batch_size: int) -> float:
    model = NumpyMLP([784, 128, 10])
    model.step(x[:batch_size], y[:batch_size])
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        model.step(x[i : i + batch_size], y[i : i + batch_size])
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per timing")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    engine_rates, numpy_rates = [], []
    for _ in range(args.repeats):  # alternate A B A B so drifts hit both alike
        engine_rates.append(time_engine(x, y, args.batch_size))
        numpy_rates.append(time_numpy(x, y, args.batch_size))
    e, r = statistics.median(engine_rates), statistics.median(numpy_rates)
    print(f"MNIST MLP 784-128-10, Adam, batch {args.batch_size}, float32, {args.repeats} repeats")
    print(f"{'implementation':<16}{'median samples/s':>18}{'min':>12}{'max':>12}")
    print(f"{'netcanvas':<16}{e:>18,.0f}{min(engine_rates):>12,.0f}{max(engine_rates):>12,.0f}")
    print(f"{'plain numpy':<16}{r:>18,.0f}{min(numpy_rates):>12,.0f}{max(numpy_rates):>12,.0f}")
    print(f"ratio netcanvas / numpy: {e / r:.2f}x")


if __name__ == "__main__":
    main()
