"""A text progress bar per epoch for the headless trainer."""

from __future__ import annotations

import time
from typing import TextIO

from engine.training.callbacks import BatchEnd, Callback, EpochEnd

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1


class ProgressPrinter(Callback):
    """Redraws one line per epoch on a terminal (≤ 10 times a second); on a pipe, prints one
    line at each epoch's end."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = stream.isatty()
        self.last_draw = 0.0
        self.epoch_started = time.perf_counter()
        self.samples = 0

    def on_batch_end(self, event: BatchEnd) -> None:
        if event.batch == 0:
            self.epoch_started = time.perf_counter()
            self.samples = 0
        self.samples += event.size
        now = time.perf_counter()
        if not self.interactive or now - self.last_draw < REDRAW_SECONDS:
            return
        self.last_draw = now
        done = (event.batch + 1) / event.batches_per_epoch
        bar = "=" * int(done * BAR_WIDTH)
        rate = self.samples / max(now - self.epoch_started, 1e-9)
        self.stream.write(
            f"\rEpoch {event.epoch + 1} [{bar:<{BAR_WIDTH}}] {event.batch + 1}/{event.batches_per_epoch}"
            f"  loss {event.loss:.4f}  {rate:,.0f} samples/s "
        )
        self.stream.flush()

    def on_epoch_end(self, event: EpochEnd) -> None:
        numbers = "  ".join(f"{k} {v:.4f}" for k, v in event.logs.items() if k != "lr")
        prefix = "\r" if self.interactive else ""
        of = f"/{event.epochs}" if event.epochs else ""  # (0: until stopped)
        self.stream.write(
            f"{prefix}Epoch {event.epoch + 1}{of}  {numbers}  "
            f"{event.samples_per_second:,.0f} samples/s  {event.seconds:.1f}s\n"
        )
        self.stream.flush()


class DownloadPrinter:
    """`progress(done, total)` for a data download: a byte-count bar redrawn in place on a
    terminal (≤ 10 times a second), one line at the end on a pipe."""

    def __init__(self, stream: TextIO, title: str = "Downloading"):
        self.stream = stream
        self.title = title
        self.interactive = stream.isatty()
        self.last_draw = 0.0
        self.ended = False  # the last line is written once, however often 100% is reported

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        now = time.perf_counter()
        if self.ended or (not finished and (not self.interactive or now - self.last_draw < REDRAW_SECONDS)):
            return
        self.ended = finished
        self.last_draw = now
        bar = "=" * int(done / max(total, 1) * BAR_WIDTH)
        text = f"{self.title} [{bar:<{BAR_WIDTH}}] {done / 1e6:.1f} / {total / 1e6:.1f} MB"
        self.stream.write(("\r" if self.interactive else "") + text + ("\n" if finished else ""))
        self.stream.flush()
