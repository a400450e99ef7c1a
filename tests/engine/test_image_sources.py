"""Images from files: an NPZ archive of image arrays and a folder of PNG files, one sub-folder per
class; both train a small convolutional network."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import image_folder as image_folder_module
from engine.data import load_data, load_image_folder, load_mnist, load_npz, parse_data_argument
from engine.data_fit import fit_problems
from engine.errors import DataError
from engine.examples import example_path
from engine.graph import NetworkSpec
from engine.network import Network
from tests.engine.data_server import require_mnist

SHAPES = ("bars", "columns", "square")


def _picture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A 0..255 grayscale picture of `kind` with noise: horizontal bars, vertical bars or a square."""
    picture = rng.integers(0, 60, (size, size)).astype(np.uint8)
    if kind == "bars":
        picture[::4] = 230
    elif kind == "columns":
        picture[:, ::4] = 230
    else:
        picture[4:-4, 4:-4] = 230
    return picture


def make_png_set(folder: Path, per_class: int = 12, size: int = 16, mode: str = "L") -> Path:
    """3 classes of 16x16 pictures as PNG files in `folder/<class>/<n>.png`."""
    rng = np.random.default_rng(0)
    for kind in SHAPES:
        (folder / kind).mkdir(parents=True)
        for index in range(per_class):
            Image.fromarray(_picture(kind, size, rng)).convert(mode).save(folder / kind / f"{index}.png")
    return folder


def small_cnn(shape: list[int], classes: int) -> NetworkSpec:
    training = {
        "loss": "sparse_categorical_crossentropy",
        "optimizer": {"type": "adam", "learning_rate": 0.01},
    }
    spec = NetworkSpec(training=training)
    spec.add_node("Input", {"shape": shape}, node_id="image")
    spec.add_node("Conv2D", {"filters": 4, "kernel_size": [3], "activation": "relu"}, node_id="conv")
    spec.add_node("MaxPooling2D", {"pool_size": [2]}, node_id="pool")
    spec.add_node("Flatten", {}, node_id="flat")
    spec.add_node("Dense", {"units": classes, "activation": "softmax"}, node_id="out")
    for a, b in (("image", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "out")):
        spec.connect(a, b)
    return spec


def _train(spec: NetworkSpec, dataset) -> dict:
    train, val = dataset.split(0.25, 0)
    network = Network(spec)
    network.fit(train.x, train.y, epochs=15, batch_size=8, validation_data=(val.x, val.y))
    return network.evaluate(val.x, val.y)


def test_a_png_folder_loads_as_one_channel_images_with_sorted_class_names(tmp_path):
    folder = make_png_set(tmp_path / "shapes")
    (folder / "notes.txt").write_text("ignored")
    (folder / "bars" / "readme.md").write_text("ignored")
    data = load_image_folder(folder)
    assert data.x.shape == (36, 1, 16, 16) and data.x.dtype == np.float32
    assert data.class_names == ["bars", "columns", "square"] and data.n_classes == 3
    assert np.bincount(data.y).tolist() == [12, 12, 12]
    assert data.x.min() >= 0.0 and data.x.max() == pytest.approx(230 / 255)
    first = np.asarray(Image.open(folder / "bars" / "0.png"), dtype=np.float32) / 255
    np.testing.assert_allclose(data.x[0, 0], first)
    assert data.x_val is None and len(data.split(0.25, 0)[1]) == 9  # the split any source gets


def test_rgb_and_rgba_images_have_three_channels_and_gray_ones_join_them(tmp_path):
    folder = make_png_set(tmp_path / "colour", per_class=2, mode="RGBA")
    data = load_image_folder(folder, dtype="float64")
    assert data.x.shape == (6, 3, 16, 16) and data.x.dtype == np.float64
    Image.new("L", (16, 16), 51).save(folder / "square" / "gray.png")
    Image.new("RGB", (16, 16), (255, 0, 0)).save(folder / "square" / "red.png")
    data = load_image_folder(folder)
    assert data.x.shape == (8, 3, 16, 16)
    np.testing.assert_allclose(data.x[-2][:, 0, 0], [0.2, 0.2, 0.2], rtol=1e-6)  # gray.png, repeated
    np.testing.assert_allclose(data.x[-1][:, 0, 0], [1.0, 0.0, 0.0])  # red.png, its own colour


def test_the_png_folder_trains_a_small_cnn_from_the_data_section(tmp_path):
    make_png_set(tmp_path / "shapes")
    config = parse_data_argument(f"image_folder:{tmp_path / 'shapes'}")
    assert config == {"source": "image_folder", "path": str(tmp_path / "shapes")}
    dataset = load_data({"source": "image_folder", "path": "shapes"}, base_dir=tmp_path)
    metrics = _train(small_cnn([1, 16, 16], 3), dataset)
    assert metrics["accuracy"] >= 0.9


