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

import numpy as np

from engine.export import activation_of, check_export, docstring_text, node_mapping, python_names
from engine.export.templates import numpy_script as T
from engine.io import _write_atomic  # the same atomic save as network files
from engine.network import Network

EMBED_LIMIT = 4 * 1024 * 1024  # bytes of compressed weights kept inside the script


def _activation_call(name: str, params: dict, arg: str) -> str:
    if name == "linear":
        return arg
    if name in ("leaky_relu", "elu"):
        return f"{name}({arg}, alpha={params.get('alpha', 0.01 if name == 'leaky_relu' else 1.0)!r})"
    return f"{T.FUNCTION_NAMES.get(name, name)}({arg})"


def forward_lines(network: Network, names: dict[str, str]) -> tuple[list[str], set[str]]:
    """The body of `forward` (one statement per canvas node) and the helper functions it uses."""
    model = network.model
    used: set[str] = set()
    lines: list[str] = []
    for nid in model.order:
        if nid in model.input_ids:
            continue
        node = network.spec.nodes[nid]
        layer = model.layers[nid]
        var = names[nid]
        args = [names[s] for s in model.sources[nid]]
        p = node.params
        # Node ids reach the code only as names[nid] or repr(): a comment is no place for raw text.
        comment = f"  # {node.type} {nid!r}" if names[nid] != nid else ""
        if node.type == "Dense":
            act, act_params = activation_of(layer)
            z = f"{args[0]} @ W[{nid + '/kernel'!r}]"
            if "bias" in layer.weights:
                z += f" + W[{nid + '/bias'!r}]"
            expr = _activation_call(act, act_params, z)
            used.add(act)
        elif node.type == "Activation":
            act, act_params = activation_of(layer)
            expr = _activation_call(act, act_params, args[0])
            used.add(act)
        elif node.type == "Dropout":
            expr = args[0]
            comment = f"  # Dropout {nid!r} (rate {p['rate']:g}): identity at inference"
        elif node.type == "Flatten":
            expr = f"{args[0]}.reshape(len({args[0]}), -1)"
        elif node.type == "Reshape":
            dims = ", ".join(str(d) for d in p["target_shape"])
            expr = f"{args[0]}.reshape(len({args[0]}), {dims})"
        elif node.type == "BatchNormalization":
            expr = f"batch_norm({args[0]}, {nid!r}, epsilon={p['epsilon']!r})"
            used.add("batch_norm")
        elif node.type == "Add":
            expr = " + ".join(args)
        else:  # Concatenate
            axis = 1 + p["axis"] % len(layer.input_shapes[0])
            expr = f"np.concatenate([{', '.join(args)}], axis={axis})"
        lines.append(f"{var} = {expr}{comment}")
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
    names = python_names(model.order, reserved=T.RESERVED)
    body, used = forward_lines(network, names)
    helpers = [T.HELPERS[name] for name in T.HELPER_ORDER if name in used]
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
