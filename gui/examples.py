"""The bundled example networks as the window offers them: their folder and their list (name,
description and path of each, read by engine.examples). No widgets: the Examples dialog that
shows them with a picture is gui/examples_dialog.py."""

from __future__ import annotations

from engine.examples import Example, examples_dir, list_examples

__all__ = ["EXAMPLES_DIR", "Example", "list_examples"]

EXAMPLES_DIR = examples_dir()