def test_an_image_of_another_size_is_named(tmp_path):
    folder = make_png_set(tmp_path / "shapes", per_class=2)
    Image.new("L", (16, 17)).save(folder / "square" / "tall.png")
    with pytest.raises(DataError, match=r"tall.png: 16 x 17 pixels, but .*bars.0.png is 16 x 16: all images"):
        load_image_folder(folder)


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG whose header claims `width` x `height` pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [30_000, 5_000])  # past Pillow's own limit, and past ours only
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, side):
    folder = make_png_set(tmp_path / "shapes", per_class=1)
    (folder / "square" / "bomb.png").write_bytes(_png_header_only(side, side))
    with pytest.raises(DataError, match=r"bomb.png: .*an image may have at most 16,777,216"):
        load_image_folder(folder)


def test_a_folder_of_100_000_files_is_refused_while_listing(tmp_path):
    folder = make_png_set(tmp_path / "shapes", per_class=1)
    many = folder / "many"
    many.mkdir()
    for index in range(100_000):
        (many / f"{index}.png").touch()
    with pytest.raises(
        DataError, match="more than 70,000 PNG files; an image folder may hold at most 70,000"
    ):
        load_image_folder(folder)


def test_the_set_size_limit_and_file_checks(tmp_path, monkeypatch):
    folder = make_png_set(tmp_path / "shapes", per_class=2)
    monkeypatch.setattr(image_folder_module, "MAX_IMAGE_SET_BYTES", 1000)
    with pytest.raises(
        DataError, match=r"6 images of 1 x 16 x 16 need 6 KiB as float32; .* at most 1000 bytes"
    ):
        load_image_folder(folder)
    monkeypatch.undo()
    (folder / "square" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: not a readable PNG image"):
        load_image_folder(folder)
    (folder / "square" / "broken.png").unlink()
    (folder / "square" / "fifo.png").symlink_to("/dev/zero")
    with pytest.raises(DataError, match="fifo.png: not a regular file"):
        load_image_folder(folder)


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ({"only": 2}, "at least two classes; found sub-folders with PNG images: only"),
        ({"a": 2, "b": 0}, "at least two classes; found sub-folders with PNG images: a"),
        ({"a": 1, "b": 1, "c": 0}, "class folder(s) without PNG images: c"),
    ],
)
def test_classes_need_images(tmp_path, layout, words):
    for name, count in layout.items():
        (tmp_path / name).mkdir()
        for index in range(count):
            Image.new("L", (4, 4)).save(tmp_path / name / f"{index}.png")
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path)
    assert words in str(info.value)


def test_a_missing_folder_or_a_file(tmp_path):
    with pytest.raises(DataError, match="image folder not found"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="not a folder"):
        load_image_folder(tmp_path / "file.png")


def test_npz_images_channels_first_or_one_channel_uint8_scaled(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "gray.npz", x=gray, y=np.arange(10) % 2, x_val=gray[:3], y_val=np.array([0, 1, 0]))
    data = load_npz(tmp_path / "gray.npz")
    assert data.x.shape == (10, 1, 8, 8) and data.x_val.shape == (3, 1, 8, 8)
    np.testing.assert_allclose(data.x[:, 0], gray / 255, rtol=1e-6)
    colour = rng.integers(0, 256, (10, 3, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "colour.npz", x=colour, y=np.arange(10) % 2)
    np.testing.assert_allclose(load_npz(tmp_path / "colour.npz", "float64").x, colour / 255)
    floats = rng.normal(size=(10, 3, 8, 8))  # other numbers are kept as stored
    np.savez(tmp_path / "floats.npz", x=floats, y=np.arange(10) % 2)
    np.testing.assert_allclose(load_npz(tmp_path / "floats.npz", "float64").x, floats)


def test_npz_images_train_a_small_cnn(tmp_path):
    rng = np.random.default_rng(1)
    kinds = np.arange(48) % 3
    x = np.stack([_picture(SHAPES[k], 16, rng) for k in kinds])
    np.savez(tmp_path / "shapes.npz", x=x, y=kinds)
    dataset = load_data({"source": "npz", "path": "shapes.npz"}, base_dir=tmp_path)
    assert _train(small_cnn([1, 16, 16], 3), dataset)["accuracy"] >= 0.9


@pytest.mark.parametrize(("example", "shape"), [("mnist_cnn", (1, 28, 28)), ("mnist_mlp", (784,))])
def test_mnist_goes_into_an_image_input_as_images_and_into_a_flat_one_flat(example, shape):
    data = load_mnist(require_mnist())
    assert data.x.shape == (60000, 1, 28, 28) and data.x_val.shape == (10000, 1, 28, 28)
    network = Network(NetworkSpec.from_dict(json.loads(example_path(example).read_text())))
    assert fit_problems(network.spec, network.spec.infer_shapes(), network.training, data) == []
    assert network.model.prepare_inputs(data.x[:5])[0].shape == (5, *shape)
    assert network.predict(data.x_val[:5]).shape == (5, 10)
