"""Take a network elsewhere: ONNX, a PyTorch package, a NumPy script; and ONNX back in.

One function API for the CLI (`python main.py export`) and the GUI's Export menu, so both show
the same messages:

    from engine.export import export_network, import_onnx, EXPORT_FORMATS
    paths = export_network(network, "onnx", "model.onnx")
    network = import_onnx("model.onnx")

Nothing here imports onnx or torch at module import time: `onnx` is imported inside the ONNX
functions (optional dependency, `pip install onnx`), and torch is needed only to *run* the
exported PyTorch code, never by NetCanvas. Each layer type says how it exports (its `to_onnx`,
`to_torch`, `to_numpy`); `check_export` raises a ConfigError naming the node whose type has no
form for the chosen format.
"""

from __future__ import annotations

import importlib
import keyword
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from engine.errors import ConfigError
from engine.layers import Layer
from engine.registry import LAYERS

if TYPE_CHECKING:
    from engine.network import Network

# The Layer method each format's exporter calls (engine/layers/base.py). A layer type without
# it cannot be exported to that format: check_export names the node instead of an exporter
# failing deep inside. An Input is always a graph input and needs none.
LAYER_FORMS = {"onnx": "to_onnx", "pytorch": "to_torch", "python": "to_numpy"}


def exportable_layers(fmt: str) -> list[str]:
    """The registered layer types that export to format `fmt` (all of them for "netcanvas")."""
    method = LAYER_FORMS.get(fmt)
    return [
        name
        for name, cls in LAYERS.items()
        if method is None or cls.max_inputs == 0 or getattr(cls, method) is not getattr(Layer, method)
    ]


@dataclass(frozen=True)
class ExportFormat:
    """One export target, as the CLI's --format and the GUI's Export menu show it."""

    name: str
    label: str  # menu text
    suffix: str  # default file suffix; "" for a folder
    is_folder: bool
    requires: tuple[str, ...]  # Python packages NetCanvas itself needs for this export
    description: str


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "onnx": ExportFormat(
        "onnx",
        "ONNX model (.onnx)…",
        ".onnx",
        False,
        ("onnx",),
        "ONNX opset 17 with the trained weights; opens in Netron, runs in onnxruntime",
    ),
    "pytorch": ExportFormat(
        "pytorch",
        "PyTorch package (folder)…",
        "",
        True,
        (),
        "a folder with model.py (torch.nn.Module + load_model()), weights.npz and train.py "
        "(single process or torchrun / DistributedDataParallel)",
    ),
    "python": ExportFormat(
        "python",
        "NumPy inference script (.py)…",
        ".py",
        False,
        (),
        "one Python file that needs only NumPy and predicts with the trained weights",
    ),
    "netcanvas": ExportFormat(
        "netcanvas",
        "NetCanvas network (.ncv)…",
        ".ncv",
        False,
        (),
        "a NetCanvas file (mostly to turn an imported ONNX model into .ncv/.json)",
    ),
}


class ExportDependencyError(ConfigError):
    """An optional package NetCanvas needs for this export/import is not installed."""


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency or raise ExportDependencyError with the pip command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed: pip install {module}"
        ) from None


