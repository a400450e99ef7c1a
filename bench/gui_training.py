"""Training speed with every live view on, against headless training, and GUI responsiveness.

For the spiral example and the MNIST MLP (real MNIST from ../shared/data/mnist when present, else
random data of its shape): samples/s of `Network.fit` alone, and of training from the main window
(offscreen) with the curves, boundary, health and results views all redrawing at 25 Hz; plus the
GUI thread's event latency while training, probed by a 10 ms QTimer (how late each tick fires).
Each case runs in a process of its own, where headless fits (H, on the main thread while the
window idles) and training runs from the window (G, Train pressed, weights reset before each)
alternate H G H ... G H; the ratio is the median over G runs of each run's samples/s against the
mean of its two neighbours. (On shared hosts the machine's speed drifts by up to 2x within
seconds, so only runs close in time compare; a process per run put ~10 s between neighbours.)
The session's first G run, which also builds the plots' items, is reported apart.

    python bench/gui_training.py [--repeats 15] [--cases spiral mnist]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST = ROOT.parent / "shared" / "data" / "mnist"
CASES = {"spiral": ("spiral.json", 2000), "mnist": ("mnist_mlp.json", 3)}  # example, epochs


def _network_and_data(case: str):
    import engine
    from engine.data import load_data

    name, epochs = CASES[case]
    path = ROOT / "resources" / "examples" / name
    network = engine.load(path)
    data = dict(network.spec.data)
    if case == "mnist":  # the example reads the user's download cache: use the folder, or stand-in data
        present = (MNIST / "train-images-idx3-ubyte.gz").exists()
        data = {**data, "path": str(MNIST)} if present else {"source": "npz", "path": str(_random_mnist())}
    network.spec.data = data
    dataset = load_data(data, base_dir=path.parent, dtype=network.training.dtype)
    train, val = dataset.split(float(data.get("val_split", 0.2)), int(data.get("seed", 0)))
    return network, path, train, val, epochs


def _random_mnist() -> Path:
    import numpy as np

    target = Path(tempfile.gettempdir()) / "netcanvas_random_mnist.npz"
    if not target.exists():
        rng = np.random.default_rng(0)
        np.savez(target, x=rng.random((60000, 784), dtype=np.float32), y=rng.integers(0, 10, 60000))
    return target


def run_case(case: str, repeats: int) -> dict:
    """One process: headless fits and training runs from the main window, alternated."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # The app's package first, as main.py does: it sets OpenBLAS's spin time, which OpenBLAS
    # reads once, when NumPy loads (with the default, a snapshot's matmul keeps a thread spinning
    # ~0.1 s on the core the GUI thread needs).
    import gui  # noqa: F401, I001
    from PySide6.QtWidgets import QApplication, QMessageBox

    import engine
    from gui.app import create_app
    from gui.main_window import MainWindow

    network, path, train, val, epochs = _network_and_data(case)
    reference = engine.load(path)  # the same network, trained headless on the same arrays
    app = create_app([])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.document.load_network(network, path)
    # As fast as it goes: the lesson examples open at a pace, to watch them learn.
    window.document.set_training({**network.spec.training, "epochs": epochs, "pace": None})
    if "path" in network.spec.data:  # data outside the example's folder waits for the user's Load
        window.session.allow_location(network.spec.data["path"])
    window.document.set_data(network.spec.data)
    window.maybe_save = lambda: True  # app.quit() closes the window; the trained result is not kept
    window.training_panel.redraw_hidden_tabs = True
    window.docks["training"].raise_()
    refused: list[str] = []
    QMessageBox.warning = lambda _parent, title, text, *a, **k: (
        refused.append(f"{title}: {text}"),
        app.quit(),
    )

    def headless() -> float:
        reference.reset_weights()
        started = time.perf_counter()
        reference.fit(train.x, train.y, validation_data=(val.x, val.y) if len(val) else None, epochs=epochs)
        return epochs * len(train) / (time.perf_counter() - started)

    def from_window() -> dict:
        window.training_controls.reset_weights()
        return _gui_run(app, window, refused, epochs * len(train))

    reference.fit(train.x[:256], train.y[:256], epochs=1)  # JIT warm-up (the GUI's happens on open)
    first_gui = from_window()  # the session's first run also builds the plots' items: reported apart
    rates, runs = [headless()], []
    for _ in range(repeats):
        runs.append(from_window())
        rates.append(headless())
    window.close()
    QApplication.processEvents()
    return {"headless": rates, "gui": runs, "first_gui": first_gui}


