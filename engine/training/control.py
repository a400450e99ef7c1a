"""TrainingControl: thread-safe pause / resume / stop / single-step requests.

The GUI thread calls the request methods; the training thread calls `wait_for_turn()` before
each batch and `take_changes()` to pick up settings changed while training runs.
"""

from __future__ import annotations

import threading
from typing import Any


class TrainingControl:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._paused = False
        self._stop = False
        self._step_credits = 0
        self._changes: dict[str, Any] = {}

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
    def stop_requested(self) -> bool:
        with self._condition:
            return self._stop

    def wait_for_turn(self) -> bool:
        """Block while paused (without step credits); False once stop was requested."""
        with self._condition:
            while self._paused and self._step_credits == 0 and not self._stop:
                self._condition.wait()
            if self._stop:
                return False
            if self._paused:
                self._step_credits -= 1
            return True
