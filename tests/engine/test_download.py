"""MNIST and Fashion-MNIST from the user's data cache, downloaded from a local mirror on
127.0.0.1 (never the internet): first use downloads and checks SHA-256, a damaged, cut or
cancelled download leaves nothing in the cache, `mnist:DIR` still reads a folder."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.cli import commands
from engine.data import DownloadCancelled, NotDownloaded, download, is_downloaded, load_data
from engine.data.download import CACHE_ENV, MIRROR_ENV, REMOTE_SETS, RemoteSet, cache_root
from engine.errors import DataError
from tests.engine.data_server import mnist_mirror_root, require_mnist, serve
from tests.engine.test_data_files import write_mnist

ROOT = Path(__file__).resolve().parents[2]
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return folder


@pytest.fixture
def mirror(tmp_path, cache, monkeypatch):
    with serve(mnist_mirror_root(tmp_path)) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        yield server


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_cache_folder_follows_the_environment_or_platformdirs(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_root() == Path(platformdirs.user_cache_dir("netcanvas"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"


def test_first_use_downloads_with_progress_then_reads_the_cache(mirror, cache):
    with pytest.raises(NotDownloaded, match=r"MNIST is not downloaded yet .*Data tab.*--data mnist"):
        load_data({"source": "mnist"})
    seen: list[tuple[int, int]] = []
    data = load_data(
        {"source": "mnist"}, download=True, progress=lambda done, total: seen.append((done, total))
    )
    assert data.x.shape == (60000, 1, 28, 28) and data.x_val.shape == (10000, 1, 28, 28)
    assert data.class_names[:3] == ["0", "1", "2"]
    total = REMOTE_SETS["mnist"].size
    assert seen[-1] == (total, total) and all(b >= a for (a, _), (b, _) in zip(seen, seen[1:], strict=False))
    assert len(seen) > 10  # a bar that moves, not one jump
    assert _left_in(cache / "mnist") == sorted(REMOTE_SETS["mnist"].files)
    for name, (sha, _size) in REMOTE_SETS["mnist"].files.items():
        assert hashlib.sha256((cache / "mnist" / name).read_bytes()).hexdigest() == sha
    requests = len(mirror.requests)
    assert len(load_data({"source": "mnist"}, download=True)) == 60000  # from the cache now
    assert len(mirror.requests) == requests


def test_a_corrupted_download_is_refused_and_leaves_no_file(mirror, cache):
    mirror.damage[f"mnist/{TRAIN_IMAGES}"] = "corrupt"
    with pytest.raises(
        DataError, match=rf"{TRAIN_IMAGES}: the downloaded file is damaged \(its SHA-256 does not match"
    ):
        download("mnist")
    assert TRAIN_IMAGES not in _left_in(cache / "mnist")
    assert not [name for name in _left_in(cache / "mnist") if name.startswith("tmp")]
    assert not is_downloaded("mnist")
    mirror.damage.clear()  # the next try fetches only what is missing
    download("mnist")
    assert is_downloaded("mnist")


def test_an_interrupted_download_leaves_no_half_file(mirror, cache):
    mirror.damage[f"mnist/{TRAIN_IMAGES}"] = "cut"
    with pytest.raises(DataError, match=rf"{TRAIN_IMAGES}: download failed .*nothing was kept"):
        download("mnist")
    left = _left_in(cache / "mnist")
    assert TRAIN_IMAGES not in left and not [name for name in left if name.startswith("tmp")]


def test_cancel_stops_the_download_and_leaves_no_half_file(mirror, cache):
    cancel = threading.Event()

    def progress(done: int, _total: int) -> None:
        if done > 1_000_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download("mnist", progress=progress, cancel=cancel)
    left = _left_in(cache / "mnist")
    assert TRAIN_IMAGES not in left and not [name for name in left if name.startswith("tmp")]


def test_a_dead_mirror_falls_back_to_the_next(tmp_path, cache, monkeypatch):
    with serve(mnist_mirror_root(tmp_path)) as server:
        dead = "http://127.0.0.1:9/"  # the discard port: refused
        remote = REMOTE_SETS["mnist"]
        monkeypatch.setitem(
            REMOTE_SETS,
            "mnist",
            RemoteSet(remote.name, remote.title, (dead, server.url + "mnist/"), remote.files),
        )
        assert download("mnist") == cache / "mnist"
    assert is_downloaded("mnist")


def test_fashion_mnist_downloads_into_its_own_folder_with_clothing_names(tmp_path, cache, monkeypatch):
    root = tmp_path / "mirror"
    root.mkdir()
    write_mnist(root / "fashion_mnist")  # small stand-ins; their hashes replace the published ones
    files = {
        name: (
            hashlib.sha256((root / "fashion_mnist" / name).read_bytes()).hexdigest(),
            (root / "fashion_mnist" / name).stat().st_size,
        )
        for name in REMOTE_SETS["fashion_mnist"].files
    }
    remote = REMOTE_SETS["fashion_mnist"]
    monkeypatch.setitem(
        REMOTE_SETS, "fashion_mnist", RemoteSet(remote.name, remote.title, remote.mirrors, files)
    )
    with serve(root) as server:
        download("fashion_mnist", mirror=server.url)
    data = load_data({"source": "fashion_mnist"})
    assert data.name == "fashion_mnist" and data.class_names[9] == "Ankle boot"
    assert _left_in(cache / "fashion_mnist") == sorted(files)
    assert not (cache / "mnist").exists()


def test_a_folder_path_is_still_read_as_is(cache):
    folder = require_mnist()
    data = load_data({"source": "mnist", "path": str(folder)})
    assert len(data) == 60000 and not (cache / "mnist").exists()


def test_cli_train_with_data_mnist_downloads_with_a_bar(mirror, cache, tmp_path, monkeypatch, capsys):
    out = tmp_path / "trained.ncv"
    monkeypatch.chdir(tmp_path)
    example = ROOT / "resources" / "examples" / "mnist_mlp.json"
    status = commands.run_cli(
        ["train", os.path.relpath(example), "--data", "mnist", "--epochs", "1", "-o", str(out)]
    )
    err = capsys.readouterr().err
    assert status == 0, err
    assert err.count("Downloading mnist [========================] 11.6 / 11.6 MB\n") == 1
    assert out.is_file() and is_downloaded("mnist")


def test_the_mnist_example_needs_no_folder_outside_the_project(mirror, cache):
    import json

    data = json.loads((ROOT / "resources" / "examples" / "mnist_mlp.json").read_text())["data"]
    assert data == {"source": "mnist"}
    assert np.isfinite(load_data(data, download=True).x[:10]).all()
