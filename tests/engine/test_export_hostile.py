"""Exports of a network whose own text is hostile: its name, description, node ids and CSV column
names hold quotes, triple quotes, backslashes, line breaks, braces, non-ASCII text and Python
code. Every export parses, imports, runs and predicts what Network.predict does, and nothing the
file holds is ever executed (the payloads would create a marker file)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.cli import failures
from engine.cli.commands import run_cli
from engine.data import load_data
from engine.export import export_network
from engine.graph import NetworkSpec, Node

TOLERANCE = 1e-5


def payloads(marker: Path) -> list[str]:
    """Texts that would create `marker` if any reached the generated code as code."""
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        f'x"""\n{touch}\n"""',
        f"y'''\n{touch}\n'''",
        f'q"\n{touch}  # "',
        f"back\\slash\\\n{touch}\\",
        f"{{{touch}}} {{}} {{0}} ${{title}} $title %s",
        f"Grüße ✓ 名前 ﬁ\u2028{touch}\r\x00",
        f"__import__('os').system('touch {marker}')",
        f'x"""; import pathlib; pathlib.Path({str(marker)!r}).touch(); """',  # one line: parses
    ]


def hostile_ids(marker: Path) -> list[str]:
    """Node ids for the forced-id network: hostile text, and valid ids that clash after
    sanitising or with the names the generated code uses."""
    p = payloads(marker)
    return [p[0], p[1], "a-b", "a.b", p[2], "len", "None", p[4], p[5], p[6]]


def write_csv(path: Path, columns: list[str], rows: int = 120) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (rows, 3))
    y = (x.sum(axis=1) > 0).astype(int)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for features, target in zip(x, y, strict=True):
            writer.writerow([*(f"{v:.4f}" for v in features), target])


def build_spec(ids: list[str], marker: Path, data: dict) -> NetworkSpec:
    """in -> dense -> batch norm -> two activations -> Add -> Dropout -> sigmoid Dense, with the
    given ids (set directly, as a future importer might, without the file format's id check)."""
    layers = [
        ("Input", {"shape": [3]}),
        ("Dense", {"units": 6, "activation": "relu"}),
        ("Activation", {"activation": "tanh"}),
        ("Activation", {"activation": "elu", "alpha": 0.5}),
        ("BatchNormalization", {}),
        ("Dense", {"units": 6, "activation": "gelu"}),
        ("Add", {}),
        ("Dropout", {"rate": 0.25}),
        ("Reshape", {"target_shape": [2, 3]}),
        ("Flatten", {}),
    ]
    reference = NetworkSpec()
    for index, (kind, params) in enumerate(layers):
        reference.add_node(kind, params, node_id=f"n{index}")
    reference.add_node("Dense", {"units": 1, "activation": "sigmoid"}, node_id="n10")
    edges = [(0, 1), (1, 2), (1, 3), (2, 6), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10)]
    all_ids = [*ids, "out"]
    nodes = {
        all_ids[i]: Node(all_ids[i], node.type, node.params, node.pos)
        for i, node in enumerate(reference.nodes.values())
    }
    text = payloads(marker)
    return NetworkSpec(
        nodes=nodes,
        edges=[(all_ids[a], all_ids[b]) for a, b in edges],
        training={"loss": "binary_crossentropy", "epochs": 2, "batch_size": 16, "seed": 1},
        data=data,
        metadata={"name": "\n".join(text), "description": " ".join(reversed(text))},
    )


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "payload-ran"


def trained(tmp_path: Path, marker: Path, ids: list[str]) -> engine.Network:
    """The network of `ids`, trained 2 epochs on a CSV whose column names are hostile."""
    text = payloads(marker)
    columns = [text[0], text[3], text[4], text[6]]  # three features, the target last
    write_csv(tmp_path / "table.csv", columns)
    data = {"source": "csv", "path": "table.csv", "target": columns[-1], "features": columns[:-1]}
    network = engine.Network(build_spec(ids, marker, data))
    dataset = load_data(data, base_dir=tmp_path, dtype="float32")
    network.scaler = dataset.scaler
    network.fit(dataset.x, dataset.y)
    return network


def inputs_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(5).normal(0, 1.5, (40, 3)).astype(np.float32)
    path = tmp_path / "inputs.npy"
    np.save(path, x)
    return path, x


