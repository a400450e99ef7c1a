"""TrainingControl: thread-safe pause / resume / stop / single-step requests and the pace.

The GUI thread calls the request methods; the training thread calls `wait_for_turn()` before
each batch and `take_changes()` to pick up settings changed while training runs. With a pace
(`set_pace(20)`: 20 optimizer steps a second) `wait_for_turn()` also waits for the step's turn,
on the training thread; the trainer then runs one batch per turn.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

# How far a paced run may fall behind its schedule (a slow step, a busy machine) and still catch
# up with quicker steps; beyond that the schedule restarts from now.
PACE_CATCH_UP_SECONDS = 0.1


class TrainingControl:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._paused = False
        self._stop = False
        self._step_credits = 0
        self._changes: dict[str, Any] = {}
        self._pace: float | None = None  # optimizer steps a second; None: as fast as it goes
        self._next_turn: float | None = None  # time.monotonic() of the next paced step

    def pause(self) -> None:
        with self._condition:
            self._paused = True
            self._step_credits = 0

    def resume(self) -> None:
        with self._condition:
            self._paused = False
            self._step_credits = 0
            self._condition.notify_all()

    def step(self, batches: int = 1) -> None:
        """Run exactly `batches` more batches, then stay paused."""
        with self._condition:
            self._paused = True
            self._step_credits += batches
            self._condition.notify_all()

    def stop(self) -> None:
        with self._condition:
            self._stop = True
            self._condition.notify_all()

    def set_pace(self, steps_per_second: float | None) -> None:
        """Run at most `steps_per_second` optimizer steps a second from the next step on (None:
        as fast as it goes). Takes effect at once, also during a wait for a slower pace's turn."""
        if steps_per_second is not None and not (math.isfinite(steps_per_second) and steps_per_second > 0):
            raise ValueError(f"pace: expected a positive number of steps a second, got {steps_per_second!r}")
        with self._condition:
            self._pace = None if steps_per_second is None else float(steps_per_second)
            self._next_turn = None
            self._condition.notify_all()

    @property
    def pace(self) -> float | None:
        """The chosen optimizer steps a second; None: as fast as it goes."""
        with self._condition:
            return self._pace

    def request_change(self, **changes: Any) -> None:
        """Ask for settings to change before the next batch: learning_rate=0.01, or
        regularization={node_id: {"kernel_l2": 0.001}} (merged with other nodes' pending changes)."""
        with self._condition:
            for key, value in changes.items():
                pending = self._changes.get(key)
                if isinstance(value, dict) and isinstance(pending, dict):
                    value = {**pending, **value}
                self._changes[key] = value

    def take_changes(self) -> dict[str, Any]:
        with self._condition:
            changes, self._changes = self._changes, {}
            return changes

    @property
    def paused(self) -> bool:
        with self._condition:
            return self._paused

    @property
    def one_batch_at_a_time(self) -> bool:
        """Paused (single steps) or at a pace: the trainer runs one batch per turn."""
        with self._condition:
            return self._paused or self._pace is not None

    @property
    def stop_requested(self) -> bool:
        with self._condition:
            return self._stop

    def wait_for_turn(self) -> bool:
        """Block while paused (without step credits) and, at a pace, until the step's turn; False
        once stop was requested. Single steps while paused do not wait for the pace."""
        with self._condition:
            while True:
                while self._paused and self._step_credits == 0 and not self._stop:
                    self._condition.wait()
                if self._stop:
                    return False
                if self._paused:
                    self._step_credits -= 1
                    return True
                if self._pace is None:
                    return True
                now = time.monotonic()
                if self._next_turn is None or self._next_turn < now - PACE_CATCH_UP_SECONDS:
                    self._next_turn = now
                if now >= self._next_turn:
                    self._next_turn += 1.0 / self._pace
                    return True
                self._condition.wait(self._next_turn - now)
