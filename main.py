"""NetCanvas entry point.

    python main.py                 open the app with the spiral example
    python main.py FILE            open FILE in the app
    python main.py summary FILE    print the layer table
    python main.py train FILE ...  train without the GUI (see --help)

Installed, `netcanvas` is the app and `netcanvas-cli` the commands. The commands also take the
name of a bundled example as FILE (`netcanvas-cli summary spiral`).

The commands exit with 0 when done, 1 on any failure (one `error: …` line on stderr, never a
traceback) and 130 when Ctrl-C stopped training (what was learned is saved first).
"""

from __future__ import annotations

import sys

CLI_COMMANDS = ("summary", "train", "export")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in CLI_COMMANDS + ("-h", "--help"):
        from engine.cli.commands import run_cli

        return run_cli(argv)
    from gui.app import run_gui

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
