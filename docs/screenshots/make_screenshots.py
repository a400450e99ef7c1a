"""Regenerate the README / docs screenshots offscreen.

    python docs/screenshots/make_screenshots.py [--size 1280x800] [--out docs/screenshots] [--theme light]

Writes main-window.png (the spiral example), shape-error.png (a Dense straight after a 28x28
Input: badge and Problems list) and inspector-activation.png (a sigmoid Dense selected). The
app's real settings are never touched: a throwaway INI file holds them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import engine  # noqa: E402, F401  (registers the layer types)
from gui.app_settings import AppSettings  # noqa: E402
from gui.examples import EXAMPLES_DIR  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.theme import apply_theme  # noqa: E402


def settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def new_window(app: QApplication, size: tuple[int, int], settings_path: Path) -> MainWindow:
    window = MainWindow(settings=AppSettings(QSettings(str(settings_path), QSettings.Format.IniFormat)))
    window.resize(*size)
    window.show()
    settle(app)
    return window


def shoot(app: QApplication, window: MainWindow, path: Path) -> None:
    window.statusBar().clearMessage()
    settle(app)
    window.view.fit_to_view()
    settle(app)
    window.grab().save(str(path))
    print(f"wrote {path} ({window.width()}x{window.height()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--theme", default="light", choices=("light", "dark"))
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    apply_theme(app, args.theme)
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "settings.ini"

        window = new_window(app, size, ini)
        window.load_path(EXAMPLES_DIR / "spiral.json")
        shoot(app, window, out / "main-window.png")

        doc = window.document
        doc.new_document()
        first = doc.add_node("Input", (0, 0), {"shape": [28, 28]})
        dense = doc.add_node("Dense", (240, 0), {"units": 128, "activation": "relu"})
        out_id = doc.add_node("Dense", (480, 0), {"units": 10, "activation": "softmax"})
        doc.connect(first, dense)
        doc.connect(dense, out_id)
        window._raise_dock("problems")
        doc.set_selection([dense])
        shoot(app, window, out / "shape-error.png")

        window.load_path(EXAMPLES_DIR / "xor.json")
        hidden = next(i for i, n in doc.spec.nodes.items() if n.type == "Dense")
        doc.set_node_params(hidden, {"activation": "sigmoid"})
        doc.set_selection([hidden])
        shoot(app, window, out / "inspector-activation.png")

        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
        settle(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
