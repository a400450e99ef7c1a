"""ONNX import of MLPs as other tools write them: PyTorch's exporters (GELU as the dynamo exporter
writes it, Softplus with its threshold) and scikit-learn's MLPClassifier / MLPRegressor through
skl2onnx (a no-op Cast, the classifier's label and ZipMap outputs); each matches onnxruntime and
scikit-learn within 1e-5. The patterns are also checked on hand-written graphs, without torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.errors import NetworkFileError
from engine.export import import_onnx
from tests.engine.test_export_cases import TOLERANCE

onnx = pytest.importorskip("onnx", reason="ONNX import needs the 'onnx' package")
ort = pytest.importorskip("onnxruntime", reason="comparing with the original needs onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

EXPORTERS = ["torchscript", "dynamo"]


def export(model, sample, path, exporter: str, opset: int, dynamic: bool = True) -> None:
    """Write `model` as PyTorch's `exporter` does at `opset`, the batch axis dynamic or fixed."""
    torch = pytest.importorskip("torch", reason="the models are written by PyTorch's ONNX exporters")
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="PyTorch's dynamo exporter needs 'onnxscript'")
        shapes = {"dynamic_shapes": ({0: torch.export.Dim("batch")},)} if dynamic else {}
    else:
        shapes = {"dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}} if dynamic else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (sample,),
            str(path),
            input_names=["x"],
            output_names=["y"],
            opset_version=opset,
            dynamo=exporter == "dynamo",
            **shapes,
        )


def runtime(path, x: np.ndarray) -> list:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def layers(network) -> list[tuple[str, str, str | None]]:
    return [(nid, n.type, n.params.get("activation")) for nid, n in network.spec.nodes.items()]


# ------------------------------------------------------------------ PyTorch's exporters
@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("activation", ["gelu", "softplus"])
def test_pytorch_mlp_activation_folds_into_dense(activation, exporter, tmp_path):
    """TorchScript writes GELU as Div, Erf, Add, Mul(x, .), Mul(., 0.5) and Softplus as the
    operator; dynamo writes Mul(0.5, .) before Mul(x, .), and Where(x > 20, x, Softplus(x))."""
    torch = pytest.importorskip("torch", reason="the models are written by PyTorch's ONNX exporters")
    torch.manual_seed(0)
    module = torch.nn.GELU() if activation == "gelu" else torch.nn.Softplus()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), module, torch.nn.Linear(8, 3))
    path = tmp_path / f"{activation}.onnx"
    export(model, torch.randn(2, 4), path, exporter, 18)
    network = import_onnx(path)
    assert layers(network) == [
        ("x", "Input", None),
        ("dense_1", "Dense", activation),
        ("dense_2", "Dense", "linear"),
    ]
    x = np.random.default_rng(0).normal(scale=4, size=(64, 4)).astype(np.float32)
    diff = float(np.max(np.abs(network.predict(x) - runtime(path, x)[0])))
    print(f"{activation} ({exporter}): imported vs onnxruntime max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


def test_modules_exported_as_functions_are_read_inlined(tmp_path):
    """TorchScript's export_modules_as_functions writes each nn.Linear as a local function."""
    torch = pytest.importorskip("torch", reason="the models are written by PyTorch's ONNX exporters")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    path = tmp_path / "functions.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(2, 4),),
            str(path),
            input_names=["x"],
            output_names=["y"],
            opset_version=18,
            dynamo=False,
            export_modules_as_functions={torch.nn.Linear},
        )
    assert onnx.load(str(path)).functions
    network = import_onnx(path)
    assert layers(network) == [
        ("x", "Input", None),
        ("dense_1", "Dense", "relu"),
        ("dense_2", "Dense", "linear"),
    ]
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    assert float(np.max(np.abs(network.predict(x) - runtime(path, x)[0]))) <= TOLERANCE


