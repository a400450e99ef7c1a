"""The lessons: each an example network (`NN_name.json`) with its explanation (`NN_name.md`, Markdown
with the formulas in Unicode), in the bundled lessons' folder (engine.examples.lessons_dir), in the
order of their file names.

A lesson's `metadata.lesson` may hold:
- "try": a list of {"label", "nodes": {node id: {param: value}}, "training": {key: value}}, the
  changes a student is asked to try (the window offers each as a button, one undoable edit);
- "fits": {"node": id, "units": [1, 2, ...]}, the widths to fit together (`width_fits`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.sources import load_data
from engine.errors import NetworkFileError
from engine.examples import lessons_dir
from engine.io import network_from_document


@dataclass(frozen=True)
class Lesson:
    path: Path  # the network file
    name: str  # its metadata's display name
    description: str
    text: str  # the explanation, Markdown
    tries: list[dict[str, Any]] = field(default_factory=list)  # see the module doc
    fits: dict[str, Any] | None = None


@dataclass(frozen=True)
class WidthFit:
    """One hidden width's fit of a 1-D regression: its curve over the data's range."""

    units: int
    xs: np.ndarray  # (points,) the input values, sorted
    prediction: np.ndarray  # (points,) the network's output at xs
    val_mse: float  # mean squared error on the validation part


def read_lesson(path: Path) -> Lesson:
    """The lesson whose network is `path` (its text is the `.md` of the same name).
    NetworkFileError if either file cannot be read."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        text = path.with_suffix(".md").read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise NetworkFileError(f"lesson {path.name}: cannot be read ({exc})") from None
    metadata = doc.get("metadata") or {}
    extra = metadata.get("lesson") or {}
    return Lesson(
        path=path,
        name=str(metadata.get("name") or path.stem),
        description=str(metadata.get("description") or ""),
        text=text,
        tries=list(extra.get("try") or []),
        fits=extra.get("fits"),
    )


def list_lessons(folder: Path | None = None) -> list[Lesson]:
    """Every lesson in `folder` (default: the bundled ones), in the order of their file names."""
    return [read_lesson(path) for path in sorted((folder or lessons_dir()).glob("*.json"))]


def width_fits(
    path: Path,
    node_id: str,
    units: list[int],
    points: int = 200,
    on_fit: Callable[[WidthFit], None] | None = None,
    on_data: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> list[WidthFit]:
    """Train the network of file `path` once per width in `units` (node `node_id`'s units), each
    from fresh weights with the file's own training settings, data and seed, and return each fit's
    curve at `points` inputs spread over the data's range. The network must have one input
    feature and one output (a 1-D regression such as the sine). `on_data(x, y)` gets the
    validation points first ((n,) each), `on_fit` each fit as soon as it is trained. Training runs
    as fast as it goes (the file's `pace`, for watching one run, is not used).
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in doc.get("nodes", [])}
    if node_id not in nodes:
        raise NetworkFileError(f"{path.name}: expected a node '{node_id}' to widen, found {sorted(nodes)}")
    data = load_data(doc["data"], base_dir=path.parent)
    train, val = data.split(doc["data"].get("val_split", 0.2), doc["data"].get("seed", 0))
    if data.x.ndim != 2 or data.x.shape[1] != 1:
        raise NetworkFileError(f"{path.name}: expected data with one input feature, got shape {data.x.shape}")
    if on_data is not None:
        on_data(val.x[:, 0].astype(np.float64), val.y.reshape(-1).astype(np.float64))
    xs = np.linspace(float(data.x.min()), float(data.x.max()), points).reshape(points, 1)
    fits = []
    for width in units:
        variant = copy.deepcopy(doc)
        variant["training"].update(pace=None, until_stopped=False)
        next(n for n in variant["nodes"] if n["id"] == node_id)["params"]["units"] = int(width)
        network = network_from_document(variant, f"{path.name} with {width} units")
        network.fit(train.x, train.y)
        error = float(np.mean((network.predict(val.x) - val.y) ** 2))
        fit = WidthFit(int(width), xs[:, 0].copy(), network.predict(xs)[:, 0].astype(np.float64), error)
        fits.append(fit)
        if on_fit is not None:
            on_fit(fit)
    return fits
