"""The bundled example networks, wherever NetCanvas runs from.

The repository keeps them in `resources/examples/`; pyproject.toml installs the `resources/` folder
as the package `netcanvas_resources` (in a wheel and in an editable install), read here with
`importlib.resources`. A source checkout run without installing (`python main.py` in a fresh
clone) has no such package: the folder beside the source tree is used then.

Examples are real files on disk: they name their data files (a CSV) relative to their own folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from engine.errors import NetworkFileError

PACKAGE = "netcanvas_resources"
SOURCE_TREE_DIR = Path(__file__).resolve().parent.parent / "resources" / "examples"
LESSONS_FOLDER = "lessons"  # beside "examples": the lessons' networks (engine.lessons reads them)


@dataclass(frozen=True)
class Example:
    path: Path
    name: str  # the metadata's display name ("Spiral"); the file stem is what the CLI takes
    description: str


def examples_dir() -> Path:
    """The folder holding the example networks (the installed package's, else the source tree's)."""
    try:
        folder = resources.files(PACKAGE) / "examples"
    except ModuleNotFoundError:
        return SOURCE_TREE_DIR
    return folder.resolve() if isinstance(folder, Path) and folder.is_dir() else SOURCE_TREE_DIR


def lessons_dir() -> Path:
    """The folder holding the lessons' networks and texts, beside the examples' folder."""
    return examples_dir().parent / LESSONS_FOLDER


def list_examples(folder: Path | None = None) -> list[Example]:
    """Every readable example in `folder` (default: the bundled ones), sorted by display name."""
    examples = []
    for path in sorted((folder or examples_dir()).glob("*.json")):
        try:
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
        except (OSError, ValueError, AttributeError):
            continue  # an unreadable file is no example; opening it by path says why
        examples.append(
            Example(path, str(metadata.get("name") or path.stem), str(metadata.get("description") or ""))
        )
    return sorted(examples, key=lambda e: e.name.lower())


def example_path(name: str) -> Path | None:
    """The bundled example called `name` ("spiral" or "spiral.json"), or None."""
    if not name or Path(name).name != name or name.startswith("."):
        return None
    path = examples_dir() / (name if name.lower().endswith(".json") else f"{name}.json")
    return path if path.is_file() else None


def resolve_network_file(argument: str | os.PathLike[str]) -> Path:
    """A file argument of the command line: the file if it exists, else the example of that name.

    A bare name that is neither raises NetworkFileError listing the examples; a path with folders
    is returned as given, so loading it reports the missing file.
    """
    path = Path(argument)
    if path.exists():
        return path
    example = example_path(str(argument))
    if example is not None:
        return example
    if path.name == str(argument) and not path.suffix:
        names = ", ".join(sorted(p.stem for p in examples_dir().glob("*.json")))
        raise NetworkFileError(f"{argument}: no such file, and no example of that name (examples: {names})")
    return path


def output_base(source: Path) -> Path:
    """The path files derived from `source` are named after (`X_trained.ncv`, `X.onnx`): `source`
    itself, or for a bundled example its name in the current folder (the examples stay as shipped)."""
    return Path(source.name) if is_example(source) else source


def is_example(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is one of the bundled files, an example's or a lesson's (opened like any file,
    never written to)."""
    return is_examples_folder(Path(path).parent)


def is_examples_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether `folder` is the bundled examples' or lessons' folder (no place for the user's files)."""
    try:
        return Path(folder).resolve() in (examples_dir(), lessons_dir().resolve())
    except OSError:
        return False
