"""The Data tab's download of MNIST / Fashion-MNIST: a button, a progress bar and Cancel.

The download (engine.data.download, pooch underneath) runs on a plain background thread that
touches no widget: it reports through a QObject's signals, which Qt queues to the GUI thread,
and stops within one chunk when Cancel sets its event. A cancelled or failed download leaves
nothing in the cache (pooch renames a file into place only after its SHA-256 matches).
"""

from __future__ import annotations

import contextlib
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from engine.data.download import DownloadCancelled, download, is_downloaded, remote_set, set_folder
from engine.errors import DataError


class _Relay(QObject):
    progressed = Signal(int, int)  # bytes done, bytes in all
    ended = Signal(str, str)  # set name, "" when done / "cancelled" / the error message


class DownloadBox(QWidget):
    """Offers a set's download while it is not in the cache; shows progress and Cancel during it."""

    finished = Signal(str, bool)  # set name, True when every file is in the cache

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name: str | None = None
        self.running: str | None = None  # the set being downloaded
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._progressed)
        self._relay.ended.connect(self._ended)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Download progress")
        self.bar.setFormat("%p%  (%v of %m kB)")
        self.start_button = QPushButton("Download")
        self.start_button.setAccessibleName("Download the data set")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.setToolTip("Stop the download; nothing half-downloaded is kept")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(row)
        # Closing the window mid-download stops the thread (the lambda holds the events, not the box).
        self._events: list[threading.Event] = []
        self.destroyed.connect(lambda *_args, events=self._events: [event.set() for event in events])
        self.show_set(None)

    def show_set(self, name: str | None) -> None:
        """Offer `name`'s download if it is missing (None or a cached set: the box hides)."""
        self.name = name
        if self.running is not None:
            return
        missing = name is not None and not is_downloaded(name)
        self.setVisible(missing)
        if missing:
            remote = remote_set(name)
            self.status.setText(
                f"<b>{remote.title} is not downloaded yet.</b> About {remote.size / 1e6:.0f} MB "
                f"go into {set_folder(name)}, once."
            )
            self.start_button.setText(f"Download {remote.title}")
            self.start_button.show()
            self.cancel_button.hide()
            self.bar.hide()

    def start(self) -> None:
        if self.name is None or self.running is not None:
            return
        name, remote = self.name, remote_set(self.name)
        self.running = name
        self._cancel = threading.Event()
        self._events[:] = [self._cancel]
        self.status.setText(f"Downloading {remote.title}…")
        self.bar.setRange(0, max(1, remote.size // 1000))
        self.bar.setValue(0)
        self.bar.show()
        self.start_button.hide()
        self.cancel_button.show()
        self.cancel_button.setFocus()
        self._thread = threading.Thread(
            target=self._run,
            args=(name, self._cancel, self._relay),
            name=f"NetCanvas {name} download",
            daemon=True,
        )
        self._thread.start()

    @staticmethod
    def _run(name: str, cancel: threading.Event, relay: _Relay) -> None:
        """On the download thread: engine calls and signal emits only."""
        last = [-1]

        def progress(done: int, total: int) -> None:
            step = done * 200 // max(total, 1)  # at most 200 updates
            if step != last[0]:
                last[0] = step
                with contextlib.suppress(RuntimeError):
                    relay.progressed.emit(done // 1000, total // 1000)

        try:
            download(name, progress=progress, cancel=cancel)
        except DownloadCancelled:
            outcome = "cancelled"
        except DataError as exc:
            outcome = str(exc)
        else:
            outcome = ""
        with contextlib.suppress(RuntimeError):  # the window was closed meanwhile
            relay.ended.emit(name, outcome)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def wait(self, timeout: float | None = None) -> None:
        """Block until the download thread has ended (for closing the window and for tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _progressed(self, done_kb: int, total_kb: int) -> None:
        self.bar.setRange(0, max(total_kb, 1))
        self.bar.setValue(min(done_kb, total_kb))

    def _ended(self, name: str, outcome: str) -> None:
        self.running, self._cancel, self._thread = None, None, None
        title = remote_set(name).title
        self.show_set(self.name)
        if outcome == "cancelled":
            self.status.setText(
                f"<b>Download of {title} cancelled.</b> No half-downloaded file "
                "was kept; Download fetches the files still missing."
            )
        elif outcome:
            self.status.setText(f"<b>{title} could not be downloaded:</b> {outcome}")
        self.finished.emit(name, not outcome)
