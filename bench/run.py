"""The NetCanvas benchmark suite: the engine against plain NumPy and PyTorch, in the same run.

    python -m bench                      all cases, 7 alternated repeats, updates docs/performance.md
    python -m bench --quick              smoke run: small data, 3 repeats, nothing written
    python -m bench --cases mnist-f32,playground-b1-f64 --repeats 9

Each implementation runs in a process of its own (BLAS/OpenMP pools of two libraries in one
process disturb each other), warms up (JIT, caches) and calibrates a block of about 0.6 s; then the
blocks run alternated A B C A B C ..., one process at a time, and each rate is the median of the
repeats (min and max shown). Ratios compare medians from the same run. Also measured: the matrix
products alone of the MNIST MLP and CNN steps, inference (`predict`) of the CNN, the machine's BLAS
GEMM peak, JIT compile and first-step latency with a cold and a warm Numba cache, start-up of
`python main.py train`, and peak training memory.

The report's run details and tables go between `<!-- bench:NAME:start -->` / `<!-- bench:NAME:end -->`
markers in docs/performance.md (`fill_blocks`); its prose is written by hand and left alone.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.cases import CASES, PREDICT_BATCH, flops_per_step
from bench.implementations import threads

ROOT = Path(__file__).resolve().parents[1]
HAVE_TORCH = importlib.util.find_spec("torch") is not None


class Worker:
    """A `python -m bench.worker train ...` process driven line by line."""

    def __init__(self, case: str, impl: str, quick: bool, env: dict[str, str] | None = None):
        args = [sys.executable, "-m", "bench.worker", "train", case, impl] + (["--quick"] if quick else [])
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.proc.args[3:6]} exited with {self.proc.wait()}")
        return json.loads(line)

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _one_shot(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_case(name: str, repeats: int, quick: bool) -> dict:
    case = CASES[name]
    impls = [i for i in case.implementations if HAVE_TORCH or not i.startswith("torch")]
    workers = {impl: Worker(name, impl, quick) for impl in impls}  # warm up one after another
    rates: dict[str, list[float]] = {impl: [] for impl in impls}
    try:
        for _ in range(repeats):
            for impl, worker in workers.items():
                block = worker.run()
                rates[impl].append(block["steps" if case.per_step else "samples"] / block["seconds"])
                time.sleep(0.25)  # let the finished pool's spinning threads (OpenMP) go idle
    finally:
        for worker in workers.values():
            worker.close()
    stats = {
        impl: {"median": statistics.median(r), "min": min(r), "max": max(r), "runs": len(r)}
        for impl, r in rates.items()
    }
    return {
        "case": name,
        "title": case.title,
        "unit": case.unit,
        "stats": stats,
        "path": workers["netcanvas"].info.get("path", ""),
    }


def first_step_latency(name: str) -> dict:
    """Cold Numba cache (empty NUMBA_CACHE_DIR), then warm (the same directory again)."""
    with tempfile.TemporaryDirectory(prefix="netcanvas-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = _one_shot("first-step", name, env=env)
        warm = _one_shot("first-step", name, env=env)
    return {"case": name, "cold": cold, "warm": warm}


def startup_time(repeats: int) -> dict:
    """Wall time of `python main.py train resources/examples/xor.json --epochs 1` (warm cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "main.py",
            "train",
            "resources/examples/xor.json",
            "--epochs",
            "1",
            "-o",
            str(Path(tmp) / "xor_trained.ncv"),
        ]
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True)  # warms the cache
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
    return {
        "command": " ".join(["python"] + command[1:-2]),
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
    }


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for package in ("numba", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads(),
        "os": platform.platform(),
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "versions": versions,
    }


# ------------------------------------------------------------------------------------- report
def _fmt(rate: float) -> str:
    return f"{rate:,.0f}"


def _ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}x" if b else "-"


