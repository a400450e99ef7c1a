"""TrainingSession: the GUI thread's side of a training run.

It loads the document's data, checks that it fits the network, trains a copy of the document's
network in a worker thread (`TrainingWorker`), relays the worker's signals to the views, and when
the run ends puts the weights, optimizer state and history back into the document as one undoable
"Train" entry (so Save writes a trained file, and Undo returns to the untrained weights).

The data it holds always belongs to the document's data section: when the document changes to one
whose data section (or file folder) differs, `dataset`, `train_set` and `val_set` become None and
`data_changed` is emitted (views show their empty state) before the new data is read in the
background; `data_changed` is emitted again when it is in. A run still going when the document is
replaced is stopped and its results are dropped: nothing of the previous file reaches the views.

Data outside the network file's folder and the user's data cache, as an opened file names it, is
not read in the background: a network file may name any path. It is read when the user asks
(`allow_location`: the Data tab's Load button) or, after `ask_to_read_outside` says yes, on
Train. A data section set by an edit in this session (a file chosen in the Data tab) was chosen
by the user and is read wherever it is; undoing back to the opened file's own section does not
read that.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal

from engine import data_fit
from engine.data import Dataset, load_data
from engine.data.files import real_location
from engine.data.sources import reads_outside
from engine.data_fit import FitProblem
from engine.errors import NetCanvasError
from engine.network import Network
from engine.runs import GradientNormLog
from engine.training.control import TrainingControl
from gui.commands import NetworkState
from gui.document import NetworkDocument
from gui.training.worker import EpochReport, TrainingProgress, TrainingResult, TrainingWorker

IDLE, RUNNING, PAUSED = "idle", "running", "paused"


class TrainingSession(QObject):
    state_changed = Signal(str)  # IDLE, RUNNING or PAUSED
    run_started = Signal(dict)  # TrainingWorker.started's dict
    progressed = Signal(object)  # TrainingProgress
    snapshot_taken = Signal(object)  # engine.training.monitor.MonitorSnapshot
    epochs_ended = Signal(list)  # [EpochReport] since the last bundle
    finished = Signal(object)  # TrainingResult
    failed = Signal(str)  # why a run diverged or failed (after `finished`), for gui.errors
    data_changed = Signal()  # self.dataset replaced, or forgotten (None) for a new data section
    data_unreadable = Signal()  # the chosen data could not be read: fit_problems() says why
    edit_marked = Signal(int, str)  # optimizer step, what changed (marked on the curves)
    preload_failed = Signal(str)  # why the data section could not be read in the background
    preload_finished = Signal()  # a background read ended (whether or not its data was kept)
    _preloaded = Signal(object)  # (data key, dataset, train set, validation set) from a loader thread
    _preload_error = Signal(str, str)  # (data key, message) from a loader thread

    def __init__(self, document: NetworkDocument, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.state = IDLE
        self.dataset: Dataset | None = None
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.control: TrainingControl | None = None
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.batches_per_epoch = 1
        self.steps_seen = 0
        self.sample_index = 0  # the image whose feature maps are shown (worker.sample_source's)
        self._before: NetworkState | None = None
        self.gradient_norms = GradientNormLog(0, 1)  # per-layer gradient norms of the run going on
        self._structure = 0  # the document's structure version when the run started
        self._discarded = False  # the document was replaced during the run: drop what it sends
        self._data_key: str | None = None
        self._preloading: str | None = None  # key of the data a loader thread is reading
        self._unreadable: tuple[str, str] | None = None  # (data key, why it could not be read)
        self._allowed: set[Path] = set()  # data locations outside the file's folder the user asked for
        self._file_location: Path | None = None  # the outside data the opened file itself names
        # Asked before Train reads data outside the network file's folder: True to read it.
        self.ask_to_read_outside: Callable[[Path], bool] | None = None
        self._preloaded.connect(self._take_preloaded)
        self._preload_error.connect(self._preload_problem)
        document.document_reset.connect(self._document_reset)
        document.settings_changed.connect(self._data_edited)

    def _document_reset(self) -> None:
        if self.state != IDLE:
            self._discarded = True
            self.stop()
        self._forget_stale_data()
        self._file_location = reads_outside(self._data_request()[0], self._data_base())
        self.warm_up()

    def _data_edited(self) -> None:
        """A data section set by an edit was the user's choice: allow where it reads (see the
        module doc; the opened file's own outside data still waits for Load)."""
        location = reads_outside(self._data_request()[0], self._data_base())
        if location is not None and location != self._file_location:
            self.allow_location(location)

    def _forget_stale_data(self) -> None:
        """Drop the loaded data when a new document asks for other data (see the module doc). (An
        edit of the data section keeps it until the new data is in: a file that fails to load
        leaves the previous data in use.)"""
        if self.dataset is not None and self._data_request()[1] != self._data_key:
            self.dataset = self.train_set = self.val_set = None
            self._data_key = None
            self.data_changed.emit()

    def warm_up(self) -> None:
        """Load the data and compile (or load from Numba's cache) the kernels this network trains
        with, in background threads, so pressing Train does not freeze (MNIST takes ~1.3 s to
        read, the kernels ~0.4 s to load)."""
        self.preload_data()
        if self.document.shape_report.problems or not self.document.spec.nodes:
            return
        network = Network(self.document.spec.copy())
        threading.Thread(target=_warm_up, args=(network,), name="NetCanvas JIT warm-up", daemon=True).start()

    # ------------------------------------------------------------------ data
    def load_data(self, force: bool = False) -> str | None:
        """Load the document's data section; None, or the loader's message (the old data stays)."""
        config, key = self._data_request()
        if not force and key == self._data_key and self.dataset is not None:
            return None
        if not config:
            return "the network has no data source: choose one in the Data tab"
        held = self.held_location()
        if held is not None:
            if self.ask_to_read_outside is None or not self.ask_to_read_outside(held):
                return f"the data was not read: {held} is outside the network file's folder (Load reads it)"
            self.allow_location(held)
        try:
            loaded = _load_and_split(config, self._data_base(), self.document.network.training.dtype)
        except (NetCanvasError, OSError) as exc:
            self._unreadable = (key, str(exc))
            self.data_unreadable.emit()
            return str(exc)
        self._install_data(key, *loaded)
        return None

    def _data_request(self) -> tuple[dict, str]:
        """The document's data section and the key its loaded data is kept under."""
        config = dict(self.document.spec.data)
        return config, repr(sorted(config.items())) + str(self.document.path)

    def _data_base(self) -> Path:
        return self.document.path.parent if self.document.path is not None else Path.cwd()

    def held_location(self) -> Path | None:
        """The file or folder the data section names when it lies outside the network file's
        folder and the data cache and the user has not asked for it: it is then not read by itself."""
        location = reads_outside(self._data_request()[0], self._data_base())
        return None if location is None or location in self._allowed else location

    def allow_location(self, path: str | Path) -> None:
        """Let data at `path` (a file chosen in a dialog, or Load pressed) be read from now on."""
        self._allowed.add(real_location(Path(path)))

    def _install_data(self, key: str, dataset: Dataset, train_set: Dataset, val_set: Dataset) -> None:
        self.dataset, self.train_set, self.val_set, self._data_key = dataset, train_set, val_set, key
        self.data_changed.emit()

    def preload_data(self) -> None:
        """Read the data section in a background thread, so neither opening a file nor pressing
        Train freezes the window (MNIST takes ~1.3 s). A failure is reported by `preload_failed`;
        Train loads again and shows the message. Data outside the file's folder waits (module doc)."""
        config, key = self._data_request()
        if not config or key == self._preloading or (key == self._data_key and self.dataset is not None):
            return
        if self.held_location() is not None:  # the Data tab offers Load instead
            return
        self._preloading = key
        args = (key, config, self._data_base(), self.document.network.training.dtype)
        threading.Thread(
            target=self._load_in_background, args=args, name="NetCanvas data preload", daemon=True
        ).start()

    def _load_in_background(self, key: str, config: dict, base: Path, dtype: str) -> None:
        """Runs on the loader thread: touches no widget and no session state, only emits."""
        try:
            loaded = _load_and_split(config, base, dtype)
        except (NetCanvasError, OSError, ValueError) as exc:
            result, signal = (key, str(exc)), self._preload_error
        else:
            result, signal = ((key, *loaded),), self._preloaded
        with contextlib.suppress(RuntimeError):  # the session was deleted meanwhile
            signal.emit(*result)

    def data_pending(self) -> bool:
        """True while a background thread reads the data the document asks for."""
        key = self._data_request()[1]
        return self._preloading == key and not (key == self._data_key and self.dataset is not None)

    def _take_preloaded(self, loaded: tuple) -> None:
        """On the GUI thread: keep preloaded data if the data section is still the one it was read for."""
        key = loaded[0]
        if key == self._preloading:
            self._preloading = None
        if key == self._data_request()[1] and not (key == self._data_key and self.dataset is not None):
            self._install_data(*loaded)
        self.preload_finished.emit()

    def _preload_problem(self, key: str, message: str) -> None:
        if key == self._preloading:
            self._preloading = None
        if key == self._data_request()[1]:
            self._unreadable = (key, message)
            self.preload_failed.emit(message)
            self.data_unreadable.emit()
        self.preload_finished.emit()

    def fit_problems(self) -> list[FitProblem]:
        """Where the data does not fit the network (`engine.data_fit`), each with the fix to offer:
        "no data chosen" without a data section, why the chosen data could not be read; nothing
        about data that is not read yet (the check is asked again on `data_changed`)."""
        config, key = self._data_request()
        if config and (self.dataset is None or key != self._data_key):
            if self._unreadable is not None and self._unreadable[0] == key:
                return [FitProblem(f"the data could not be read: {self._unreadable[1]}")]
            return []
        return data_fit.fit_problems(
            self.document.spec,
            self.document.shape_report,
            self.document.network.training,
            self.dataset if config else None,
        )

    # -------------------------------------------------------------- controls
    def start(self, paused_steps: int = 0) -> str | None:
        """Begin a run (or, with `paused_steps`, run that many batches and wait). None, or why not."""
        if self.state != IDLE:
            return "training is already running"
        if self.document.shape_report.problems:
            first = self.document.shape_report.problems[0]
            return f"fix the network first: {first.message}"
        problem = self.load_data()
        if problem:
            return problem
        # The worker's own copy to train on, and the state before the run (kept for Undo).
        network, self._before, self._structure = self.document.copy_for_training()
        network.scaler = self.dataset.scaler
        self._discarded = False
        self.control = TrainingControl()
        if paused_steps:
            self.control.step(paused_steps)
        val = self.val_set if self.val_set is not None and len(self.val_set) else None
        classes = int(self.dataset.n_classes or 2) if self.dataset.task == "classification" else None
        self.worker = TrainingWorker(
            network,
            self.train_set.x,
            self.train_set.y,
            (val.x, val.y) if val is not None else None,
            self.control,
            classes,
            self.sample_index,
        )
        self.batches_per_epoch = max(1, -(-len(self.train_set) // network.training.batch_size))
        self.steps_seen = self._before.history.steps
        self.gradient_norms = GradientNormLog(self.steps_seen, self.batches_per_epoch)  # for the Run
        self.thread = QThread(self)
        self.thread.setObjectName("NetCanvas training")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # (methods of this object, so that they run on the GUI thread, queued, where `_discarded`
        # is known: a closure would run on the training thread as the worker emits)
        self.worker.started.connect(self._started)
        self.worker.progressed.connect(self._progressed)
        self.worker.snapshot_taken.connect(self._snapshot_taken)
        self.worker.epochs_ended.connect(self._epochs_ended)
        self.worker.finished.connect(self._finished)
        self.worker.finished.connect(self.thread.quit)
        self.thread.finished.connect(self._thread_done)
        self._set_state(PAUSED if paused_steps else RUNNING)
        # Python's full collections scan every tracked object, and the window holds hundreds of
        # thousands (Qt wrappers, plot items): one took ~110 ms of GIL on the GUI thread at a run's start.
        # Frozen objects are skipped until the run ends; what the run allocates is still collected.
        gc.freeze()
        self.thread.start()
        return None

    def choose_sample(self, index: int) -> None:
        """Show the feature maps of image `index` (of the validation set, else the training set),
        from the next snapshot of a run on."""
        self.sample_index = index
        if self.worker is not None:
            self.worker.choose_sample(index)

    def pause(self) -> None:
        if self.state == RUNNING and self.control is not None:
            self.control.pause()
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self.state == PAUSED and self.control is not None:
            self.control.resume()
            self._set_state(RUNNING)

    def step(self, batches: int = 1) -> str | None:
        """Run exactly `batches` more batches, then pause (starting a paused run if idle)."""
        if self.state == IDLE:
            return self.start(paused_steps=batches)
        self.control.step(batches)
        self._set_state(PAUSED)
        return None

    def step_epoch(self) -> str | None:
        if self.state == IDLE:
            problem = self.load_data()
            if problem:
                return problem
            batch_size = self.document.network.training.batch_size
            return self.start(paused_steps=max(1, -(-len(self.train_set) // batch_size)))
        return self.step(self.batches_per_epoch)

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()

    def set_learning_rate(self, value: float) -> None:
        """Change the learning rate of the running training (from its next batch on)."""
        if self.control is not None and self.state != IDLE:
            self.control.request_change(learning_rate=float(value))
            self.edit_marked.emit(self.steps_seen, f"lr {value:g}")

    def set_regularization(self, node_id: str, values: dict[str, float]) -> None:
        if self.control is not None and self.state != IDLE:
            self.control.request_change(regularization={node_id: dict(values)})
            text = ", ".join(f"{k} {v:g}" for k, v in values.items())
            self.edit_marked.emit(self.steps_seen, f"{node_id}: {text}")

    def reset_weights(self) -> None:
        """Fresh weights, as an undo entry (the views follow the document's `weights_changed`)."""
        if self.state == IDLE:
            self.document.reset_weights()

    def shutdown(self) -> None:
        """Stop a run and wait for its thread (window closing). The wait has no time limit: a
        stop takes effect between batches, but a first-time JIT compile (a fresh install, ~10 s)
        cannot be interrupted, and a QThread destroyed while running aborts the process."""
        if self.thread is not None and self.thread.isRunning():
            self.stop()
            self.thread.quit()
            self.thread.wait()
            # Deliver the worker's queued "finished" now, so the trained weights reach the
            # document before the window asks whether to save it.
            QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall)

    # ------------------------------------------------------------- internals
    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    # The worker's data goes on to the views unless the run was discarded.
    def _started(self, info: dict) -> None:
        if not self._discarded:
            self.run_started.emit(info)

    def _snapshot_taken(self, snapshot: object) -> None:
        if not self._discarded:
            norms = {layer.node_id: layer.gradient_norm for layer in snapshot.layers}
            self.gradient_norms.add(snapshot.step, norms)
            self.snapshot_taken.emit(snapshot)

    def _epochs_ended(self, reports: list) -> None:
        if not self._discarded:
            self.epochs_ended.emit(reports)

    def _progressed(self, progress: TrainingProgress) -> None:
        if self._discarded:
            return
        self.steps_seen = progress.first_step + len(progress.losses) - 1  # (first_step counts its batch)
        self.progressed.emit(progress)

    def _finished(self, result: TrainingResult) -> None:
        if self._discarded:
            return
        trained = result.steps > self._before.history.steps
        if trained and not self.document.finish_training(
            self._before, self.worker.network, self._structure, result.reason, self.gradient_norms
        ):
            result.reason, result.message = (
                "failed",
                "the network was edited while it trained, so the run's weights no longer fit it and were not kept",
            )
        self.finished.emit(result)  # (first: the views show the run's end behind the error)
        if result.reason in ("diverged", "failed"):
            self.failed.emit(result.message)

    def _thread_done(self) -> None:
        self.thread.deleteLater()
        # Not the worker's deleteLater: it lives in the thread that just finished, which runs no
        # more events, so it (with its network and data) would never be deleted. Its thread done,
        # dropping the last reference deletes it here.
        self.thread, self.worker, self.control = None, None, None
        gc.unfreeze()
        self._set_state(IDLE)


def _load_and_split(config: dict, base: Path, dtype: str) -> tuple[Dataset, Dataset, Dataset]:
    """The data set of a data section, and its training and validation parts."""
    dataset = load_data(config, base_dir=base, dtype=dtype)
    train_set, val_set = dataset.split(float(config.get("val_split", 0.2)), int(config.get("seed", 0)))
    return dataset, train_set, val_set


def _warm_up(network: Network) -> None:
    # A network that cannot train says why when Train is pressed; here it just is not warmed.
    with contextlib.suppress(NetCanvasError, ValueError, FloatingPointError):
        network.warmup()


__all__ = ["IDLE", "PAUSED", "RUNNING", "EpochReport", "FitProblem", "TrainingSession"]
