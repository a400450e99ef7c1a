"""The mnist_cnn example, trained from the command line with its own settings (batch size,
learning-rate schedule) for 3 epochs, reaches 98.8 % on the real MNIST test set.

The CLI reads MNIST as a user's first run does: downloaded into a fresh data cache, here from a
local mirror of the real files (127.0.0.1), skipped when those files are absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.data.download import CACHE_ENV, MIRROR_ENV
from tests.engine.data_server import mnist_mirror_root, serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mnist_cnn_three_epochs_from_the_cli_reaches_98_8_percent(tmp_path):
    with serve(mnist_mirror_root(tmp_path)) as server:
        env = {**os.environ, MIRROR_ENV: server.url, CACHE_ENV: str(tmp_path / "cache")}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "train", "mnist_cnn", "--epochs", "3"]
            + ["--metrics-json", "metrics.json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=3600,
        )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    print(f"mnist_cnn: {metrics} in {time.perf_counter() - started:.0f} s\n{result.stdout}")
    assert (tmp_path / "mnist_cnn_trained.ncv").is_file()
    assert metrics["val_accuracy"] >= 0.988
