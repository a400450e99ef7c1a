"""NumPy export: the generated script (NumPy only) predicts what Network.predict does."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.export import export_network
from engine.export.numpy_export import export_numpy
from tests.engine.test_export_cases import (
    CASES,
    TOLERANCE,
    load_module,
    network_for,
    predict,
    random_inputs,
)


@pytest.mark.parametrize("case", CASES)
def test_script_matches_predict(case, tmp_path):
    network = network_for(case)
    path = export_network(network, "python", tmp_path / "net.py")[0]
    module = load_module(path, f"numpy_export_{case.replace('.', '_')}")
    inputs = random_inputs(network, 64)
    got = module.predict(inputs)
    expected = predict(network, inputs)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    diff = float(np.max(np.abs(got - expected)))
    print(f"{case}: max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


def test_script_runs_from_the_command_line_on_csv(tmp_path):
    network = network_for("tiny_3_5_1.json")
    script = export_network(network, "python", tmp_path / "tiny.py")[0]
    x = random_inputs(network, 5)["in"]
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.csv"), "-o", str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert result.stderr == ""
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), predict(network, {"in": x}), atol=TOLERANCE)


def test_large_weights_go_to_a_file_beside_the_script(tmp_path):
    network = network_for("dag1")
    written = export_numpy(network, tmp_path / "big.py", embed_limit=10)
    assert [p.name for p in written] == ["big.py", "big_weights.npz"]
    module = load_module(written[0], "numpy_export_big")
    inputs = random_inputs(network, 8)
    np.testing.assert_allclose(module.predict(inputs), predict(network, inputs), atol=TOLERANCE)