def check_export(network: Network, fmt: str) -> None:
    """ConfigError if `fmt` is unknown or the network cannot be exported to it (names the node).

    Also builds the model, so a network with problems (GraphError) is reported before any file
    is written.
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    known = exportable_layers(fmt)
    for node in network.spec.nodes.values():
        if node.type not in known:
            raise ConfigError(
                f"{node.label()} cannot be exported to {fmt}: its layer type has no {fmt} form; "
                f"the exporter knows {', '.join(known)}"
            )
    model = network.model
    if network.scaler is not None and len(model.input_ids) != 1:
        raise ConfigError("a network with feature standardization must have exactly one Input to export")


def default_output(source: str | Path, fmt: str) -> Path:
    """Where `export FILE --format fmt` writes without -o: next to FILE."""
    source = Path(source)
    spec = EXPORT_FORMATS[fmt]
    if spec.is_folder:
        return source.with_name(f"{source.stem}_{fmt}")
    if fmt == "python":
        return source.with_name(f"{python_identifier(source.stem)}_numpy.py")
    if fmt == "netcanvas" and source.suffix.lower() == ".ncv":
        return source.with_name(f"{source.stem}_copy.ncv")
    return source.with_suffix(spec.suffix)


def export_network(
    network: Network, fmt: str, output: str | Path, *, source_path: str | Path | None = None
) -> list[Path]:
    """Write `network` in format `fmt` to `output`; return the files written.

    `source_path` is the network file (relative data paths in its "data" section are relative to
    its folder; the PyTorch training script needs them). Raises ConfigError (or its subclass
    ExportDependencyError when onnx is missing), GraphError, DataError or OSError.
    """
    check_export(network, fmt)
    output = Path(output)
    if fmt == "onnx":
        from engine.export.onnx_export import export_onnx

        return [export_onnx(network, output)]
    if fmt == "pytorch":
        from engine.export.pytorch_export import export_pytorch

        return export_pytorch(network, output, source_path=source_path)
    if fmt == "python":
        from engine.export.numpy_export import export_numpy

        return export_numpy(network, output)
    from engine.io import save

    save(network, output)
    return [output]


def import_onnx(path: str | Path) -> Network:
    """A Network (with weights) from an ONNX file whose operators map onto the layer registry.

    Raises NetworkFileError naming the file and the unsupported operator, or
    ExportDependencyError when onnx is not installed.
    """
    from engine.export.onnx_import import import_onnx as _import

    return _import(path)


# ----------------------------------------------------------------- shared helpers
_ENGINE_RESERVED = frozenset({"self", "torch", "nn", "F", "np", "math", "x", "weights", "model"})


def python_identifier(text: str) -> str:
    """`text` made into a Python identifier: characters that cannot be in one become '_'.

    The result is already in the NFKC form Python gives identifiers (so 'ﬁ' and 'fi' are one name,
    as Python sees them) and is checked with `str.isidentifier`: whatever the text holds, the
    generated code can only ever see a plain name.
    """
    text = unicodedata.normalize("NFKC", str(text))
    name = "".join(ch if ("_" + ch).isidentifier() else "_" for ch in text)
    if not name or not name[0].isidentifier():
        name = "_" + name
    if unicodedata.normalize("NFKC", name) != name or not name.isidentifier():
        name = "_" + re.sub(r"\W", "_", name, flags=re.ASCII)  # pragma: no cover (combining marks)
    return name


def docstring_text(text: object) -> str:
    """`text` written so it reads back unchanged inside a triple-double-quoted docstring.

    Backslashes and double quotes are escaped (so no `\"\"\"` can end the docstring early and no
    text that follows can become code); line breaks stay; other unprintable characters (NUL, CR,
    lone surrogates, U+2028) become escapes.
    """
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def node_mapping(network: Network, names: dict[str, str]) -> str:
    """Docstring lines 'node id -> Python name  type', one per node in model order.

    An id that is not plain one-line text is shown as its repr(), so every node takes one line.
    """
    lines = []
    for nid in network.model.order:
        plain = nid.isprintable() and not any(c in nid for c in "\"'\\")
        shown = docstring_text(nid if plain else repr(nid))
        lines.append(f"    {shown:<20} -> {names[nid]:<20} {network.spec.nodes[nid].type}")
    return "\n".join(lines)


def python_names(ids: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Unique Python identifiers for node ids ('hidden-1' -> 'hidden_1', 'in' -> 'in_').

    Keywords and the names in `reserved` (plus the modules the generated code uses) get a
    trailing '_'; clashes after sanitizing get '_2', '_3', ...
    """
    taken = set(_ENGINE_RESERVED) | set(reserved)
    names: dict[str, str] = {}
    used: set[str] = set()
    for node_id in ids:
        name = python_identifier(node_id)
        if keyword.iskeyword(name) or name in taken:
            name += "_"
        candidate, number = name, 2
        while candidate in used:
            candidate = f"{name}_{number}"
            number += 1
        used.add(candidate)
        names[node_id] = candidate
    return names


__all__ = [
    "EXPORT_FORMATS",
    "LAYER_FORMS",
    "ExportDependencyError",
    "ExportFormat",
    "check_export",
    "default_output",
    "export_network",
    "exportable_layers",
    "import_onnx",
]
