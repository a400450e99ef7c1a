"""Runs side by side: a `Run` records one training run (Train … Stop or finish) with the settings
it trained with, what differs from the run before, its per-epoch curves, the gradient norms seen
while it trained and the weights it ended with; `.ncv` files keep them (`runs.json` and
`runs.npz`, read here without trusting them: see docs/file-format.md).

Everything a run keeps is bounded: at most MAX_RUN_POINTS values per curve (older ones thinned),
MAX_RUNS runs in a file, and at most MAX_RUN_WEIGHT_BYTES of weights (the oldest runs are saved
without theirs when the newer ones fill it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import NetCanvasError, NetworkFileError
from engine.file_archive import ArrayCheck
from engine.file_limits import MAX_JSON_BYTES, check_document_sizes, quote
from engine.graph import NetworkSpec
from engine.training.config import TrainingConfig

if TYPE_CHECKING:
    from engine.training.callbacks import History

MAX_RUNS = 100  # runs a file holds
MAX_RUN_POINTS = 512  # values kept per curve of a run (per-epoch values, gradient norms)
MAX_RUN_WEIGHT_BYTES = 64 * 1024 * 1024  # runs.npz uncompressed
MAX_TEXT = {"name": 80, "time": 40, "reason": 40, "changes": 2_000}
SECTIONS = ("nodes", "edges", "training", "data")  # what a run's settings hold
_KEY = re.compile(r"(\d{1,4})/([A-Za-z_][A-Za-z0-9_.\-]{0,63})/([A-Za-z_][A-Za-z0-9_]{0,63})")


@dataclass
class Run:
    """One training run. Curves are per epoch of this run (epoch 0 is its first); `grad_epochs[i]`
    is when (in epochs of this run, fractional) the norms `grad_norms[node][i]` were measured."""

    name: str
    time: str  # local date and time it ended, "2026-12-06 07:12"
    settings: dict[str, Any]  # the network's nodes (without positions), edges, training, data
    changes: str  # what differs from the previous run, e.g. "learning rate 0.1 → 0.001"
    reason: str = "finished"  # "finished", "stopped", "early stopping", "diverged", ...
    steps: int = 0  # optimizer steps this run took
    epochs: dict[str, list[float]] = field(default_factory=dict)  # Keras key -> values
    epoch_numbers: dict[str, list[int]] = field(default_factory=dict)  # key -> epoch of each value
    grad_epochs: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)  # node id -> L2 norms
    weights: dict[str, np.ndarray] | None = None  # "{node}/{array}" -> array at the end

    @property
    def metrics(self) -> dict[str, float]:
        """The final value of each curve, e.g. {"loss": 0.12, "val_accuracy": 0.97}."""
        return {key: values[-1] for key, values in self.epochs.items() if values}


def settings_of(spec: NetworkSpec) -> dict[str, Any]:
    """The parts of a spec a run compares and restores (a copy; node positions left out; the
    training section with every parameter written out)."""
    doc = spec.to_dict()
    for node in doc["nodes"]:
        node.pop("pos", None)
    doc["training"] = TrainingConfig.from_dict(doc.get("training") or {}).to_dict()
    return {key: doc.get(key) for key in SECTIONS}


# ------------------------------------------------------------------ changes
_NAMES = {
    "optimizer.learning_rate": "learning rate",
    "optimizer.type": "optimizer",
    "loss.type": "loss",
    "schedule.type": "schedule",
}


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What differs between two runs' settings, as short text: "learning rate 0.1 → 0.001,
    activation sigmoid → relu (7 layers)"; "first run" without `before`."""
    if before is None:
        return "first run"
    parts = [
        f"{_NAMES.get(key, key.replace('.', ' ').replace('_', ' '))} {_text(old)} → {_text(new)}"
        for key, old, new in _differences(before.get("training") or {}, after.get("training") or {})
    ]
    old_nodes = {n["id"]: n for n in before.get("nodes") or []}
    new_nodes = {n["id"]: n for n in after.get("nodes") or []}
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for node_id, node in new_nodes.items():
        old = old_nodes.get(node_id)
        if old is None or old.get("type") != node.get("type"):
            continue
        for key, was, now in _differences(old.get("params") or {}, node.get("params") or {}):
            grouped.setdefault((key.replace("_", " "), _text(was), _text(now)), []).append(node_id)
    for (key, was, now), ids in grouped.items():
        where = f"{ids[0]} " if len(ids) == 1 else ""
        count = f" ({len(ids)} layers)" if len(ids) > 1 else ""
        parts.append(f"{where}{key} {was} → {now}{count}")
    added = [
        i for i, n in new_nodes.items() if i not in old_nodes or old_nodes[i].get("type") != n.get("type")
    ]
    removed = [
        i for i, n in old_nodes.items() if i not in new_nodes or new_nodes[i].get("type") != n.get("type")
    ]
    if added:
        parts.append(f"added {', '.join(added)}")
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if not added and not removed and before.get("edges") != after.get("edges"):
        parts.append("connections changed")
    parts += [
        f"data {key.replace('_', ' ')} {_text(old)} → {_text(new)}"
        for key, old, new in _differences(before.get("data") or {}, after.get("data") or {})
    ]
    text = ", ".join(parts) or "same settings"
    return text if len(text) <= MAX_TEXT["changes"] else text[: MAX_TEXT["changes"] - 1] + "…"


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for each value that differs, nested objects compared key by key."""
    found = []
    for key in dict.fromkeys([*old, *new]):
        was, now = old.get(key), new.get(key)
        if isinstance(was, dict) and isinstance(now, dict) and was.get("type") == now.get("type"):
            found += _differences(was, now, f"{prefix}{key}.")
        elif was != now:
            if isinstance(was, dict) or isinstance(now, dict):  # another type: name it
                was, now = (v.get("type") if isinstance(v, dict) else v for v in (was, now))
                key = f"{key}.type"
            found.append((f"{prefix}{key}", was, now))
    return found


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "×".join(_text(v) for v in value)
    return str(value)


# ------------------------------------------------------------------ recording
class GradientNormLog:
    """Per-layer gradient norms seen during a run, bounded: past MAX_RUN_POINTS measurements every
    second one is dropped (the latest always kept)."""

    def __init__(self, start_step: int, steps_per_epoch: int):
        self.start_step = start_step
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.epochs: list[float] = []
        self.norms: dict[str, list[float]] = {}

    def add(self, step: int, norms: dict[str, float | None]) -> None:
        """Record the norms measured after optimizer step `step` (whole-life count); None: no weights."""
        known = {k: v for k, v in norms.items() if v is not None}
        if not known:
            return
        for node_id, values in self.norms.items():  # a layer missing now gets a gap
            if node_id not in known:
                values.append(math.nan)
        for node_id, value in known.items():
            self.norms.setdefault(node_id, [math.nan] * len(self.epochs)).append(float(value))
        self.epochs.append((step - self.start_step) / self.steps_per_epoch)
        if len(self.epochs) > MAX_RUN_POINTS:
            kept = [*range(0, len(self.epochs) - 1, 2), len(self.epochs) - 1]
            self.epochs = [self.epochs[i] for i in kept]
            self.norms = {k: [v[i] for i in kept] for k, v in self.norms.items()}


def record_run(
    previous: list[Run],
    spec: NetworkSpec,
    history: History,
    before: History,
    weights: dict[str, np.ndarray],
    reason: str,
    gradient_norms: GradientNormLog | None = None,
) -> Run:
    """The Run of a network trained with `spec`: the epochs and steps of its `history` past those
    of `before` (its history when the run started); `weights` as named by Model.named_weights.
    Named after the runs `previous` ("Run 3"), its changes against the last of them."""
    settings, start_epoch = settings_of(spec), before.epoch_count
    epochs, numbers = {}, {}
    for key, values in history.epochs.items():
        kept = [
            (n - start_epoch, v)
            for n, v in zip(history.epoch_numbers.get(key, []), values, strict=False)
            if n >= start_epoch
        ]
        if len(kept) > MAX_RUN_POINTS:
            step = -(-len(kept) // MAX_RUN_POINTS)
            kept = [*kept[:-1:step][: MAX_RUN_POINTS - 1], kept[-1]]
        if kept:
            numbers[key], epochs[key] = [n for n, _ in kept], [float(v) for _, v in kept]
    number = 1 + max((int(r.name[4:]) for r in previous if re.fullmatch(r"Run \d{1,6}", r.name)), default=0)
    log = gradient_norms
    return Run(
        name=f"Run {number}",
        time=datetime.now().strftime("%Y-%m-%d %H:%M"),
        settings=settings,
        changes=describe_changes(previous[-1].settings if previous else None, settings),
        reason=reason,
        steps=history.steps - before.steps,
        epochs=epochs,
        epoch_numbers=numbers,
        grad_epochs=list(log.epochs) if log else [],
        grad_norms={k: list(v) for k, v in log.norms.items()} if log else {},
        weights={k: np.array(v, copy=True) for k, v in weights.items()},
    )


# ------------------------------------------------------------------ files
def runs_payload(runs: list[Run]) -> tuple[bytes, dict[str, np.ndarray]]:
    """`runs.json` and the arrays of `runs.npz` for the newest MAX_RUNS runs whose JSON fits the
    file limit; the oldest of them go without weights when theirs pass MAX_RUN_WEIGHT_BYTES, and
    a run whose weights are not all finite goes without them."""
    kept = runs[-MAX_RUNS:]
    while True:
        text = json.dumps({"runs": [_run_doc(r) for r in kept]}).encode("utf-8")
        if len(text) <= MAX_JSON_BYTES or not kept:
            break
        kept = kept[1:]
    arrays: dict[str, np.ndarray] = {}
    room = MAX_RUN_WEIGHT_BYTES
    for index in range(len(kept) - 1, -1, -1):
        weights = kept[index].weights or {}
        size = sum(a.nbytes + 1024 for a in weights.values())
        finite = all(np.isfinite(a).all() for a in weights.values())  # (a file refuses others)
        if weights and finite and size <= room:
            room -= size
            arrays.update({f"{index}/{name}": array for name, array in weights.items()})
    return text, arrays


def _run_doc(run: Run) -> dict[str, Any]:
    return {
        "name": run.name,
        "time": run.time,
        "reason": run.reason,
        "steps": run.steps,
        "changes": run.changes,
        "settings": run.settings,
        "epochs": {k: [_number(v) for v in values] for k, values in run.epochs.items()},
        "epoch_numbers": run.epoch_numbers,
        "gradient_norms": {
            "epochs": run.grad_epochs,
            "layers": {k: [_number(v) for v in values] for k, values in run.grad_norms.items()},
        },
    }


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN: a diverged run's values


def read_runs(payload: dict[str, Any], where: str) -> list[Run]:
    """The runs of a parsed `runs.json`; NetworkFileError naming `where` for anything else."""
    runs = payload.get("runs")
    if not isinstance(runs, list) or len(runs) > MAX_RUNS:
        raise NetworkFileError(
            f'{where}: "runs" must be a list of at most {MAX_RUNS} runs, got {quote(runs)}'
        )
    return [_read_run(doc, f"{where}: runs[{i}]") for i, doc in enumerate(runs)]


def _read_run(doc: Any, where: str) -> Run:
    if not isinstance(doc, dict):
        raise NetworkFileError(f"{where} must be an object, got {quote(doc)}")
    texts = {}
    for key, limit in MAX_TEXT.items():
        value = doc.get(key, "")
        if not isinstance(value, str) or len(value) > limit:
            raise NetworkFileError(
                f'{where}: "{key}" must be text of at most {limit} characters, got {quote(value)}'
            )
        texts[key] = value
    epochs = _number_lists(doc.get("epochs", {}), f"{where}.epochs", float)
    numbers = _number_lists(doc.get("epoch_numbers", {}), f"{where}.epoch_numbers", int)
    if set(numbers) != set(epochs) or any(len(numbers[k]) != len(v) for k, v in epochs.items()):
        raise NetworkFileError(f'{where}: "epoch_numbers" must hold one whole number per value of "epochs"')
    steps = doc.get("steps", 0)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps < 2**53:
        raise NetworkFileError(f'{where}: "steps" must be a whole number from 0 to 2**53, got {quote(steps)}')
    grads = doc.get("gradient_norms", {})
    if not isinstance(grads, dict):
        raise NetworkFileError(f'{where}: "gradient_norms" must be an object, got {quote(grads)}')
    grad_epochs = _number_lists({"epochs": grads.get("epochs", [])}, f"{where}.gradient_norms", float)[
        "epochs"
    ]
    layers = _number_lists(grads.get("layers", {}), f"{where}.gradient_norms.layers", float)
    if any(len(v) != len(grad_epochs) for v in layers.values()):
        raise NetworkFileError(f"{where}: each layer's gradient norms must match gradient_norms.epochs")
    return Run(
        texts["name"] or "Run",
        texts["time"],
        _read_settings(doc.get("settings"), f"{where}.settings"),
        texts["changes"],
        texts["reason"],
        steps,
        epochs,
        numbers,
        grad_epochs,
        layers,
    )


def _number_lists(doc: Any, where: str, kind: type) -> dict[str, list]:
    """{text key: list of at most MAX_RUN_POINTS numbers of `kind`} (null: NaN, for floats)."""
    if not isinstance(doc, dict) or len(doc) > 1_000:
        raise NetworkFileError(f"{where} must be an object of number lists, got {quote(doc)}")
    out = {}
    for key, values in doc.items():
        if len(key) > 64 or not isinstance(values, list) or len(values) > MAX_RUN_POINTS:
            raise NetworkFileError(f"{where}.{key[:64]} must be a list of at most {MAX_RUN_POINTS} numbers")
        if kind is int:
            ok = all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**53 for v in values)
        else:
            ok = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if not ok:
            raise NetworkFileError(f"{where}.{key}: expected {kind.__name__} values, got {quote(values)}")
        out[key] = [v if kind is int else (math.nan if v is None else float(v)) for v in values]
    return out


def _read_settings(doc: Any, where: str) -> dict[str, Any]:
    """A run's settings, checked as a network document is, in their canonical form."""
    if not isinstance(doc, dict):
        raise NetworkFileError(f"{where} must be an object, got {quote(doc)}")
    nodes, edges = doc.get("nodes"), doc.get("edges")
    shaped = (
        isinstance(nodes, list)
        and isinstance(edges, list)
        and all(isinstance(n, dict) and isinstance(n.get("params", {}), dict) for n in nodes)
        and all(isinstance(e, list) and len(e) == 2 and all(isinstance(i, str) for i in e) for e in edges)
        and all(isinstance(doc.get(k) or {}, dict) for k in ("training", "data"))
    )
    if not shaped:
        raise NetworkFileError(
            f"{where}: expected nodes, edges, training and data as a network file has them"
        )
    check_document_sizes(doc, where)
    try:
        return settings_of(NetworkSpec.from_dict({k: doc.get(k) for k in SECTIONS if doc.get(k) is not None}))
    except (NetCanvasError, TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise NetworkFileError(f"{where}: {exc}") from None


def weights_check(runs: list[Run], where: str) -> ArrayCheck:
    """The `engine.file_archive.read_npz` check of `runs.npz`: keys "{run}/{node}/{array}" of a
    run and a node it has, finite-sized float arrays of at most 4 axes."""

    def check(key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        match = _KEY.fullmatch(key)
        ok = (
            match is not None
            and int(match[1]) < len(runs)
            and any(n["id"] == match[2] for n in runs[int(match[1])].settings["nodes"])
            and dtype.kind == "f"
            and dtype.itemsize in (4, 8)
            and len(shape) <= 4
        )
        if not ok:
            raise NetworkFileError(f"{where}: unexpected array {quote(key)} ({dtype.name} {shape})")

    return check


def attach_weights(runs: list[Run], arrays: dict[str, np.ndarray], where: str) -> None:
    """Give each run its arrays of `runs.npz` (checked by `weights_check`); NaN is refused."""
    for key, array in arrays.items():
        if not np.isfinite(array).all():
            raise NetworkFileError(f"{where}: array {quote(key)} holds NaN or infinite values")
        index, _, name = key.partition("/")
        run = runs[int(index)]
        run.weights = {**(run.weights or {}), name: array}
