"""`python main.py summary|train`: tables, trained files, metrics JSON, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def run_main(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def train_example(tmp_path: Path, name: str, *extra: str) -> dict:
    metrics = tmp_path / f"{name}.metrics.json"
    result = run_main(
        "train",
        str(EXAMPLES / f"{name}.json"),
        "-o",
        str(tmp_path / f"{name}.ncv"),
        "--metrics-json",
        str(metrics),
        *extra,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"{name}.ncv").is_file()
    return json.loads(metrics.read_text())


def test_summary_of_the_3_5_1_example_reports_26_parameters():
    result = run_main("summary", str(EXAMPLES / "tiny_3_5_1.json"))
    assert result.returncode == 0, result.stderr
    assert "Total params: 26" in result.stdout
    assert "h (Dense)" in result.stdout and "(None, 5)" in result.stdout


def test_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    result = run_main("summary", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: bad.json: invalid JSON at line 1, column 3: Expecting property name enclosed in double quotes"
    ]
    result = run_main("train", str(EXAMPLES / "xor.json"), "--data", "csv:/nope/missing.csv")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "missing.csv" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_xor_reaches_97_percent(tmp_path):
    assert train_example(tmp_path, "xor")["val_accuracy"] >= 0.97


@pytest.mark.slow
def test_spiral_reaches_97_percent(tmp_path):
    assert train_example(tmp_path, "spiral")["val_accuracy"] >= 0.97


@pytest.mark.slow
def test_sine_reaches_mse_below_0_01(tmp_path):
    assert train_example(tmp_path, "sine")["val_loss"] < 0.01


@pytest.mark.slow
def test_training_options_override_the_file(tmp_path):
    metrics = train_example(
        tmp_path,
        "xor",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--lr",
        "0.02",
        "--seed",
        "3",
        "--data",
        "circle",
    )
    trained = engine.load(tmp_path / "xor.ncv")
    assert len(trained.history.epochs["loss"]) == 2
    assert trained.training.batch_size == 50 and trained.training.seed == 3
    assert trained.spec.data["source"] == "circle"
    assert set(metrics) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


@pytest.mark.slow
@pytest.mark.skipif(
    not (MNIST / "train-images-idx3-ubyte.gz").exists(), reason=f"MNIST files not found at {MNIST}"
)
def test_mnist_mlp_three_epochs_reaches_97_percent(tmp_path):
    metrics = train_example(
        tmp_path, "mnist_mlp", "--data", f"mnist:{os.path.relpath(MNIST, ROOT)}", "--epochs", "3"
    )
    assert metrics["val_accuracy"] >= 0.97
