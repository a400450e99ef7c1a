"""PyTorch export: a folder with a readable `torch.nn.Module`, its weights and a training script.

    OUT_DIR/model.py          the network as an nn.Module (attributes = canvas node ids), load_model()
    OUT_DIR/weights.npz       the weights under the module's state-dict names (no pickle)
    OUT_DIR/train.py          the file's loss, optimizer, schedule, batch size, seed and data;
                              `python train.py` or `torchrun --nproc_per_node=N train.py` (DDP)
    OUT_DIR/data_sources.py   the file's data source read with NumPy only (no NetCanvas needed)
    OUT_DIR/__init__.py, README.md, requirements.txt

NetCanvas never imports torch: this module only writes text and NumPy arrays. Each layer type
writes its own part of model.py (its `to_torch`, engine/layers); the loss, the optimizer and the
schedule write train.py's `loss_value`, `make_optimizer` and `learning_rate` (`Loss.torch_loss`,
`Optimizer.torch_optimizer`, `Schedule.torch_rate`). Today's forms:

| NetCanvas | PyTorch |
|---|---|
| Dense | nn.Linear (weight = kernel.T) + the activation as a function in forward() |
| Activation | torch / torch.nn.functional call: each activation's `torch_expression` (gelu exact, hard_sigmoid = relu6(x + 3) / 6) |
| Dropout | nn.Dropout(rate) |
| Flatten, Reshape | torch.flatten(x, 1), x.reshape(batch, *target_shape) |
| BatchNormalization | nn.BatchNorm1d/2d/3d by rank (momentum 1 - NetCanvas's), others via BatchNorm1d on x.flatten(2) |
| Add, Concatenate | a + b + ..., torch.cat(dim=1 + axis) |
| feature standardization | buffers input_mean, input_std applied first in forward() |
"""

from __future__ import annotations

import io
import json
import keyword
import pprint
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from engine.activations import get_activation
from engine.data.download import REMOTE_SETS, set_folder
from engine.data.sources import FILE_SOURCES
from engine.errors import ConfigError
from engine.export import check_export, docstring_text, node_mapping, python_names
from engine.export.templates import pytorch_model as T
from engine.io import _write_atomic, network_document  # the same atomic save as network files
from engine.losses import get_loss
from engine.metrics import default_metrics
from engine.network import Network
from engine.registry import DATASETS, LOSSES, OPTIMIZERS, SCHEDULES, resolve_params

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SETTINGS_BLOCK = re.compile(r"# BEGIN SETTINGS.*?# END SETTINGS\n", re.S)
# train.py's blocks written from a registry type's own PyTorch form: (the class attribute, the
# function's header and docstring).
_TYPE_BLOCKS = {
    "LOSS": (
        "torch_loss",
        "def loss_value(output, target, logits: bool):\n"
        '    """The mean loss of a batch, with Keras\'/NetCanvas\'s definitions. `output` holds logits\n'
        '    (before the final sigmoid/softmax) when `logits` is True."""\n',
    ),
    "OPTIMIZER": (
        "torch_optimizer",
        "def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:\n"
        '    """NetCanvas\'s optimizer with its settings."""\n'
        "    o = OPTIMIZER\n"
        "    params = [p for p in model.parameters() if p.requires_grad]\n",
    ),
    "SCHEDULE": (
        "torch_rate",
        "def learning_rate(base: float, epoch: int, total: int) -> float:\n"
        '    """The rate of 0-based `epoch` of a run of `total` epochs (NetCanvas\'s schedule)."""\n',
    ),
}


def fused_activation(network: Network) -> str | None:
    """'sigmoid'/'softmax' when the loss is computed from the output's logits (as NetCanvas does)."""
    loss = get_loss(network.training.loss.type, **network.training.loss.params)
    model = network.model
    if model.uses_fused_loss(loss.fused_activation):
        return loss.fused_activation
    return None


class _ModelWriter:
    """Builds the text of model.py and the state dict of weights.npz."""

    def __init__(self, network: Network):
        self.network = network
        self.model = network.model
        self.names = python_names(self.model.order, reserved=T.MODULE_RESERVED)
        self.init: list[str] = []
        self.body: list[str] = []
        self.regularization: list[str] = []
        self.decayed: list[str] = []  # state-dict names of the kernels (AdamW decays them)
        self.state: dict[str, np.ndarray] = {}
        self.standardize = network.scaler is not None or (
            network.spec.data.get("source") == "csv" and network.spec.data.get("standardize", True)
        )

    def build(self) -> None:
        model = self.model
        dtype = model.dtype
        if self.standardize:
            nid = model.input_ids[0]
            shape = model.shapes[nid]
            mean = np.zeros(shape, dtype)
            std = np.ones(shape, dtype)
            if self.network.scaler is not None:
                mean = np.broadcast_to(self.network.scaler.mean, shape).astype(dtype)
                std = np.broadcast_to(self.network.scaler.std, shape).astype(dtype)
            dims = ", ".join(str(d) for d in shape)
            self.init += [
                "# standardization of the input, fitted on the training data",
                f'self.register_buffer("input_mean", torch.zeros({dims}))',
                f'self.register_buffer("input_std", torch.ones({dims}))',
            ]
            self.state["input_mean"], self.state["input_std"] = mean, std
            var = self.names[nid]
            self.body.append(f"{var} = ({var} - self.input_mean) / self.input_std")
        for nid in model.order:
            if nid not in model.input_ids:
                self._node(nid)

    def _node(self, nid: str) -> None:
        var = self.names[nid]
        is_output = nid == self.model.output_id
        fused = fused_activation(self.network) if is_output else None
        node = _ModuleNode(self, var, fused is not None)
        expr = self.model.layers[nid].to_torch(node, [self.names[s] for s in self.model.sources[nid]])
        self.body.append(f"{var} = {expr}" + ("  # logits" if fused else ""))
        if fused:
            self.body.append(f"return {var} if logits else {get_activation(fused).torch_expression(var)}")
        elif is_output:
            self.body.append(f"return {var}")


