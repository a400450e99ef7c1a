"""What the ONNX import works out before and around reading layers: the tensor that is the
network's output and the nodes leading to it, constants (Constant operators, and operators
computed from constants and tensor shapes, as exporters write for a Reshape's target), the
per-sample shape a Reshape target means, and readable node ids.

Shapes computed here hold `BATCH` where the batch size stands (it is unknown when importing).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from engine.errors import NetworkFileError

BATCH = 2**62  # the batch size in a shape read by a Shape operator
FLOAT_TYPES = (1, 10, 11, 16)  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


def network_output(graph: Any, file: str) -> str:
    """The tensor the network computes: the graph's one output, or, for a classifier writing
    labels and probabilities (scikit-learn's via skl2onnx), its probabilities: a ZipMap's
    input stands for the map of probabilities, and an output of integer labels is left out."""
    writer = {name: node for node in graph.node for name in node.output}
    tensors, labels = [], []
    for value in graph.output:
        node = writer.get(value.name)
        if node is not None and node.op_type == "ZipMap":
            tensors.append(node.input[0])
        elif value.type.HasField("tensor_type") and value.type.tensor_type.elem_type in FLOAT_TYPES:
            tensors.append(value.name)
        else:
            labels.append(value.name)
    tensors = list(dict.fromkeys(tensors))
    if len(tensors) != 1:
        names = ", ".join(f"'{v.name}'" for v in graph.output)
        raise NetworkFileError(
            f"{file}: NetCanvas networks have one output of numbers, this model has "
            f"{len(tensors)} among its outputs {names}"
        )
    return tensors[0]


def needed_nodes(graph: Any, output: str) -> list[Any]:
    """The nodes `output` depends on, in graph order (the rest, e.g. a classifier's label
    outputs, is not read)."""
    writer = {name: node for node in graph.node for name in node.output}
    needed: set[int] = set()
    stack = [output]
    while stack:
        node = writer.get(stack.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            stack.extend(node.input)
    return [node for node in graph.node if id(node) in needed]


def constant_value(node: Any) -> np.ndarray | None:
    """The value of a Constant operator (any of its attribute forms), None if it has none."""
    from onnx import AttributeProto, helper, numpy_helper

    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if a.type == AttributeProto.TENSOR:
            return numpy_helper.to_array(value)
        if a.type in (AttributeProto.FLOAT, AttributeProto.FLOATS):
            return np.asarray(value, dtype=np.float32)
        if a.type in (AttributeProto.INT, AttributeProto.INTS):
            return np.asarray(value, dtype=np.int64)
    return None


def fold(node: Any, values: dict[str, np.ndarray], opset: int) -> list[np.ndarray] | None:
    """The outputs of `node` computed from its constant inputs `values` (onnx's reference
    implementation, at the model's `opset`), None when it cannot be computed."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = helper.make_graph(
        [node],
        "fold",
        [],
        [helper.make_empty_tensor_value_info(name) for name in node.output],
        [numpy_helper.from_array(np.asarray(v), name) for name, v in values.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)])
    try:
        return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, {})]
    except Exception:  # noqa: BLE001 - the reference ops raise many kinds; the walk then explains
        return None


def shape_value(node: Any, shape: tuple[int, ...], attr: Any) -> np.ndarray:
    """What a Shape operator gives for a tensor of per-sample `shape`: (BATCH, *shape)[start:end]."""
    full = np.array([BATCH, *shape], dtype=np.int64)
    start, end = int(attr(node, "start", 0)), attr(node, "end", None)
    return full[start:] if end is None else full[start : int(end)]


def sample_shape(
    target: np.ndarray, shape: tuple[int, ...], batch: int | None, allowzero: bool
) -> tuple[int, ...] | None:
    """The per-sample shape a Reshape to `target` gives a tensor of per-sample `shape`, when it
    keeps the batch axis; None otherwise. The first entry keeps the batch when it is BATCH (read
    from the tensor's Shape), the model's fixed batch size `batch`, -1 with the rest explicit,
    or 0 (copy) without `allowzero`; one other entry may be -1 (inferred)."""
    dims = [int(d) for d in np.asarray(target).reshape(-1)]
    if not dims:
        return None
    first, rest = dims[0], dims[1:]
    keeps = first == BATCH or (batch is not None and first == batch) or (first == 0 and not allowzero)
    if not (keeps or (first == -1 and -1 not in rest)):
        return None
    if not allowzero:
        rest = [shape[k] if d == 0 and k < len(shape) else d for k, d in enumerate(rest)]
    size = math.prod(shape)
    if rest.count(-1) == 1:
        known = math.prod(d for d in rest if d != -1)
        if known <= 0 or size % known:
            return None
        rest[rest.index(-1)] = size // known
    if any(d <= 0 for d in rest) or math.prod(rest) != size:
        return None
    return tuple(rest)


def batch_text(dims: np.ndarray) -> str:
    """A computed shape for a message, its batch entries written N."""
    return (
        "[" + ", ".join("N" if int(d) == BATCH else str(int(d)) for d in np.asarray(dims).reshape(-1)) + "]"
    )


def node_ids(names: list[str]) -> list[str]:
    """Valid, unique canvas ids from ONNX tensor names ('onnx::Gemm_5' -> 'onnx__Gemm_5')."""
    used: set[str] = set()
    return [_unique(_valid(name), used) for name in names]


def readable_ids(kinds: list[tuple[str, str]]) -> list[str]:
    """Canvas ids for a foreign model's layers, given (layer type, name) pairs: an Input keeps
    its ONNX name (made valid), an Activation is named by its activation and every other layer
    by its type (Dense -> dense, Conv2D -> conv, MaxPooling2D -> max_pooling), numbered from 1
    per name: input, conv_1, relu_1, dense_1, dense_2."""
    used: set[str] = set()
    counts: dict[str, int] = {}
    ids = []
    for layer_type, name in kinds:
        if layer_type == "Input":
            ids.append(_unique(_valid(name), used))
            continue
        base = name if layer_type == "Activation" else _snake(layer_type)
        counts[base] = counts.get(base, 0) + 1
        candidate = f"{base}_{counts[base]}"
        while candidate in used:
            counts[base] += 1
            candidate = f"{base}_{counts[base]}"
        used.add(candidate)
        ids.append(candidate)
    return ids


def _snake(type_name: str) -> str:
    """'MaxPooling2D' -> 'max_pooling', 'Conv1D' -> 'conv1d', 'BatchNormalization' ->
    'batch_normalization' (the 2-D suffix dropped: images are the common case)."""
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type_name).lower()
    return re.sub(r"_?2d$", "", snake) or snake


def _valid(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60] or "node"
    return base if re.match(r"[A-Za-z_]", base) else f"n_{base}"[:60]


def _unique(base: str, used: set[str]) -> str:
    candidate, number = base, 2
    while candidate in used:
        candidate, number = f"{base}_{number}", number + 1
    used.add(candidate)
    return candidate
