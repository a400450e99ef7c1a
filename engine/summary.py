"""The Keras-like model summary table shared by `main.py summary` and the GUI."""

from __future__ import annotations

import math

from engine.graph import NetworkSpec
from engine.registry import LAYERS


def summary_table(spec: NetworkSpec) -> str:
    """Name, type, output shape, parameter count and inputs of every node, then totals.

    Works without building arrays; raises GraphError if the network is not valid.
    """
    report = spec.require_valid()
    rows = [("Layer (type)", "Output shape", "Param #", "Connected to")]
    total = trainable = 0
    for nid in spec.topological_order():
        node = spec.nodes[nid]
        layer = LAYERS.get(node.type)
        in_shapes = [report.shapes[s] for s in spec.inputs_of(nid)]
        shapes = layer.weight_shapes(node.params, in_shapes)
        count = sum(math.prod(s) for s in shapes.values())
        keys = layer.trainable_keys(node.params)
        total += count
        trainable += sum(math.prod(s) for k, s in shapes.items() if k in keys)
        shape = report.shapes[nid] or ()
        rows.append(
            (
                f"{nid} ({node.type})",
                "(None, " + ", ".join(str(d) for d in shape) + ")",
                f"{count:,}",
                ", ".join(spec.inputs_of(nid)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    rule = "-" * (sum(widths) + 6)
    lines = [f'Network "{spec.metadata.get("name", "untitled")}"', rule]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append(rule.replace("-", "="))
    lines += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    return "\n".join(lines)
