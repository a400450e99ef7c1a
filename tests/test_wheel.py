"""Installed as a package (a wheel, not the source tree), NetCanvas still has its examples.

Builds the wheel from a copy of the project, installs it into a fresh virtual environment (it sees
the system's numpy/numba/PySide6; the project's own editable install is there too, so the test checks
that the venv's copy is the one imported) and runs the installed commands from another folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pyproject.toml", "README.md", "main.py", "engine", "gui", "resources")
BIN = "Scripts" if os.name == "nt" else "bin"
GUI_CHECK = """
import sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
import engine, gui.examples, gui.examples_dialog
from gui.app import DEFAULT_EXAMPLE
from gui.main_window import MainWindow
from gui.app_settings import AppSettings
examples = gui.examples.list_examples()
picture = gui.examples_dialog.render_preview(examples[0].path)
window = MainWindow(settings=AppSettings(QSettings(sys.argv[1], QSettings.Format.IniFormat)))
menu = [a.text() for a in window.actions_.menus["examples"].actions() if a.text()]
assert window.load_path(DEFAULT_EXAMPLE)
print(len(examples), picture.width(), len(menu), window.document.path.name, window.document.spec.metadata["name"])
window.session.shutdown()
window.maybe_save = lambda: True
window.close()
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_project(target: Path) -> Path:
    """The files the wheel is built from, copied so the build writes nothing into the repository."""
    target.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def build_options() -> list[str]:
    """Build with the installed setuptools when it is new enough (no index needed), else isolated."""
    version = importlib.metadata.version("setuptools")
    return ["--no-build-isolation"] if int(version.split(".")[0]) >= 77 else []


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """A wheel built from the project and a venv with it installed (no dependencies: the system's)."""
    base = tmp_path_factory.mktemp("wheel")
    source = copy_project(base / "src")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        *build_options(),
        "-w",
        base / "dist",
        source,
        cwd=base,
        env=clean_env(),
    )
    wheel = next((base / "dist").glob("netcanvas-*.whl"))
    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv, cwd=base)
    python = venv / BIN / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=base,
        env=clean_env(),
    )
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "cwd": elsewhere}


def test_the_wheel_holds_every_example_and_lesson_file(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    bundled = [p.name for p in (ROOT / "resources" / "examples").iterdir() if p.is_file()]
    assert {"spiral.json", "tiny_3_5_1.json", "sphere_3d.csv"} <= set(bundled)
    assert [n for n in bundled if f"netcanvas_resources/examples/{n}" not in names] == []
    lessons = [p.name for p in (ROOT / "resources" / "lessons").iterdir() if p.is_file()]
    assert {"01_neuron.json", "01_neuron.md", "sphere_3d.csv"} <= set(lessons)
    assert [n for n in lessons if f"netcanvas_resources/lessons/{n}" not in names] == []


def test_installed_cli_summarises_an_example_by_name_from_another_folder(installed):
    out = run(
        installed["venv"] / BIN / "netcanvas-cli", "summary", "spiral", cwd=installed["cwd"], env=clean_env()
    )
    assert 'Network "Spiral"' in out
    assert "Layer (type)" in out and "Total params:" in out
    where = run(
        installed["python"],
        "-c",
        "import engine, engine.examples as e; print(engine.__file__); print(e.examples_dir())",
        cwd=installed["cwd"],
        env=clean_env(),
    ).split()
    venv = installed["venv"].resolve()
    assert Path(where[0]).resolve().is_relative_to(venv), f"engine imported from {where[0]}, not the venv"
    assert Path(where[1]).is_relative_to(venv) and Path(where[1]).name == "examples"


def test_installed_app_opens_the_spiral_and_lists_the_examples(installed, tmp_path):
    out = run(
        installed["python"],
        "-c",
        GUI_CHECK,
        tmp_path / "settings.ini",
        cwd=installed["cwd"],
        env=clean_env(QT_QPA_PLATFORM="offscreen"),
    )
    count, picture_width, menu_entries, opened, name = out.split(maxsplit=4)
    assert int(count) == len(list((ROOT / "resources" / "examples").glob("*.json")))
    assert int(picture_width) > 0
    assert int(menu_entries) > int(count)  # each example, then Browse Examples…
    assert (opened, name.strip()) == ("spiral.json", "Spiral")


def test_an_editable_install_reads_the_examples_through_the_package(tmp_path):
    """`pip install -e .` (the README's way) maps netcanvas_resources onto the checkout's resources/."""
    source = copy_project(tmp_path / "src")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv, cwd=tmp_path)
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / BIN / "python",
        "install",
        "--no-deps",
        *build_options(),
        "-e",
        source,
        cwd=tmp_path,
        env=clean_env(),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        venv / BIN / "python",
        "-c",
        "import importlib.resources as r, engine.examples as e;"
        " print(r.files('netcanvas_resources')); print(e.examples_dir())",
        cwd=elsewhere,
        env=clean_env(),
    ).split()
    assert [Path(w).resolve() for w in where] == [
        source.resolve() / "resources",
        source.resolve() / "resources" / "examples",
    ]
    out = run(venv / BIN / "netcanvas-cli", "summary", "tiny_3_5_1", cwd=elsewhere, env=clean_env())
    assert 'Network "3-5-1 classifier"' in out and "Total params: 26" in out


def test_every_package_of_the_source_tree_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("engine", "gui")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert set(config["packages"]) == found | {"netcanvas_resources"}
    assert config["package-dir"] == {"netcanvas_resources": "resources"}