# ------------------------------------------------------------------------- scikit-learn
def _sklearn_onnx(model, x: np.ndarray, path) -> None:
    pytest.importorskip("skl2onnx", reason="scikit-learn models are written by 'skl2onnx'")
    from skl2onnx import to_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx.save(to_onnx(model, x[:1]), str(path))


def _fit(model, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged: the weights are what matters here
        return model.fit(x, y)


@pytest.mark.parametrize(
    ("classes", "hidden", "activation", "expected"),
    [
        (
            3,
            (8,),
            "tanh",
            [("X", "Input", None), ("dense_1", "Dense", "tanh"), ("dense_2", "Dense", "softmax")],
        ),
        (
            2,
            (8, 5),
            "relu",
            [
                ("X", "Input", None),
                ("dense_1", "Dense", "relu"),
                ("dense_2", "Dense", "relu"),
                ("dense_3", "Dense", "softmax"),  # sigmoid + [1 - p, p] as a 2-unit softmax
            ],
        ),
    ],
    ids=["three_classes", "binary"],
)
def test_sklearn_classifier_imports_as_a_softmax_network(classes, hidden, activation, expected, tmp_path):
    neural = pytest.importorskip("sklearn.neural_network", reason="needs scikit-learn")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)).astype(np.float32)
    model = _fit(
        neural.MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=60, random_state=0),
        x,
        rng.integers(0, classes, 80),
    )
    path = tmp_path / "classifier.onnx"
    _sklearn_onnx(model, x, path)
    network = import_onnx(path)
    assert layers(network) == expected
    probabilities = network.predict(x)
    labels, maps = runtime(path, x)
    from_runtime = np.array([[row[c] for c in model.classes_] for row in maps])
    diffs = [float(np.max(np.abs(probabilities - p))) for p in (from_runtime, model.predict_proba(x))]
    print(f"MLPClassifier {classes} classes: vs onnxruntime {diffs[0]:.3g}, vs predict_proba {diffs[1]:.3g}")
    assert max(diffs) <= TOLERANCE
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], labels)
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], model.predict(x))


@pytest.mark.parametrize(("activation", "hidden"), [("logistic", "sigmoid"), ("identity", "linear")])
def test_sklearn_regressor_imports_with_its_cast_passed_through(activation, hidden, tmp_path):
    """Cast of the input to float, MatMul + Add, the hidden activation (nothing for 'identity'),
    and a Reshape of the (N, 1) output to (-1, 1) that changes nothing."""
    neural = pytest.importorskip("sklearn.neural_network", reason="needs scikit-learn")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)).astype(np.float32)
    model = neural.MLPRegressor(hidden_layer_sizes=(8,), activation=activation, max_iter=60, random_state=0)
    model = _fit(model, x, rng.normal(size=80))
    path = tmp_path / "regressor.onnx"
    _sklearn_onnx(model, x, path)
    network = import_onnx(path)
    assert layers(network) == [
        ("X", "Input", None),
        ("dense_1", "Dense", hidden),
        ("dense_2", "Dense", "linear"),
    ]
    predicted = network.predict(x)
    diffs = [
        float(np.max(np.abs(predicted - runtime(path, x)[0]))),
        float(np.max(np.abs(predicted[:, 0] - model.predict(x)))),
    ]
    print(f"MLPRegressor ({activation}): vs onnxruntime {diffs[0]:.3g}, vs predict {diffs[1]:.3g}")
    assert max(diffs) <= TOLERANCE


# ------------------------------------------------------------- hand-written graphs (no torch)
def _save(path, nodes, initializers, inputs=(("x", [4]),), output=("y", [3])) -> None:
    def info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])

    graph = helper.make_graph(
        nodes,
        "foreign",
        [info(name, shape) for name, shape in inputs],
        [info(*output)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 18)]), str(path))


def _dense(rng, n_in, n_out) -> dict[str, np.ndarray]:
    return {
        "W": rng.normal(size=(n_in, n_out)).astype(np.float32),
        "b": rng.normal(size=n_out).astype(np.float32),
    }


