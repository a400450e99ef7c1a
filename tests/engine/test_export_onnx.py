"""ONNX export: onnxruntime gives Network.predict's outputs (float32, 1e-5) for every example and
for random DAGs with every layer type and activation; the model is valid and well formed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.export import export_network
from tests.engine.test_export_cases import CASES, TOLERANCE, network_for, predict, random_inputs

onnx = pytest.importorskip("onnx", reason="the ONNX export needs the 'onnx' package")
ort = pytest.importorskip("onnxruntime", reason="running the exported model needs onnxruntime")


@pytest.mark.parametrize("case", CASES)
def test_onnxruntime_matches_predict(case, tmp_path):
    network = network_for(case)
    path = export_network(network, "onnx", tmp_path / "model.onnx")[0]
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = random_inputs(network, 64)
    got = session.run(None, inputs)[0]
    expected = predict(network, inputs)
    assert got.shape == expected.shape
    diff = float(np.max(np.abs(got - expected)))
    print(f"{case}: max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


def test_named_inputs_outputs_and_dynamic_batch(tmp_path):
    network = network_for("dag0")
    proto = onnx.load(str(export_network(network, "onnx", tmp_path / "m.onnx")[0]))
    graph = proto.graph
    assert [i.name for i in graph.input] == ["x", "image-in"]
    assert [o.name for o in graph.output] == ["class"]
    for value in [*graph.input, *graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {n.name for n in graph.node} >= {"d1", "bn1", "act_gelu", "all_acts", "sum", "class"}
    assert "d1/kernel" in {t.name for t in graph.initializer}
    props = {p.key for p in proto.metadata_props}
    assert {"netcanvas.training", "netcanvas.positions"} <= props
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for count in (1, 7):  # any batch size
        inputs = random_inputs(network, count, seed=count)
        assert session.run(None, inputs)[0].shape == (count, 3)


def test_activations_map_to_the_documented_operators(tmp_path):
    proto = onnx.load(str(export_network(network_for("dag1"), "onnx", tmp_path / "m.onnx")[0]))
    ops = {n.name: n.op_type for n in proto.graph.node}
    assert ops["act_hard_sigmoid"] == "HardSigmoid"
    assert ops["act_softmax"] == "Softmax"
    assert ops["act_selu"] == "Selu"
    assert ops["act_gelu/gelu_erf"] == "Erf"
    assert ops["sum"] == "Sum" and ops["stack"] == "Concat" and ops["drop"] == "Dropout"


def test_cli_export_and_its_one_line_errors(tmp_path, capsys):
    from engine.cli.commands import run_cli
    from tests.engine.test_export_cases import EXAMPLES_DIR

    out = tmp_path / "xor.onnx"
    assert run_cli(["export", str(EXAMPLES_DIR / "xor.json"), "--format", "onnx", "-o", str(out)]) == 0
    assert f"exported onnx: {out}" in capsys.readouterr().out
    assert run_cli(["export", str(out), "--format", "netcanvas", "-o", str(tmp_path / "back.ncv")]) == 0
    assert (tmp_path / "back.ncv").is_file()
    # xor was never trained, so the imported ONNX model holds its seed's initial weights: said once
    assert capsys.readouterr().err.count("never been trained") == 1
    assert run_cli(["export", str(tmp_path / "none.json"), "--format", "pytorch", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: none.json: no such file") and err.count("\n") == 1
