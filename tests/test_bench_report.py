"""The benchmark report: `python -m bench` rewrites only the marked blocks of docs/performance.md
(its run details and tables) and leaves the hand-written prose alone. Fed fake results; no
benchmark runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import run
from bench.cases import CASES

REPORT = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
BLOCKS = ("run", "throughput", "extras")
MARKER = re.compile(r"<!-- bench:(\w+):(start|end) -->")


def _fake_measurements(monkeypatch) -> None:
    """Every measurement `main` makes, replaced by made-up numbers (7777 samples/s for us)."""

    def measure_case(name, repeats, quick):
        stats = {
            impl: {"median": rate, "min": rate - 1, "max": rate + 1, "runs": repeats}
            for impl, rate in (
                ("netcanvas", 7777.0),
                ("numpy", 3333.0),
                ("torch", 2222.0),
                ("matmul", 9999.0),
                ("netcanvas-predict", 5555.0),
                ("torch-predict", 4444.0),
            )
            if impl in CASES[name].implementations
        }
        return {"case": name, "title": name, "unit": "samples/s", "stats": stats, "path": "fake path"}

    def one_shot(*args, env=None):
        if args[0] == "blas-peak":
            return {"float32": 123.0, "float64": 61.0}
        columns = {"columns": 2**19} if args[1] == "mnist-cnn-f32" else {}
        return {
            "peak": 3 * 2**20,
            "budget": 2 * 2**20,
            "params": 2**20,
            "state": 2**20,
            "activations": 2**19,
            **columns,
        }

    step = {
        "first_step": 1.5,
        "import": 0.5,
        "warmup_case": "fake",
        "warmup": 2.0,
        "step_after_warmup": 0.004,
    }
    monkeypatch.setattr(run, "measure_case", measure_case)
    monkeypatch.setattr(run, "_one_shot", one_shot)
    monkeypatch.setattr(run, "first_step_latency", lambda name: {"case": name, "cold": step, "warm": step})
    monkeypatch.setattr(
        run, "startup_time", lambda repeats: {"command": "fake", "median": 1, "min": 1, "max": 1}
    )
    monkeypatch.setattr(
        run,
        "machine",
        lambda: {
            "cpu": "Fake CPU 9000",
            "cores": 2,
            "threads": 2,
            "os": "FakeOS",
            "blas": "fakeblas 1.0",
            "versions": {"python": "3", "numpy": "2", "numba": "0", "torch": "not installed"},
        },
    )


def _outside_blocks(text: str) -> list[str]:
    """The lines outside every marked block (the hand-written part), markers included."""
    kept, inside = [], None
    for line in text.splitlines():
        match = MARKER.fullmatch(line.strip())
        if match:
            inside = match[1] if match[2] == "start" else None
            kept.append(line)
        elif inside is None:
            kept.append(line)
    return kept


def _block(text: str, name: str) -> str:
    return text.split(f"<!-- bench:{name}:start -->")[1].split(f"<!-- bench:{name}:end -->")[0]


def test_the_report_has_each_block_once():
    text = REPORT.read_text(encoding="utf-8")
    for name in BLOCKS:
        assert (
            text.count(f"<!-- bench:{name}:start -->") == 1 and text.count(f"<!-- bench:{name}:end -->") == 1
        )
    assert "| case | unit |" in _block(text, "throughput")
    assert "| measurement | result |" in _block(text, "extras")


def test_a_full_run_rewrites_the_tables_and_keeps_the_prose(tmp_path, monkeypatch):
    report = tmp_path / "performance.md"
    before = REPORT.read_text(encoding="utf-8")
    report.write_text(before, encoding="utf-8")
    _fake_measurements(monkeypatch)
    assert run.main(["--cases", "mnist-f32,wide-f32", "--output", str(report)]) == 0
    after = report.read_text(encoding="utf-8")
    assert _outside_blocks(after) == _outside_blocks(before)
    for name in BLOCKS:
        assert _block(after, name) != _block(before, name)
    assert "| mnist-f32 | samples/s | 7,777 (7,776-7,778) | 3,333 | 2,222 | 2.33x | 3.50x |" in after
    assert "| wide-f32 |" in after and "| mnist-f64 |" not in after  # the old rows are gone
    assert "mnist-f32: step time / matmul-only time | 1.29" in _block(after, "extras")
    assert "Machine: Fake CPU 9000, 2 cores" in _block(after, "run")
    assert "## How the engine gets there" in after and "## Status against the speed targets" in after


def test_a_quick_run_writes_nothing(tmp_path, monkeypatch):
    report = tmp_path / "performance.md"
    report.write_text(REPORT.read_text(encoding="utf-8"), encoding="utf-8")
    _fake_measurements(monkeypatch)
    assert run.main(["--quick", "--cases", "mnist-f32", "--output", str(report)]) == 0
    assert report.read_text(encoding="utf-8") == REPORT.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t.replace("<!-- bench:extras:end -->", ""),
        lambda t: t.replace("<!-- bench:throughput:start -->", ""),
        lambda t: t + "\n<!-- bench:run:start -->\n",
    ],
    ids=["end-missing", "start-missing", "start-twice"],
)
def test_a_missing_or_repeated_marker_is_a_clear_error_and_the_file_is_untouched(
    tmp_path, monkeypatch, damage
):
    report = tmp_path / "performance.md"
    damaged = damage(REPORT.read_text(encoding="utf-8"))
    report.write_text(damaged, encoding="utf-8")
    _fake_measurements(monkeypatch)
    with pytest.raises(run.ReportError, match=r"performance\.md: the '(extras|throughput|run)' block needs"):
        run.main(["--cases", "mnist-f32", "--output", str(report)])
    assert report.read_text(encoding="utf-8") == damaged


def test_the_cnn_rows_say_its_inference_products_and_memory(tmp_path, monkeypatch):
    report = tmp_path / "performance.md"
    report.write_text(REPORT.read_text(encoding="utf-8"), encoding="utf-8")
    _fake_measurements(monkeypatch)
    assert run.main(["--cases", "mnist-cnn-f32", "--output", str(report)]) == 0
    after = report.read_text(encoding="utf-8")
    # no NumPy reference for the CNN: said in the table, no ratio
    assert "| mnist-cnn-f32 | samples/s | 7,777 (7,776-7,778) | none | 2,222 | - | 3.50x |" in after
    extras = _block(after, "extras")
    assert (
        "| mnist-cnn-f32: inference, predict batch 256 / torch inference_mode | 1.25x "
        "(5,555 against 4,444 samples/s) |" in extras
    )
    # 9999 matmul-only against 7777 whole-step samples/s; 64 samples a step
    assert (
        "| mnist-cnn-f32: step time / matmul-only time | 1.29 (step 8.229 ms, matmuls 6.401 ms) |" in extras
    )
    gflops = 985_399_296 * 7777 / 64 / 1e9
    assert f"| mnist-cnn-f32: achieved GFLOP/s (matmul FLOPs / step time) | {gflops:.1f} GFLOP/s;" in extras
    assert (
        "| mnist-cnn-f32: peak training memory beyond the data (tracemalloc) | 3.00 MiB = 1.50x budget "
        "(params 1.00 + optimizer state 1.00 + one batch's activations 0.50 + im2col buffers 0.50 MiB) |"
        in extras
    )
    assert "mnist-f32:" not in extras