def _scalars(**values: float) -> dict[str, np.ndarray]:
    return {k: np.array(v, np.float32) for k, v in values.items()}


def test_gelu_with_its_products_in_dynamo_order(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"]),
        helper.make_node("Div", ["h", "root2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["one", "e"], ["a"]),  # the constant first, too
        helper.make_node("Mul", ["half", "a"], ["m"]),
        helper.make_node("Mul", ["h", "m"], ["y"]),
    ]
    path = tmp_path / "gelu.onnx"
    _save(path, nodes, {**_dense(rng, 4, 3), **_scalars(root2=np.sqrt(2), one=1, half=0.5)})
    network = import_onnx(path)
    assert layers(network) == [("x", "Input", None), ("dense_1", "Dense", "gelu")]
    x = rng.normal(scale=3, size=(32, 4)).astype(np.float32)
    assert float(np.max(np.abs(network.predict(x) - runtime(path, x)[0]))) <= TOLERANCE


def _softplus_nodes(threshold_first: bool) -> list:
    soft = helper.make_node("Softplus", ["h"], ["s"])
    test = helper.make_node("Greater", ["h", "t"], ["c"])
    where = helper.make_node("Where", ["c", "h", "s"], ["y"])
    return [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"]),
        *((test, soft) if threshold_first else (soft, test)),
        where,
    ]


@pytest.mark.parametrize("threshold_first", [False, True])
def test_softplus_with_a_threshold(threshold_first, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "softplus.onnx"
    _save(path, _softplus_nodes(threshold_first), {**_dense(rng, 4, 3), **_scalars(t=20)})
    network = import_onnx(path)
    assert layers(network) == [("x", "Input", None), ("dense_1", "Dense", "softplus")]
    x = rng.normal(scale=10, size=(64, 4)).astype(np.float32)
    assert float(np.max(np.abs(network.predict(x) - runtime(path, x)[0]))) <= TOLERANCE


def test_softplus_threshold_too_low_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "low.onnx"
    _save(path, _softplus_nodes(False), {**_dense(rng, 4, 3), **_scalars(t=5)})
    with pytest.raises(NetworkFileError, match=r"low\.onnx: Softplus node .* threshold of 5\.0"):
        import_onnx(path)


def test_computed_reshape_casts_and_identities(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat([., -1]) as the Reshape's target reads as Flatten; a
    float Cast and an Identity change nothing; an Identity of an initializer is that constant."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Cast", ["x"], ["xc"], to=TensorProto.FLOAT),
        helper.make_node("Shape", ["xc"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["xc", "target"], ["flat"]),
        helper.make_node("Identity", ["flat"], ["same"]),
        helper.make_node("Identity", ["W0"], ["W"]),
        helper.make_node("Gemm", ["same", "W", "b"], ["y"]),
    ]
    constants = {
        "zero": np.array(0, np.int64),
        "axes": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
        "W0": rng.normal(size=(12, 3)).astype(np.float32),
        "b": rng.normal(size=3).astype(np.float32),
    }
    path = tmp_path / "computed.onnx"
    _save(path, nodes, constants, inputs=(("x", [3, 2, 2]),))
    network = import_onnx(path)
    assert layers(network) == [
        ("x", "Input", None),
        ("flatten_1", "Flatten", None),
        ("dense_1", "Dense", "linear"),
    ]
    x = rng.normal(size=(5, 3, 2, 2)).astype(np.float32)
    assert float(np.max(np.abs(network.predict(x) - runtime(path, x)[0]))) <= TOLERANCE


def test_reshape_across_the_batch_axis_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("Gemm", ["r", "W", "b"], ["y"]),
    ]
    constants = {"target": np.array([-1, 2], np.int64), **_dense(rng, 2, 3)}
    path = tmp_path / "batch.onnx"
    _save(path, nodes, constants)
    with pytest.raises(
        NetworkFileError, match=r"Reshape node 'r' reshapes samples of shape \[4\] to \[-1, 2\]"
    ):
        import_onnx(path)
