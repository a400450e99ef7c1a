"""House rule 1: the engine never imports Qt, pyqtgraph or the GUI."""

import subprocess
import sys


def test_import_engine_does_not_import_qt():
    code = (
        "import sys, engine, engine.io, engine.data, engine.cli.commands\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'gui'))\n"
        "assert not bad, bad\n"
        "print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