def _gui_run(app, window, refused: list[str], samples: int) -> dict:
    """Press Train, run the event loop until the result is back; samples/s and event latency."""
    from PySide6.QtCore import QTimer

    from gui.training.session import IDLE

    late: list[tuple[float, float]] = []
    last = [time.perf_counter()]
    progress_times: list[float] = []

    def tick() -> None:
        now = time.perf_counter()
        late.append((now, max(0.0, now - last[0] - 0.010)))
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    times: dict[str, float] = {}
    session = window.session
    # From when the training thread began (the GUI thread, busy repainting the window for the
    # new state, hears of it tens of ms later) to when the GUI has taken the result back.
    connections = [
        session.run_started.connect(lambda info: times.setdefault("start", info["started_at"])),
        session.finished.connect(lambda _r: times.setdefault("end", time.perf_counter())),
        # back to idle (the thread wound up): the next run can start
        session.state_changed.connect(lambda state: app.quit() if state == IDLE and "end" in times else None),
        session.progressed.connect(lambda _p: progress_times.append(time.perf_counter())),
    ]
    probe.start()
    window.training_controls.start()  # as the Train button does (waits for a background data read)
    app.exec()  # the real event loop, as in the app (it releases the GIL while waiting)
    probe.stop()
    for connection in connections:
        session.disconnect(connection)
    if refused:
        raise SystemExit(refused[0])
    # Latency while training: ticks between the first and the last batch report (not the
    # one-off work of starting the thread and of taking the result back into the document).
    delays = sorted(
        delay for at, delay in late if progress_times and progress_times[0] <= at <= progress_times[-1]
    )
    p99 = delays[int(0.99 * (len(delays) - 1))] if delays else 0.0
    return {
        "samples_per_second": samples / (times["end"] - times["start"]),
        "latency_p99_ms": 1000 * p99,
        "latency_max_ms": 1000 * (delays[-1] if delays else 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--cases", nargs="*", choices=list(CASES), help="default: all")
    parser.add_argument("--one", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.repeats)))
        return
    print(
        f"{'case':8} {'headless samples/s':>19} {'GUI samples/s':>14} {'GUI/headless (min-max)':>23} "
        f"{'first run':>10} {'p99 latency':>12} {'max latency':>12}"
    )
    for case in args.cases or list(CASES):
        out = subprocess.run(
            [sys.executable, __file__, "--one", case, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{case} failed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rates, gui = result["headless"], result["gui"]
        # Each GUI run against the mean of the headless fits just before and after it: the
        # machine's speed drifts by 2x over seconds on shared hosts, so only neighbours compare.
        ratios = [g["samples_per_second"] / ((rates[i] + rates[i + 1]) / 2) for i, g in enumerate(gui)]
        first = result["first_gui"]["samples_per_second"] / rates[0]
        h = statistics.median(rates)
        g = statistics.median(r["samples_per_second"] for r in gui)
        p99 = statistics.median(r["latency_p99_ms"] for r in gui)
        worst = max(r["latency_max_ms"] for r in gui)
        spread = f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"
        print(f"{case:8} {h:19,.0f} {g:14,.0f} {spread:>23} {first:10.0%} {p99:10.1f} ms {worst:9.1f} ms")


if __name__ == "__main__":
    main()