def case_rows(result: dict) -> list[list[str]]:
    s = result["stats"]
    ours = s["netcanvas"]["median"]
    numpy_rate = s.get("numpy", {}).get("median")
    torch_rate = s.get("torch", {}).get("median")
    fused = s.get("torch-fused-adam", {}).get("median")
    # "none": the case has no NumPy reference (the CNN); "-": it was not measured in this run.
    numpy_cell = _fmt(numpy_rate) if numpy_rate else "-"
    if "numpy" not in CASES[result["case"]].implementations:
        numpy_cell = "none"
    return [
        [
            result["case"],
            result["unit"],
            f"{_fmt(ours)} ({_fmt(s['netcanvas']['min'])}-{_fmt(s['netcanvas']['max'])})",
            numpy_cell,
            _fmt(torch_rate) if torch_rate else "-",
            _ratio(ours, numpy_rate),
            _ratio(ours, torch_rate),
            _ratio(ours, fused) if fused else "",
            result["path"],
        ]
    ]


HEADER = [
    "case",
    "unit",
    "netcanvas median (min-max)",
    "numpy",
    "torch eager",
    "vs numpy",
    "vs torch",
    "vs torch fused Adam",
    "engine path",
]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header] + rows
    )


def extras_rows(
    results: list[dict], peak: dict, latencies: list[dict], startup: dict | None, memory: list[dict]
) -> list[list[str]]:
    rows = []
    for result in results:
        s = result["stats"]
        if "netcanvas-predict" in s and "torch-predict" in s:
            ours, theirs = s["netcanvas-predict"]["median"], s["torch-predict"]["median"]
            rows.append(
                [
                    f"{result['case']}: inference, predict batch {PREDICT_BATCH} / torch inference_mode",
                    f"{_ratio(ours, theirs)} ({_fmt(ours)} against {_fmt(theirs)} samples/s)",
                ]
            )
        if "matmul" not in s:
            continue
        case = CASES[result["case"]]
        steps = s["netcanvas"]["median"] / case.batch
        matmul_steps = s["matmul"]["median"] / case.batch
        gflops = flops_per_step(case) * steps / 1e9
        rows.append(
            [
                f"{result['case']}: step time / matmul-only time",
                f"{matmul_steps / steps:.2f} (step {1e3 / steps:.3f} ms, matmuls {1e3 / matmul_steps:.3f} ms)",
            ]
        )
        rows.append(
            [
                f"{result['case']}: achieved GFLOP/s (matmul FLOPs / step time)",
                f"{gflops:.1f} GFLOP/s; BLAS peak {peak.get(case.dtype, 0):.1f} GFLOP/s "
                f"({case.dtype} GEMM 2048^3, best of 5); matmul-only "
                f"{flops_per_step(case) * matmul_steps / 1e9:.1f} GFLOP/s",
            ]
        )
        for impl in ("numpy-tuned", "torch-fused-adam"):
            if impl in s:
                rows.append(
                    [
                        f"{result['case']}: netcanvas / {impl}",
                        f"{_ratio(s['netcanvas']['median'], s[impl]['median'])} "
                        f"({impl} {_fmt(s[impl]['median'])} samples/s)",
                    ]
                )
    for lat in latencies:
        cold, warm = lat["cold"], lat["warm"]
        rows.append(
            [
                f"{lat['case']}: first training step without warm-up, cold Numba cache (compile)",
                f"{cold['first_step']:.2f} s (engine import before it: {cold['import']:.2f} s)",
            ]
        )
        rows.append(
            [
                f"{lat['case']}: first training step without warm-up, warm cache (cache load)",
                f"{warm['first_step']:.3f} s (engine import before it: {warm['import']:.2f} s)",
            ]
        )
        rows.append(
            [
                f"{cold['warmup_case']}: Network.warmup() cold / warm cache, then first step",
                f"{cold['warmup']:.2f} s / {warm['warmup']:.3f} s, then "
                f"{cold['step_after_warmup'] * 1e3:.1f} / {warm['step_after_warmup'] * 1e3:.1f} ms",
            ]
        )
    if startup:
        rows.append(
            [
                f"start-up + 1 epoch: `{startup['command']}` (warm cache)",
                f"{startup['median']:.2f} s (min {startup['min']:.2f}, max {startup['max']:.2f})",
            ]
        )
    for mem in memory:
        rows.append(
            [
                f"{mem['case']}: peak training memory beyond the data (tracemalloc)",
                f"{mem['peak'] / 2**20:.2f} MiB = {mem['peak'] / mem['budget']:.2f}x budget "
                f"(params {mem['params'] / 2**20:.2f} + optimizer state {mem['state'] / 2**20:.2f} + "
                f"one batch's activations {mem['activations'] / 2**20:.2f}"
                + (f" + im2col buffers {mem['columns'] / 2**20:.2f}" if mem.get("columns") else "")
                + " MiB)",
            ]
        )
    return rows


