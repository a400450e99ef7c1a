"""ONNX import of image models as PyTorch's two exporters write them (TorchScript and dynamo, opsets
13 and 18): a LeNet-style nn.Sequential imports as Conv2D / pooling / BatchNormalization / Flatten /
Dense layers with readable ids and matches onnxruntime within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from engine.export import import_onnx
from tests.engine.test_export_cases import TOLERANCE
from tests.engine.test_onnx_import_foreign import EXPORTERS, export, runtime

onnx = pytest.importorskip("onnx", reason="ONNX import needs the 'onnx' package")
ort = pytest.importorskip("onnxruntime", reason="comparing with the original needs onnxruntime")
torch = pytest.importorskip("torch", reason="the models are written by PyTorch's ONNX exporters")
nn = torch.nn

OPSETS = [13, 18]


def randomize_norms(model) -> None:
    """Batch-norm statistics and affine parameters away from their defaults (1, 0), so the import
    must read each array from the right input."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                for tensor, low, high in (
                    (module.running_mean, -0.5, 0.5),
                    (module.running_var, 0.5, 2.0),
                    (module.weight, 0.5, 1.5),
                    (module.bias, -0.5, 0.5),
                ):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)


def lenet():
    """Conv2d + BatchNorm2d (the exporters fold this one into the Conv), ReLU, MaxPool2d,
    BatchNorm2d after pooling (kept as BatchNormalization), Conv2d, ReLU, AvgPool2d, Flatten and
    three Linear layers."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(6),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )
    randomize_norms(model)
    return model


LENET_IDS = {
    "x": "Input",
    "conv_1": "Conv2D",
    "max_pooling_1": "MaxPooling2D",
    "batch_normalization_1": "BatchNormalization",
    "conv_2": "Conv2D",
    "average_pooling_1": "AveragePooling2D",
    "flatten_1": "Flatten",
    "dense_1": "Dense",
    "dense_2": "Dense",
    "dense_3": "Dense",
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("exporter", EXPORTERS)
def test_lenet_from_pytorch_matches_onnxruntime(exporter, opset, tmp_path):
    path = tmp_path / f"lenet_{exporter}_{opset}.onnx"
    export(lenet(), torch.randn(2, 1, 28, 28), path, exporter, opset)
    network = import_onnx(path)
    nodes = network.spec.nodes
    assert {nid: node.type for nid, node in nodes.items()} == LENET_IDS
    assert [nodes[n].params["activation"] for n in ("conv_1", "conv_2", "dense_1", "dense_2", "dense_3")] == [
        "relu",
        "relu",
        "relu",
        "relu",
        "linear",
    ]
    x = np.random.default_rng(0).normal(size=(16, 1, 28, 28)).astype(np.float32)
    diff = float(np.max(np.abs(network.predict(x) - runtime(path, x)[0])))
    print(f"{exporter} opset {opset}: imported vs onnxruntime max abs diff {diff:.3g}")
    assert diff <= TOLERANCE


class _View(nn.Module):
    """x.view(x.size(0), -1): the TorchScript exporter computes the target from the tensor's Shape."""

    def forward(self, x):
        return x.view(x.size(0), -1)


@pytest.mark.parametrize("dynamic", [True, False], ids=["dynamic_batch", "fixed_batch"])
@pytest.mark.parametrize("exporter", EXPORTERS)
def test_flatten_written_as_a_reshape_imports_as_flatten(exporter, dynamic, tmp_path):
    """A view to (N, -1) is a Reshape with a target computed from Shape/Gather/Unsqueeze/Concat,
    or a constant [-1, k] / [batch, -1] / [batch, k] for a fixed batch: each reads as Flatten."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), _View(), nn.Linear(3 * 4 * 4, 5))
    path = tmp_path / "view.onnx"
    export(model, torch.randn(2, 2, 6, 6), path, exporter, 18, dynamic=dynamic)
    network = import_onnx(path)
    assert [node.type for node in network.spec.nodes.values()] == ["Input", "Conv2D", "Flatten", "Dense"]
    x = np.random.default_rng(1).normal(size=(2, 2, 6, 6)).astype(np.float32)
    assert float(np.max(np.abs(network.predict(x) - runtime(path, x)[0]))) <= TOLERANCE
