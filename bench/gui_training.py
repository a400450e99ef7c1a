"""Training speed with every live view on, against headless training, and GUI responsiveness.

For the spiral example and the MNIST MLP (real MNIST from ../shared/data/mnist when present, else
random data of its shape): samples/s of `Network.fit` alone, and of training from the main window
(offscreen) with the curves, boundary, health and results views all redrawing at 25 Hz; plus the
GUI thread's event latency while training, probed by a 10 ms QTimer (how late each tick fires).
Each measurement runs in a fresh process; the two kinds alternate H G H ... G H, and the ratio
is the median over GUI runs of each run's samples/s against the mean of its two neighbours.

    python bench/gui_training.py [--repeats 5] [--cases spiral mnist]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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
    if case == "mnist" and not (MNIST / "train-images-idx3-ubyte.gz").exists():
        data = {"source": "npz", "path": str(_random_mnist())}
    network.spec.data = data
    dataset = load_data(data, base_dir=path.parent, dtype=network.training.dtype)
    train, val = dataset.split(float(data.get("val_split", 0.2)), int(data.get("seed", 0)))
    return network, path, train, val, epochs


def _random_mnist() -> Path:
    import numpy as np

    target = Path("/tmp/netcanvas_random_mnist.npz")
    if not target.exists():
        rng = np.random.default_rng(0)
        np.savez(target, x=rng.random((60000, 784), dtype=np.float32), y=rng.integers(0, 10, 60000))
    return target


def run_headless(case: str) -> dict:
    network, _, train, val, epochs = _network_and_data(case)
    network.fit(train.x[:256], train.y[:256], epochs=1)  # JIT warm-up, as the GUI's first step has
    network.reset_weights()
    started = time.perf_counter()
    network.fit(train.x, train.y, validation_data=(val.x, val.y) if len(val) else None, epochs=epochs)
    seconds = time.perf_counter() - started
    return {"samples_per_second": epochs * len(train) / seconds}


def run_gui(case: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from gui.app import create_app
    from gui.main_window import MainWindow

    network, path, train, _, epochs = _network_and_data(case)
    app = create_app([])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.document.load_network(network, path)
    window.document.set_training({**network.spec.training, "epochs": epochs})
    window.document.set_data(network.spec.data)
    network.fit(train.x[:256], train.y[:256], epochs=1)  # the same JIT warm-up as headless
    window.maybe_save = lambda: True  # app.quit() closes the window; the trained result is not kept
    panel = window.training_panel
    panel.redraw_hidden_tabs = True
    window.docks["training"].raise_()
    late: list[float] = []
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
    # From when the training thread began (the GUI thread, busy repainting the window for the
    # new state, hears of it tens of ms later) to when the GUI has taken the result back.
    window.session.run_started.connect(lambda info: times.setdefault("start", info["started_at"]))
    window.session.finished.connect(lambda _r: (times.setdefault("end", time.perf_counter()), app.quit()))
    window.session.progressed.connect(lambda _p: progress_times.append(time.perf_counter()))
    probe.start()
    refused: list[str] = []
    QMessageBox.warning = lambda _parent, title, text, *a, **k: (refused.append(f"{title}: {text}"), app.quit())
    window.training_controls.start()  # as the Train button does (waits for a background data read)
    app.exec()
    if refused:
        raise SystemExit(refused[0])  # the real event loop, as in the app (it releases the GIL while waiting)
    probe.stop()
    seconds = times["end"] - times["start"]
    window.close()
    QApplication.processEvents()
    # Latency while training: ticks between the first and the last batch report (not the
    # one-off work of starting the thread and of taking the result back into the document).
    late = sorted(delay for at, delay in late if progress_times and progress_times[0] <= at <= progress_times[-1])
    p99 = late[int(0.99 * (len(late) - 1))] if late else 0.0
    return {"samples_per_second": epochs * len(train) / seconds, "latency_p99_ms": 1000 * p99,
            "latency_max_ms": 1000 * (late[-1] if late else 0.0)}


def _measure(kind: str, case: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", kind, case], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="*", choices=list(CASES), help="default: all")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, case = args.one
        print(json.dumps(run_headless(case) if kind == "headless" else run_gui(case)))
        return
    print(f"{'case':8} {'headless samples/s':>19} {'GUI samples/s':>14} {'GUI/headless (min-max)':>23} "
          f"{'p99 latency':>12} {'max latency':>12}")
    for case in (args.cases or list(CASES)):
        # Alternated H G H G ... H: each GUI run is compared with the headless runs just before
        # and after it, so a machine whose speed drifts (shared hosts do) biases neither side.
        headless = [_measure("headless", case)]
        gui = []
        for _ in range(args.repeats):
            gui.append(_measure("gui", case))
            headless.append(_measure("headless", case))
        rates = [r["samples_per_second"] for r in headless]
        ratios = [g["samples_per_second"] / ((rates[i] + rates[i + 1]) / 2) for i, g in enumerate(gui)]
        h = statistics.median(rates)
        g = statistics.median(r["samples_per_second"] for r in gui)
        p99 = statistics.median(r["latency_p99_ms"] for r in gui)
        worst = max(r["latency_max_ms"] for r in gui)
        spread = f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"
        print(f"{case:8} {h:19,.0f} {g:14,.0f} {spread:>23} {p99:10.1f} ms {worst:9.1f} ms")


if __name__ == "__main__":
    main()