class ReportError(ValueError):
    """The report file lacks the markers of a block the benchmark writes."""


def report_blocks(
    info: dict, argv: list[str], repeats: int, results: list[dict], extra: list[list[str]]
) -> dict[str, str]:
    """The generated parts of the report by block name: the run's details and the two tables."""
    v = info["versions"]
    command = "python -m bench" + (" " + " ".join(argv) if argv else "")
    run = f"""Command: `{command}`, {repeats} repeats.
Machine: {info["cpu"]}, {info["cores"]} cores, {info["os"]}; BLAS {info["blas"]},
{info["threads"]} threads for our BLAS and for `torch.set_num_threads`.
Versions: Python {v["python"]}, NumPy {v["numpy"]}, Numba {v["numba"]}, PyTorch {v["torch"]}.
Date: {time.strftime("%Y-%m-%d %H:%M %Z")}."""
    return {
        "run": run,
        "throughput": _table(HEADER, [row for r in results for row in case_rows(r)]),
        "extras": _table(["measurement", "result"], extra),
    }


def fill_blocks(text: str, blocks: dict[str, str], where: str) -> str:
    """`text` with the lines between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`
    replaced by `blocks[NAME]`, for every name; the hand-written rest is left as it is.
    Raises ReportError naming the block when its pair of markers is missing or repeated."""
    for name, body in blocks.items():
        start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
        counts = (text.count(start), text.count(end))
        if counts != (1, 1) or text.index(start) > text.index(end):
            raise ReportError(
                f"{where}: the '{name}' block needs one line {start} followed by one line {end} "
                f"(found {counts[0]} and {counts[1]}); add them where its table belongs"
            )
        head, rest = text.split(start, 1)
        text = f"{head}{start}\n{body.strip()}\n{end}{rest.split(end, 1)[1]}"
    return text


def write_markdown(
    path: Path, info: dict, argv: list[str], repeats: int, results: list[dict], extra: list[list[str]]
) -> None:
    """Rewrite the generated blocks of the report at `path`; the file is untouched on an error."""
    text = fill_blocks(
        path.read_text(encoding="utf-8"), report_blocks(info, argv, repeats, results, extra), str(path)
    )
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small data, 3 repeats, no file")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--repeats", type=int, default=None, help="alternated repeats (default 7; quick 3)")
    parser.add_argument(
        "--output",
        default="docs/performance.md",
        help="markdown report whose marked blocks are rewritten (not in --quick)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    info = machine()
    print(
        f"{info['cpu']} | {info['cores']} cores | {info['blas']} | threads {info['threads']} | "
        + " ".join(f"{k} {v}" for k, v in info["versions"].items()),
        flush=True,
    )
    results = []
    for name in names:
        print(f"... {name}", flush=True)
        results.append(measure_case(name, repeats, args.quick))
        print(_text_table(HEADER, case_rows(results[-1])), flush=True)
    peak = _one_shot("blas-peak")
    latencies = [first_step_latency(n) for n in ("mnist-f32", "playground-b10-f64") if n in names]
    startup = startup_time(3 if args.quick else 5)
    memory = [
        {"case": n, **_one_shot("memory", n)}
        for n in ("mnist-f32", "wide-f32", "mnist-cnn-f32")
        if n in names
    ]
    extra = extras_rows(results, peak, latencies, startup, memory)
    print()
    print(_text_table(HEADER, [row for r in results for row in case_rows(r)]))
    print()
    print(_text_table(["measurement", "result"], extra))
    if not args.quick:
        write_markdown(ROOT / args.output, info, argv, repeats, results, extra)
        print(f"\nwrote {args.output}")
    return 0