class _ModuleNode:
    """What a layer's `to_torch` writes through for one node (the `TorchModule` of
    engine/layers/export_forms.py)."""

    def __init__(self, writer: _ModelWriter, var: str, logits: bool):
        self.writer = writer
        self.var = var
        self.dtype = writer.model.dtype
        self.logits = logits  # the loss works on this output's logits: leave the activation out

    def module(self, text: str) -> str:
        self.writer.init.append(f"self.{self.var} = {text}")
        return f"self.{self.var}"

    def init(self, line: str) -> None:
        self.writer.init.append(line)

    def state(self, key: str, array: np.ndarray, decayed: bool = False) -> None:
        self.writer.state[f"{self.var}.{key}"] = array
        if decayed:
            self.writer.decayed.append(f"{self.var}.{key}")

    def penalty(self, text: str) -> None:
        self.writer.regularization.append(text)

    def activation(self, activation: Any, expr: str) -> str:
        return expr if self.logits else activation.torch_expression(expr)


def class_name(network: Network) -> str:
    """A CamelCase class name from the network's name ('3-5-1 classifier' -> 'Net351Classifier').

    Only ASCII letters and digits survive; a keyword ('none' -> 'None') or a name model.py uses
    itself ('f' -> 'F') gets the 'Net' prefix too.
    """
    words = re.findall(r"[A-Za-z0-9]+", str((network.spec.metadata or {}).get("name") or ""))
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    taken = keyword.iskeyword(name) or name in T.MODULE_RESERVED or name in ("F", "Path")
    return name if name[0].isalpha() and not taken else f"Net{name}"


def render_model(network: Network, writer: _ModelWriter) -> str:
    model = network.model
    names = writer.names
    meta = network.spec.metadata or {}
    title = docstring_text(meta.get("name") or "NetCanvas network")
    description = str(meta.get("description") or "").strip()
    fused = fused_activation(network)
    inputs = ", ".join(names[i] for i in model.input_ids)
    forward_args = inputs + (", logits: bool = False" if fused else "")
    shapes = ", ".join(f"({', '.join(['N', *map(str, model.shapes[i])])})" for i in model.input_ids)
    out_shape = ", ".join(["N", *map(str, model.output_shape)])
    forward_doc = f"{shapes} -> ({out_shape})."
    if fused:
        forward_doc += f" logits=True skips the final {fused} (train.py's loss uses it)."
    mapping = node_mapping(network, names)
    regularization = " + ".join(writer.regularization) or "torch.zeros((), dtype=DTYPE)"
    return T.MODEL.substitute(
        title=title,
        description=f"\n{docstring_text(textwrap.fill(description, 96))}\n" if description else "",
        call_args=inputs,
        call_shapes=render_call_shapes(network),
        standardize_note=" (inputs are standardized inside, so pass raw values)"
        if writer.standardize
        else "",
        mapping=mapping,
        dtype=model.dtype.name,
        input_shapes=", ".join(f"{i!r}: {tuple(model.shapes[i])!r}" for i in model.input_ids),
        output_shape=tuple(model.output_shape),
        decayed=tuple(writer.decayed),
        class_name=class_name(network),
        class_doc=f"{title}, as drawn on the NetCanvas canvas.",
        init_body=textwrap.indent("\n".join(writer.init) or "pass", " " * 8),
        forward_args=forward_args,
        forward_doc=forward_doc,
        forward_body=textwrap.indent("\n".join(writer.body), " " * 8),
        regularization_body=f"        return {regularization}",
    )


