"""Python's cycle collector runs only on the GUI thread once the window exists: garbage made on
a worker thread (where training runs) is collected later by the GUI thread's timer."""

from __future__ import annotations

import gc
import threading

from gui.gui_thread_gc import GuiThreadCollector, collect_on_gui_thread


class Cycle:
    """Half of a reference cycle that records on which thread it was freed."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.other = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.get_ident())


def test_cycles_made_on_a_worker_thread_are_freed_on_the_gui_thread(window, qtbot):
    assert not gc.isenabled()
    assert collect_on_gui_thread() is collect_on_gui_thread()  # one collector per application
    assert isinstance(collect_on_gui_thread(), GuiThreadCollector)
    Cycle.freed_on = []

    cycles = 4 * gc.get_threshold()[0]  # enough to pass generation 0's threshold several times

    def allocate() -> None:
        for _ in range(cycles):
            Cycle()  # unreachable at once, but only a collection frees a cycle

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert worker.ident not in Cycle.freed_on
    qtbot.waitUntil(lambda: len(Cycle.freed_on) >= cycles, timeout=5000)
    assert set(Cycle.freed_on) == {threading.get_ident()}
