"""NumPy export: one readable Python file that predicts with the trained weights, needing only NumPy.

The script mirrors `Network.predict` operation by operation (same activation formulas, same
inference-mode BatchNormalization, Dropout as identity, the same standardization), in the
network's dtype. Weights are embedded as a base64 `.npz` at the end of the file so it travels
alone; above `EMBED_LIMIT` bytes they go to a `<script>_weights.npz` next to it instead.
"""

from __future__ import annotations

import base64
import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from engine.export import check_export, docstring_text, node_mapping, python_names
from engine.export.templates import numpy_script as T
from engine.io import _write_atomic  # the same atomic save as network files
from engine.network import Network
from engine.registry import ACTIVATIONS, LAYERS

EMBED_LIMIT = 4 * 1024 * 1024  # bytes of compressed weights kept inside the script


def activation_helpers() -> dict[str, str]:
    """The helper function each activation's script form calls, by function name, in the
    registry's order (each activation's `numpy_name` and `numpy_source`)."""
    return {cls.numpy_name: cls.numpy_source for _, cls in ACTIVATIONS.items() if cls.numpy_name}


def layer_helpers() -> dict[str, str]:
    """The helper functions layer types ask the script for, by name (their `numpy_helpers`)."""
    return {name: source for _, cls in LAYERS.items() for name, source in cls.numpy_helpers.items()}


class _ScriptNode:
    """What a layer's `to_numpy` writes through for one node (the `NumpyScript` of
    engine/layers/export_forms.py)."""

    def __init__(self, nid: str, used: set[str]):
        self.nid = nid
        self.node_literal = repr(nid)
        self.used = used
        self.comment: str | None = None

    def weight(self, key: str) -> str:
        return f"W[{self.nid + '/' + key!r}]"

    def activation(self, activation: Any, expr: str) -> str:
        self.used.add(activation.numpy_name)
        return activation.numpy_expression(expr)

    def use(self, helper: str) -> None:
        self.used.add(helper)

    def note(self, text: str) -> None:
        self.comment = text


def forward_lines(network: Network, names: dict[str, str]) -> tuple[list[str], set[str]]:
    """The body of `forward` (one statement per canvas node, each from its layer's `to_numpy`)
    and the helper functions it uses."""
    model = network.model
    used: set[str] = set()
    lines: list[str] = []
    for nid in model.order:
        if nid in model.input_ids:
            continue
        node = _ScriptNode(nid, used)
        expr = model.layers[nid].to_numpy(node, [names[s] for s in model.sources[nid]])
        # Node ids reach the code only as names[nid] or repr(): a comment is no place for raw text.
        if node.comment is not None:
            comment = f"  # {node.comment}"
        else:
            comment = f"  # {network.spec.nodes[nid].type} {nid!r}" if names[nid] != nid else ""
        lines.append(f"{names[nid]} = {expr}{comment}")
    lines.append(f"return {names[model.output_id]}")
    return lines, used


def weight_arrays(network: Network) -> dict[str, np.ndarray]:
    """Every array the script needs, keyed "<node id>/<key>" (+ the standardization)."""
    arrays = dict(network.model.named_weights())
    if network.scaler is not None:
        arrays["preprocessing/mean"] = network.scaler.mean
        arrays["preprocessing/std"] = network.scaler.std
    return arrays


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def render_script(network: Network, module: str, weights_file: str | None, blob: bytes | None) -> str:
    """The text of script `module`.py; weights from `blob` (embedded) or `weights_file` beside it."""
    model = network.model
    activations = activation_helpers()
    layers = layer_helpers()
    names = python_names(model.order, reserved=(*T.RESERVED, *activations, *layers))
    body, used = forward_lines(network, names)
    helpers = [source for name, source in {**activations, **layers}.items() if name in used]
    inputs = ", ".join(names[i] for i in model.input_ids)
    mapping = node_mapping(network, names)
    meta = network.spec.metadata or {}
    if blob is not None:
        encoded = base64.b64encode(blob).decode("ascii")
        chunks = "\n".join(f'    "{line}"' for line in textwrap.wrap(encoded, 96))
        weights_code = T.EMBEDDED_WEIGHTS.substitute(chunks=chunks)
    else:
        weights_code = T.FILE_WEIGHTS.substitute(file=repr(weights_file))
    description = str(meta.get("description") or "").strip()
    return T.SCRIPT.substitute(
        title=docstring_text(meta.get("name") or "NetCanvas network"),
        description=f"\n{docstring_text(textwrap.fill(description, 96))}\n" if description else "",
        module=docstring_text(module),
        mapping=mapping,
        dtype=model.dtype.name,
        input_shapes=", ".join(f"{i!r}: {tuple(model.shapes[i])!r}" for i in model.input_ids),
        output_shape=tuple(model.output_shape),
        standardize=network.scaler is not None,
        helpers="\n\n\n".join(helpers),
        imports="\n".join(
            f"import {m}"
            for m in sorted(["argparse", "math", "sys", *(["base64", "io"] if blob is not None else [])])
        ),
        inputs=inputs,
        forward_body=textwrap.indent("\n".join(body), "    "),
        weights_code=weights_code,
    )


def export_numpy(network: Network, path: str | Path, embed_limit: int = EMBED_LIMIT) -> list[Path]:
    """Write the NumPy inference script to `path` (and its weights file when too large to embed)."""
    check_export(network, "python")
    path = Path(path)
    blob = _npz_bytes(weight_arrays(network))
    written = [path]
    if len(blob) <= embed_limit:
        text = render_script(network, path.stem, None, blob)
    else:
        weights_path = path.with_name(f"{path.stem}_weights.npz")
        _write_atomic(weights_path, blob)
        written.append(weights_path)
        text = render_script(network, path.stem, weights_path.name, None)
    _write_atomic(path, text.encode("utf-8"))
    return written