def run_python(code: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    assert result.returncode == 0, result.stderr


def check_pytorch_import(network: engine.Network, package: Path, tmp_path: Path) -> None:
    """Import the package in a fresh interpreter and compare its model with Network.predict."""
    inputs, x = inputs_file(tmp_path)
    run_python(
        "import sys, numpy as np, torch\n"
        f"sys.path.insert(0, {str(package.parent)!r})\n"
        f"import {package.name} as pkg\n"
        "model = pkg.load_model()\n"
        f"x = torch.from_numpy(np.load({str(inputs)!r}))\n"
        "with torch.no_grad():\n"
        f"    np.save({str(tmp_path / 'torch_out.npy')!r}, model(x).numpy())\n",
        tmp_path,
    )
    got = np.load(tmp_path / "torch_out.npy")
    assert np.max(np.abs(got - network.predict(x))) <= TOLERANCE


def check_pytorch(network: engine.Network, package: Path, tmp_path: Path, marker: Path) -> None:
    pytest.importorskip("torch")
    check_pytorch_import(network, package, tmp_path)
    # train.py reads the CSV by its hostile column names and trains one epoch
    result = subprocess.run(
        [sys.executable, "train.py", "--epochs", "1", "-o", str(tmp_path / "t.pt")],
        capture_output=True,
        text=True,
        cwd=package,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def check_python(network: engine.Network, script: Path, tmp_path: Path, marker: Path) -> None:
    inputs, x = inputs_file(tmp_path)
    out = tmp_path / "numpy_out.npy"
    result = subprocess.run(
        [sys.executable, str(script), str(inputs), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert np.max(np.abs(np.load(out) - network.predict(x))) <= TOLERANCE
    # the name reads back exactly as the docstring's first words
    run_python(
        f"import sys; sys.path.insert(0, {str(script.parent)!r}); import {script.stem} as m\n"
        f"assert m.__doc__.startswith({network.spec.metadata.get('name') or 'NetCanvas network'!r}), m.__doc__[:200]\n",
        tmp_path,
    )
    assert not marker.exists()


def check_onnx(network: engine.Network, path: Path, marker: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(5).normal(0, 1.5, (40, 3)).astype(np.float32)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    assert np.max(np.abs(got - network.predict(x))) <= TOLERANCE
    assert not marker.exists()


def test_a_hostile_network_file_exports_safely_from_the_command_line(tmp_path, marker, capsys, monkeypatch):
    monkeypatch.setattr(failures, "log_dir", lambda: tmp_path / "logs")
    ids = ["in", "a-b", "a.b", "c", "len", "None", "self", "F", "torch", "class"]
    network = trained(tmp_path, marker, ids)
    source = tmp_path / "hostile.ncv"
    engine.save(network, source)
    network = engine.load(source)  # the file's text, as the exporter gets it
    assert network.spec.metadata["name"] == "\n".join(payloads(marker))
    for fmt, out in (("pytorch", "hostile_pkg"), ("python", "hostile_numpy.py"), ("onnx", "hostile.onnx")):
        assert run_cli(["export", str(source), "--format", fmt, "-o", str(tmp_path / out)]) == 0
        assert "error" not in capsys.readouterr().err
    check_pytorch(network, tmp_path / "hostile_pkg", tmp_path, marker)
    check_python(network, tmp_path / "hostile_numpy.py", tmp_path, marker)
    check_onnx(network, tmp_path / "hostile.onnx", marker)


def test_hostile_node_ids_become_names_and_literals(tmp_path, marker):
    network = trained(tmp_path, marker, hostile_ids(marker))
    export_network(network, "pytorch", tmp_path / "ids_pkg", source_path=tmp_path / "x.ncv")
    export_network(network, "python", tmp_path / "ids_numpy.py")
    export_network(network, "onnx", tmp_path / "ids.onnx")
    check_pytorch(network, tmp_path / "ids_pkg", tmp_path, marker)
    check_python(network, tmp_path / "ids_numpy.py", tmp_path, marker)
    check_onnx(network, tmp_path / "ids.onnx", marker)
    settings = (tmp_path / "ids_pkg" / "netcanvas.json").read_text()
    assert json.loads(settings)["metadata"]["name"] == network.spec.metadata["name"]


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("index", range(8))
def test_each_payload_alone_never_runs(tmp_path, marker, index, field):
    """One payload at a time in one field (combined texts may stop at a syntax error before a
    lone one would run): the PyTorch package and the NumPy script import and predict, in one
    fresh interpreter."""
    pytest.importorskip("torch")
    spec = NetworkSpec(training={"loss": "mse"}, metadata={field: payloads(marker)[index]})
    spec.add_node("Input", {"shape": [3]}, node_id="in")
    spec.add_node("Dense", {"units": 2, "activation": "tanh"}, node_id="out")
    spec.connect("in", "out")
    network = engine.Network(spec)
    export_network(network, "pytorch", tmp_path / "pkg")
    export_network(network, "python", tmp_path / "script.py")
    inputs, x = inputs_file(tmp_path)
    run_python(
        "import sys, numpy as np, torch\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import pkg, script\n"
        f"x = np.load({str(inputs)!r})\n"
        "with torch.no_grad():\n"
        "    torch_out = pkg.load_model()(torch.from_numpy(x)).numpy()\n"
        f"np.savez({str(tmp_path / 'out.npz')!r}, torch=torch_out, numpy=script.predict(x))\n",
        tmp_path,
    )
    with np.load(tmp_path / "out.npz") as out:
        for name in ("torch", "numpy"):
            assert np.max(np.abs(out[name] - network.predict(x))) <= TOLERANCE, name
    assert not marker.exists()


def test_a_lone_surrogate_in_the_name_still_exports(tmp_path):
    """JSON can spell a lone surrogate ("\\ud800"), which UTF-8 cannot: exports escape it."""
    pytest.importorskip("onnx")
    spec = NetworkSpec(training={"loss": "mse"}, metadata={"name": "half \ud800", "description": "\udfff"})
    spec.add_node("Input", {"shape": [3]}, node_id="in")
    spec.add_node("Dense", {"units": 2}, node_id="out")
    spec.connect("in", "out")
    network = engine.Network(spec)
    for fmt, out in (("pytorch", "pkg"), ("python", "script.py"), ("onnx", "model.onnx")):
        export_network(network, fmt, tmp_path / out)
    assert "half \\ud800" in (tmp_path / "pkg" / "README.md").read_text()
    script = (tmp_path / "script.py").read_text()
    compile(script, "script.py", "exec")
    assert '"""half \\ud800: a NetCanvas network' in script
