"""Network files: the issue's JSON loads, save/load round trips, atomic save, precise errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.errors import NetworkFileError

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"

ISSUE_JSON = {
    "format": "netcanvas",
    "format_version": 1,
    "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [3]}, "pos": [0, 0]},
        {"id": "h", "type": "Dense", "params": {"units": 5, "activation": "relu"}, "pos": [200, 0]},
        {"id": "out", "type": "Dense", "params": {"units": 1, "activation": "sigmoid"}, "pos": [400, 0]},
    ],
    "edges": [["in", "h"], ["h", "out"]],
    "training": {
        "loss": "binary_crossentropy",
        "optimizer": {"type": "adam", "learning_rate": 0.001},
        "batch_size": 32,
        "epochs": 20,
        "seed": 0,
        "dtype": "float32",
    },
    "data": {"source": "xor", "n": 500, "noise": 0.1, "val_split": 0.2, "seed": 0},
}


def write_json(tmp_path: Path, doc, name="net.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_the_issue_example_loads_and_has_26_parameters(tmp_path):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    assert network.count_params() == 26
    assert "Total params: 26" in network.summary()


def test_save_load_predict_identical(tmp_path):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    network.fit(x, y, epochs=2, batch_size=8)
    before = network.predict(x)
    engine.save(network, tmp_path / "trained.ncv")
    again = engine.load(tmp_path / "trained.ncv")
    assert np.array_equal(again.predict(x), before)
    assert again.history.epochs == network.history.epochs
    assert again.history.batch_losses == network.history.batch_losses
    # The optimizer state came back too: one more epoch gives the same weights in both.
    network.fit(x, y, epochs=1, batch_size=8)
    again.fit(x, y, epochs=1, batch_size=8)
    for a, b in zip(network.get_weights(), again.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_json_save_round_trips_settings(tmp_path):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    engine.save(network, tmp_path / "copy.json")
    doc = json.loads((tmp_path / "copy.json").read_text())
    assert doc["training"]["optimizer"] == {
        "type": "adam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-07,
        "amsgrad": False,
    }
    assert engine.load(tmp_path / "copy.json").spec.to_dict()["nodes"] == network.spec.to_dict()["nodes"]


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    target = tmp_path / "model.ncv"
    engine.save(network, target)
    original = target.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(engine.io, "_npz_bytes", explode)
    with pytest.raises(OSError):
        engine.save(network, target)
    assert target.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not a NetCanvas network"),
        (lambda d: d.update(format_version=99), "newer NetCanvas .format version 99"),
        (lambda d: d["nodes"][1].update(type="Dence"), "unknown layer 'Dence'; valid choices"),
        (lambda d: d["nodes"][1]["params"].update(units=-1), "'units' must be at least 1"),
        (lambda d: d["nodes"][1].pop("type"), "nodes\\[1\\] needs an 'id' and a 'type'"),
        (lambda d: d["training"].update(loss="msee"), "unknown loss 'msee'"),
        (lambda d: d["training"].update(batch_size="big"), "'batch_size' expects a whole number"),
        (lambda d: d["edges"].append(["out", "in"]), "is an input: nothing can feed it"),
        (lambda d: d.pop("nodes"), '"nodes" must be a list'),
    ],
)
def test_invalid_documents_give_one_precise_error(tmp_path, mutate, message):
    doc = json.loads(json.dumps(ISSUE_JSON))
    mutate(doc)
    with pytest.raises(NetworkFileError, match=message) as info:
        engine.load(write_json(tmp_path, doc))
    assert str(info.value).startswith("net.json: ")


def test_broken_json_names_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "netcanvas",\n  "nodes": [,]}')
    with pytest.raises(NetworkFileError, match="invalid JSON at line 2, column 13"):
        engine.load(path)


def test_empty_missing_and_non_zip_ncv(tmp_path):
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(NetworkFileError, match="empty"):
        engine.load(tmp_path / "empty.json")
    with pytest.raises(NetworkFileError, match="no such file"):
        engine.load(tmp_path / "nothing.ncv")
    (tmp_path / "fake.ncv").write_text("hello")
    with pytest.raises(NetworkFileError, match="not a zip archive"):
        engine.load(tmp_path / "fake.ncv")


def test_truncated_and_corrupted_ncv(tmp_path):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    engine.save(network, tmp_path / "good.ncv")
    payload = (tmp_path / "good.ncv").read_bytes()
    (tmp_path / "cut.ncv").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(NetworkFileError, match="cut.ncv: the file is damaged or truncated"):
        engine.load(tmp_path / "cut.ncv")
    flipped = bytearray(payload)
    middle = payload.index(b"weights.npz") + 60
    flipped[middle : middle + 40] = b"\x00" * 40
    (tmp_path / "flipped.ncv").write_bytes(bytes(flipped))
    with pytest.raises(NetworkFileError):
        engine.load(tmp_path / "flipped.ncv")


def test_weights_with_wrong_shape_or_pickle_are_refused(tmp_path):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    engine.save(network, tmp_path / "good.ncv")

    def rewrite(name: str, arrays: dict, allow_pickle: bool = False) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(tmp_path / "good.ncv") as src, zipfile.ZipFile(path, "w") as dst:
            for item in src.namelist():
                if item != "weights.npz":
                    dst.writestr(item, src.read(item))
            import io

            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            dst.writestr("weights.npz", buffer.getvalue())
        return path

    weights = network.model.named_weights()
    bad_shape = {**weights, "h/kernel": np.zeros((4, 5), np.float32)}
    with pytest.raises(
        NetworkFileError, match="weight 'h/kernel' has shape \\(4, 5\\), the network needs \\(3, 5\\)"
    ):
        engine.load(rewrite("shape.ncv", bad_shape))
    missing = {k: v for k, v in weights.items() if k != "out/bias"}
    with pytest.raises(NetworkFileError, match="missing out/bias"):
        engine.load(rewrite("missing.ncv", missing))
    pickled = {**weights, "h/kernel": np.array([{"evil": 1}], dtype=object)}
    with pytest.raises(NetworkFileError, match="without unpickling"):
        engine.load(rewrite("pickle.ncv", pickled))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_loads_and_is_valid(path):
    network = engine.load(path)
    assert network.spec.validate() == []
    assert network.spec.metadata.get("description")
