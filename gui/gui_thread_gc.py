"""Python's cycle collector runs on the GUI thread only, from a timer.

Automatic collection runs on whichever thread allocates when a generation's threshold is passed:
in this app often the training thread, the kernels' worker threads or the background compiler.
A collection there that frees a cycle holding Qt objects (a closed panel's plot items, a widget
and the closures of its slots) destroys them off the GUI thread, which Qt does not allow; the
process then crashes far from the cause (seen as a segfault inside pyqtgraph's
GraphicsLayout.clear and as an abort inside a collection while the warm-up thread compiled). So
automatic collection is switched off and a timer on the GUI thread collects by the same
thresholds instead, as pyqtgraph's own GarbageCollector does. Reference counting, which frees
almost everything, is unchanged.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

CHECK_INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Collects, on the thread it lives on, each generation whose count passed its threshold."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(CHECK_INTERVAL_MS)
        gc.disable()

    def check(self) -> None:
        """As the automatic collector would: generation 0 past its threshold, and the older ones
        when their own counts have passed theirs."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return


def collect_on_gui_thread() -> GuiThreadCollector | None:
    """Install the collector on the running QApplication once (later calls return the same one);
    None without an application."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    collector = app.findChild(GuiThreadCollector)
    if collector is None:
        collector = GuiThreadCollector(app)
        collector.setObjectName("gui_thread_gc")
    return collector
