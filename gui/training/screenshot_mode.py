"""`python main.py FILE --train-for SECONDS --screenshot PATH.png [--tab NAME] [--size WxH]`:
open FILE, train for that long with every view live, save a screenshot of the main window, exit
(status 0, or 1 with the reason on stderr). Keeps the README's screenshots current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

TABS = ("Curves", "Boundary", "Health", "Results", "Features", "Data")
PAUSE_SETTLE_MS = 300


def wants_screenshot(argv: list[str]) -> bool:
    return "--screenshot" in argv or "--train-for" in argv


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python main.py FILE", description="Train FILE for a while and save a screenshot of the window."
    )
    parser.add_argument("file")
    parser.add_argument("--train-for", type=float, default=5.0, help="seconds of training before the shot")
    parser.add_argument("--screenshot", required=True, help="the PNG to write")
    parser.add_argument("--tab", choices=TABS, default="Curves", help="the training tab shown in the shot")
    parser.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT")
    return parser.parse_args(argv)


def run_screenshot_mode(app: QApplication, argv: list[str]) -> int:
    from gui.main_window import MainWindow

    args = parse(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = MainWindow()
    window.resize(width, height)
    window.show()
    failures: list[str] = []
    if not window.load_path(Path(args.file)):
        print(f"error: could not open {args.file}", file=sys.stderr)
        window.maybe_save = lambda: True
        window.close()
        return 1
    window.view.fit_to_view()
    session, panel = window.session, window.training_panel
    session.failed.connect(failures.append)
    panel.tabs.setCurrentIndex(TABS.index(args.tab))
    problem = session.load_data() or session.start()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        window.maybe_save = lambda: True
        window.close()
        return 1

    def shoot() -> None:
        panel.redraw(everything=True)
        window.view.fit_to_view()
        app.processEvents()
        if not window.grab().save(args.screenshot):
            failures.append(f"could not write {args.screenshot}")
        session.shutdown()
        window.maybe_save = lambda: True  # the trained result is not saved in this mode
        window.close()
        app.quit()

    def pause_then_shoot() -> None:
        # The training thread finishes its kernel call, then sends the losses and snapshot of
        # where it stopped: give them time to arrive, so the shot matches the status bar.
        session.pause()
        QTimer.singleShot(PAUSE_SETTLE_MS, shoot)

    QTimer.singleShot(int(args.train_for * 1000), pause_then_shoot)
    app.exec()
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    return 1 if failures else 0
