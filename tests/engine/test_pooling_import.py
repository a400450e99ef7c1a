"""ONNX import of pooling and padding as PyTorch's exporters (TorchScript and dynamo, opsets 13
and 18) write them: MaxPool, AveragePool (pads that count, PyTorch's default, or not), Pad,
GlobalAveragePool / GlobalMaxPool with the Flatten after them, MaxPool over a signal; each
imported network matches onnxruntime within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from engine.export import import_onnx
from tests.engine.test_export_cases import TOLERANCE
from tests.engine.test_onnx_import_foreign import EXPORTERS, export, runtime

pytest.importorskip("onnx", reason="ONNX import needs the 'onnx' package")
pytest.importorskip("onnxruntime", reason="comparing with the original needs onnxruntime")
torch = pytest.importorskip("torch", reason="the models are written by PyTorch's ONNX exporters")
nn = torch.nn


def padded_pools():
    """(2, 8, 8) -> ZeroPad2d (1, 0, 2, 1) -> MaxPool 3/1 pad 1 ('same') -> AvgPool 3/1 pad 1
    counting its pads (ZeroPadding2D + 'valid') -> AvgPool 3/1 pad 1 not counting them ('same')
    -> MaxPool 2 -> global average -> Flatten -> Linear."""
    return nn.Sequential(
        nn.ZeroPad2d((1, 0, 2, 1)),
        nn.MaxPool2d(3, 1, padding=1),
        nn.AvgPool2d(3, 1, padding=1),
        nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 3),
    )


def global_max():
    return nn.Sequential(nn.AvgPool2d((2, 3), (2, 1)), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(2, 3))


def signal():
    return nn.Sequential(nn.MaxPool1d(3, 2), nn.Flatten(), nn.Linear(2 * 4, 3))


POOLS = [
    "ZeroPadding2D",
    "MaxPooling2D",
    "ZeroPadding2D",
    "AveragePooling2D",
    "AveragePooling2D",
    "MaxPooling2D",
]
# name -> (model, sample shape, the imported layer types after the Input by exporter: TorchScript
# writes AdaptiveMaxPool2d(1) as a MaxPool over the whole image, dynamo as ReduceMax)
MODELS = {
    "padded_pools": (padded_pools, (2, 8, 8), {"any": [*POOLS, "GlobalAveragePooling2D", "Dense"]}),
    "global_max": (
        global_max,
        (2, 6, 7),
        {
            "torchscript": ["AveragePooling2D", "MaxPooling2D", "Flatten", "Dense"],
            "dynamo": ["AveragePooling2D", "GlobalMaxPooling2D", "Dense"],
        },
    ),
    "signal": (signal, (2, 10), {"any": ["MaxPooling1D", "Flatten", "Dense"]}),
}


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("name", list(MODELS))
def test_pytorch_pooling_imports_and_matches_onnxruntime(name, exporter, opset, tmp_path):
    build, shape, types = MODELS[name]
    torch.manual_seed(0)
    model = build()
    path = tmp_path / f"{name}.onnx"
    export(model, torch.randn(2, *shape), path, exporter, opset)
    network = import_onnx(path)
    assert [n.type for n in network.spec.nodes.values()][1:] == types.get(exporter, types.get("any"))
    x = np.random.default_rng(0).normal(size=(5, *shape)).astype(np.float32)
    expected = runtime(path, x)[0]
    assert float(np.max(np.abs(network.predict(x) - expected))) <= TOLERANCE