def data_settings(network: Network, base_dir: Path | None) -> dict[str, Any]:
    """The "data" section with every default filled in and file paths made absolute."""
    data = dict(network.spec.data or {})
    source = data.get("source")
    data.setdefault("val_split", 0.2)
    data.setdefault("seed", 0)
    if source in DATASETS:
        params = resolve_params(
            DATASETS.get(source), {k: v for k, v in data.items() if k not in ("source", "val_split")}, "data"
        )
        data.update(params)
    elif source in FILE_SOURCES and "path" in data:
        path = Path(data["path"]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = (base_dir / path).resolve()
        data["path"] = str(path)
    elif source in REMOTE_SETS:  # downloaded into the user's data cache: train.py reads it there
        data["path"] = str(set_folder(source))
    return data


def training_settings(network: Network, base_dir: Path | None) -> dict[str, Any]:
    """Every value train.py's settings block holds, by its name there."""
    cfg = network.training
    return {
        "LOSS": cfg.loss.to_dict(),
        "INDEX_TARGETS": LOSSES.get(cfg.loss.type).target == "index",
        "FUSED_ACTIVATION": fused_activation(network),
        "OPTIMIZER": cfg.optimizer.to_dict(),
        "SCHEDULE": cfg.schedule.to_dict(),
        "BATCH_SIZE": cfg.batch_size,
        "EPOCHS": cfg.epochs,
        "SEED": cfg.seed,
        "SHUFFLE": cfg.shuffle,
        "CLIP_NORM": cfg.clip_norm,
        "DTYPE": cfg.dtype,
        "METRICS": list(cfg.metrics if cfg.metrics is not None else default_metrics(cfg.loss.type)),
        "DATA": data_settings(network, base_dir),
    }


def render_train(network: Network, base_dir: Path | None) -> str:
    """train.py: the template with its settings block replaced by the network's settings."""
    lines = ["# BEGIN SETTINGS (written by the NetCanvas exporter from the network file)"]
    for key, value in training_settings(network, base_dir).items():
        text = pprint.pformat(value, width=96 - len(key) - 3, sort_dicts=False)
        lines.append(f"{key} = " + textwrap.indent(text, " " * (len(key) + 3)).lstrip())
    lines.append("# END SETTINGS\n")
    template = (TEMPLATES / "pytorch_train.py").read_text(encoding="utf-8")
    training = network.training
    entries = {
        "LOSS": LOSSES.get(training.loss.type),
        "OPTIMIZER": OPTIMIZERS.get(training.optimizer.type),
        "SCHEDULE": SCHEDULES.get(training.schedule.type),
    }
    for block, entry in entries.items():
        pattern = re.compile(rf"# BEGIN {block}\b.*?# END {block}\n", re.S)
        template = pattern.sub(lambda _, e=entry, b=block: type_block(b, e), template, count=1)
    return _SETTINGS_BLOCK.sub(lambda _: "\n".join(lines), template, count=1)


def type_block(block: str, entry: type) -> str:
    """train.py's LOSS, OPTIMIZER or SCHEDULE block: the function of `block` with the registry
    entry's own PyTorch form (`Loss.torch_loss`, `Optimizer.torch_optimizer`, `Schedule.torch_rate`)
    as its body."""
    attribute, header = _TYPE_BLOCKS[block]
    body = textwrap.dedent(getattr(entry, attribute, "")).strip("\n")
    if not body:
        raise ConfigError(
            f"{entry.group.lower()} '{entry.name}' has no PyTorch form (its class sets no {attribute})"
        )
    return f"# The {entry.group.lower()} {entry.name!r}, as NetCanvas computes it\n{header}{textwrap.indent(body, '    ')}\n"


def export_pytorch(
    network: Network, out_dir: str | Path, source_path: str | Path | None = None
) -> list[Path]:
    """Write the PyTorch package into `out_dir` (created if needed); returns the files written.

    `source_path`: the network file; relative data paths are resolved against its folder.
    """
    base_dir = Path(source_path).resolve().parent if source_path is not None else None
    check_export(network, "pytorch")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _ModelWriter(network)
    writer.build()
    title = str((network.spec.metadata or {}).get("name") or "NetCanvas network")
    data = data_settings(network, base_dir)
    source = data.get("source", "none")
    data_row = (
        f"\nData: `{source}`"
        + (f" from `{data['path']}`" if "path" in data else " (regenerated exactly as NetCanvas does)")
        + ".\n"
    )
    weights = _npz_bytes(writer.state)
    texts = {
        "model.py": render_model(network, writer),
        "train.py": render_train(network, base_dir),
        "data_sources.py": (TEMPLATES / "data_sources.py").read_text(encoding="utf-8"),
        "__init__.py": T.INIT.substitute(title=docstring_text(title)),
        "README.md": T.README.substitute(
            title=title,
            source=Path(source_path).name if source_path is not None else "the canvas",
            class_name=class_name(network),
            data_row=data_row,
            call_shapes=render_call_shapes(network),
        ),
        "requirements.txt": T.REQUIREMENTS,
        "netcanvas.json": json.dumps(network_document(network), indent=2) + "\n",
    }
    written = []
    for name, text in texts.items():
        # backslashreplace: a lone surrogate in the network's name must not stop the README
        _write_atomic(out_dir / name, text.encode("utf-8", "backslashreplace"))
        written.append(out_dir / name)
    _write_atomic(out_dir / "weights.npz", weights)
    written.append(out_dir / "weights.npz")
    return written


def render_call_shapes(network: Network) -> str:
    model = network.model
    shapes = ", ".join(f"({', '.join(['N', *map(str, model.shapes[i])])})" for i in model.input_ids)
    return f"{shapes} -> ({', '.join(['N', *map(str, model.output_shape)])})"


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
