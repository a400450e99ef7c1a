"""PyTorch export: the generated nn.Module predicts what Network.predict does, its names follow
the canvas, data_sources.py reads data exactly as NetCanvas, and train.py trains like NetCanvas
with one process and with torchrun (DistributedDataParallel, gloo)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.data import load_data
from engine.export import export_network
from engine.export.pytorch_export import data_settings
from engine.registry import DATASETS, resolve_params
from tests.engine.test_export_cases import (
    CASES,
    EXAMPLES_DIR,
    TOLERANCE,
    load_module,
    network_for,
    predict,
    random_inputs,
)


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="running the exported PyTorch code needs torch")


def _load_model(out_dir: Path, tag: str):
    return load_module(out_dir / "model.py", f"pytorch_export_{tag}").load_model()


@pytest.mark.parametrize("case", CASES)
def test_module_matches_predict(case, tmp_path, torch):
    network = network_for(case)
    export_network(network, "pytorch", tmp_path / "pkg")
    model = _load_model(tmp_path / "pkg", case.replace(".", "_"))
    assert not model.training
    inputs = random_inputs(network, 64)
    with torch.no_grad():
        got = model(*(torch.from_numpy(a) for a in inputs.values())).numpy()
    expected = predict(network, inputs)
    assert got.shape == expected.shape
    diff = float(np.max(np.abs(got - expected)))
    print(f"{case}: max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


def test_attribute_names_follow_the_canvas(tmp_path, torch):
    export_network(network_for("dag0"), "pytorch", tmp_path / "pkg")
    model = _load_model(tmp_path / "pkg", "names")
    assert isinstance(model.d1, torch.nn.Linear) and isinstance(model.drop, torch.nn.Dropout)
    assert isinstance(model.bn_img, torch.nn.BatchNorm2d) and isinstance(model.bn1, torch.nn.BatchNorm1d)
    assert "image_in" in (tmp_path / "pkg" / "model.py").read_text()  # 'image-in' made a Python name
    with torch.no_grad():
        assert float(model.regularization_loss()) == pytest.approx(
            0.01 * float(model.d3.weight.square().sum())
        )
    text = (tmp_path / "pkg" / "train.py").read_text()
    assert "LOSS = {'type': 'sparse_categorical_crossentropy'}" in text
    assert {p.name for p in (tmp_path / "pkg").iterdir()} >= {
        "model.py",
        "weights.npz",
        "train.py",
        "data_sources.py",
        "README.md",
        "__init__.py",
    }


def _data_sources(tmp_path: Path):
    export_network(network_for("spiral.json"), "pytorch", tmp_path / "pkg")
    return load_module(tmp_path / "pkg" / "data_sources.py", f"data_sources_{tmp_path.name}")


def _assert_same(ours, reference, val_split: float, seed: int) -> None:
    train, val = reference.split(val_split, seed)
    for got, expected in ((ours.x, train.x), (ours.y, train.y), (ours.x_val, val.x), (ours.y_val, val.y)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", DATASETS.names())
def test_synthetic_sets_are_regenerated_exactly(name, tmp_path):
    sources = _data_sources(tmp_path)
    config = {"source": name, **resolve_params(DATASETS.get(name), {"seed": 5}, "data"), "val_split": 0.25}
    _assert_same(sources.load(config), load_data(config), 0.25, 5)


def test_files_are_read_as_netcanvas_reads_them(tmp_path):
    sources = _data_sources(tmp_path)
    csv = {
        "source": "csv",
        "path": str(EXAMPLES_DIR / "sphere_3d.csv"),
        "target": "region",
        "val_split": 0.2,
        "seed": 0,
    }
    ours, reference = sources.load(csv), load_data(csv)
    _assert_same(ours, reference, 0.2, 0)
    np.testing.assert_array_equal(ours.mean, reference.scaler.mean)
    np.testing.assert_array_equal(ours.std, reference.scaler.std)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(30, 2, 3)), y=rng.integers(0, 3, 30))
    npz = {"source": "npz", "path": str(tmp_path / "d.npz"), "val_split": 0.3, "seed": 2}
    _assert_same(sources.load(npz), load_data(npz), 0.3, 2)
    pixels = rng.integers(0, 256, (30, 5, 4), dtype=np.uint8)  # one channel of images, scaled to [0, 1]
    np.savez(tmp_path / "i.npz", x=pixels, y=rng.integers(0, 3, 30), x_val=pixels[:4], y_val=np.arange(4) % 3)
    images = {"source": "npz", "path": str(tmp_path / "i.npz"), "val_split": 0.3, "seed": 2}
    _assert_same(sources.load(images), load_data(images), 0.3, 2)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, count in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        header = bytes([0, 0, 8, 3]) + np.array([count, 28, 28], ">u4").tobytes()
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
        header = bytes([0, 0, 8, 1]) + np.array([count], ">u4").tobytes()
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    mnist = {"source": "mnist", "path": str(folder)}
    _assert_same(sources.load(mnist), load_data(mnist), 0.2, 0)
    fashion = {"source": "fashion_mnist", "path": str(folder)}
    _assert_same(sources.load(fashion), load_data(fashion), 0.2, 0)


@pytest.mark.parametrize("colour", [False, True])
def test_an_image_folder_is_read_as_netcanvas_reads_it(tmp_path, colour):
    Image = pytest.importorskip("PIL.Image", reason="image folders need Pillow")
    sources = _data_sources(tmp_path)
    rng = np.random.default_rng(1)
    for name, count in (("b_bars", 4), ("a_dots", 5), (".hidden", 2)):
        (tmp_path / "png" / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            image = Image.fromarray(pixels, "L")
            if colour and i == 0:  # one colour image makes the set RGB
                image = Image.fromarray(rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), "RGBA")
            image.save(tmp_path / "png" / name / f"{i}.png")
        (tmp_path / "png" / name / "notes.txt").write_text("not an image")
    config = {"source": "image_folder", "path": str(tmp_path / "png"), "val_split": 0.25, "seed": 3}
    ours = sources.load(config)
    assert ours.x.shape[1:] == ((3 if colour else 1), 6, 5)
    _assert_same(ours, load_data(config), 0.25, 3)


def test_a_downloaded_set_is_read_from_the_users_data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "cache"))
    network = engine.Network(engine.NetworkSpec(data={"source": "fashion_mnist"}))
    settings = data_settings(network, None)
    assert Path(settings["path"]) == tmp_path / "cache" / "fashion_mnist"


# ----------------------------------------------------------------------- training script
def _netcanvas_one_epoch(path: Path) -> dict[str, float]:
    network = engine.load(path)
    data = load_data(network.spec.data, base_dir=path.parent)
    if data.scaler is not None:
        network.scaler = data.scaler
    train, val = data.split(network.spec.data.get("val_split", 0.2), network.spec.data.get("seed", 0))
    history = network.fit(train.x, train.y, epochs=1, validation_data=(val.x, val.y))
    return {key: values[-1] for key, values in history.items()}


def _run(command: list[str], cwd: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # torchrun's workers too
        process.communicate()
        raise
    assert process.returncode == 0, stderr[-2000:]
    return json.loads((cwd / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("example", ["spiral.json", "tiny_3_5_1.json"])
def test_train_script_matches_netcanvas_training(example, tmp_path, torch):
    path = EXAMPLES_DIR / example
    out = tmp_path / "pkg"
    export_network(engine.load(path), "pytorch", out, source_path=path)
    reference = _netcanvas_one_epoch(path)
    args = ["train.py", "--epochs", "1", "--metrics-json", "metrics.json"]
    runs = {"python": _run([sys.executable, *args], out)}
    torchrun = shutil.which("torchrun")
    if example == "spiral.json" and torchrun:
        runs["torchrun x2"] = _run([torchrun, "--standalone", "--nproc_per_node=2", *args], out)
        assert runs["torchrun x2"]["processes"] == 2
    for label, logs in runs.items():
        print(
            f"{example} {label}: val_accuracy {logs['val_accuracy']:.4f} loss {logs['loss']:.4f}; "
            f"NetCanvas val_accuracy {reference['val_accuracy']:.4f} loss {reference['loss']:.4f}"
        )
        assert logs["val_accuracy"] == pytest.approx(reference["val_accuracy"], abs=0.03)
        assert logs["loss"] == pytest.approx(reference["loss"], abs=0.01)
    state = torch.load(out / "trained.pt", weights_only=True)
    model = load_module(out / "model.py", f"trained_{example.replace('.', '_')}").load_model(
        out / "trained.pt"
    )
    assert set(state) == set(model.state_dict())
