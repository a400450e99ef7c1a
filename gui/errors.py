"""The one place an error reaches the user.

Whatever failed (a network file that cannot be opened or saved, data that cannot be read or does
not let training start, an export or import that fails, a run that diverged, an exception nothing
caught) is shown by `show_error`: a message box over the window of `parent`, titled with what the
user was doing, with the engine's message (what was expected, what was received). The main window's
`show_error` and the uncaught-error router (gui/app.py) come here too.

Questions (Save/Discard, read data outside the folder?, apply this fix?) are not errors: they stay
with the code that asks them. A test checks that no other module calls `QMessageBox.critical` or
`QMessageBox.warning`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """Show `message` under `title` and wait until the user closes it."""
    QMessageBox.critical(parent, title, message)
