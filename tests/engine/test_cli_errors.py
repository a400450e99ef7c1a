"""The command line's failures: one `error: …` line and exit 1 (130 after Ctrl-C), never a
traceback; output paths checked before any work; a diverged run exits non-zero."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.cli import failures
from engine.cli.commands import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
MUTATION_CASES = 200


@pytest.fixture(autouse=True)
def log_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setattr(failures, "log_dir", lambda: folder)
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = run_cli(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A byte flip, a truncation, or both."""
    data = bytearray(data)
    kind = rng.choice(("flip", "truncate", "both"))
    if kind in ("flip", "both"):
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    if kind in ("truncate", "both"):
        del data[rng.randrange(1, len(data)) :]
    return bytes(data)


def test_summary_of_mutated_files_is_a_table_or_one_error_line(tmp_path, capsys):
    trained = tmp_path / "xor.ncv"
    engine.save(engine.load(EXAMPLES / "xor.json"), trained)
    sources = [*sorted(EXAMPLES.glob("*.json")), trained]
    rng = random.Random(19)
    outcomes = {0: 0, 1: 0}
    for case in range(MUTATION_CASES):
        source = sources[case % len(sources)]
        path = tmp_path / f"case{case}{source.suffix}"
        path.write_bytes(mutate(source.read_bytes(), rng))
        code, out, err = run(capsys, "summary", str(path))
        assert code in (0, 1), (path, err)
        outcomes[code] += 1
        if code == 1:
            assert_one_error_line(err)
            assert out == ""
        else:
            assert "Traceback" not in err and "Total params" in out
    assert outcomes[1] > MUTATION_CASES // 4  # most mutations really break the file


def test_an_unexpected_exception_is_one_line_naming_the_log(capsys, monkeypatch, log_dir):
    def broken(*_args, **_kwargs):
        raise RuntimeError("kernel state lost\nsecond line " + "x" * 500)

    monkeypatch.setattr(engine, "load", broken)
    code, _, err = run(capsys, "summary", str(EXAMPLES / "xor.json"))
    assert code == 1
    line = assert_one_error_line(err)
    log = log_dir / failures.LOG_NAME
    assert line.startswith("error: unexpected RuntimeError: kernel state lost second line xxx")
    assert line.endswith(f"; the full traceback is in {log}")
    message = line[len("error: unexpected RuntimeError: ") : line.index("; the full traceback")]
    assert len(message) <= 80
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "kernel state lost" in text


def test_memory_error_is_one_line(capsys, monkeypatch):
    def exhausted(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(engine, "load", exhausted)
    code, _, err = run(capsys, "summary", str(EXAMPLES / "xor.json"))
    assert code == 1
    assert "out of memory" in assert_one_error_line(err)


def test_whatever_the_data_loader_raises_is_one_line(capsys, monkeypatch):
    import engine.data

    def loader(*_args, **_kwargs):
        raise ValueError("could not convert string to float: '\\x00\\x00'")

    monkeypatch.setattr(engine.data, "load_data", loader)
    code, _, err = run(capsys, "train", "xor", "-o", str(Path.cwd() / "never.ncv"))
    assert code == 1
    assert "unexpected ValueError: could not convert" in assert_one_error_line(err)
    assert not (Path.cwd() / "never.ncv").exists()


def test_ctrl_c_before_training_is_one_line_and_130(capsys, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "load", interrupted)
    code, _, err = run(capsys, "summary", "xor")
    assert code == 130
    assert "nothing was saved" in assert_one_error_line(err)


def test_export_to_a_missing_folder_fails_naming_it(tmp_path, capsys):
    code, _, err = run(capsys, "export", "xor", "--format", "python", "-o", str(tmp_path / "no" / "x.py"))
    assert code == 1
    line = assert_one_error_line(err)
    assert f"the folder {tmp_path / 'no'} does not exist" in line and ".tmp" not in line


def test_usage_errors_are_one_line(capsys):
    for argv in (["train"], ["summary", "xor", "--bogus"], ["train", "xor", "--epochs", "many"]):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert "--help" in assert_one_error_line(err)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing/out.ncv", "does not exist"),
        ("out.txt", "must end in .ncv or .json"),
        ("folder.ncv", "is a folder"),
    ],
)
def test_output_is_checked_before_anything_is_loaded(tmp_path, capsys, monkeypatch, name, expected):
    (tmp_path / "folder.ncv").mkdir()

    def never(*_args, **_kwargs):
        raise AssertionError("the network was loaded before -o was checked")

    monkeypatch.setattr(engine, "load", never)
    code, _, err = run(capsys, "train", "xor", "-o", str(tmp_path / name))
    assert code == 1
    assert expected in assert_one_error_line(err)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, "train", "xor", "-o", str(locked / "out.ncv"))
    finally:
        locked.chmod(0o700)
    assert code == 1
    assert "not writable" in assert_one_error_line(err)


def test_a_diverged_run_exits_1_and_says_nothing_was_saved(tmp_path, capsys):
    out = tmp_path / "diverged.ncv"
    code, stdout, err = run(capsys, "train", "sine", "--lr", "1e38", "--epochs", "3", "-o", str(out))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "training diverged" in errors[0] and f"Nothing was saved to {out}" in errors[0]
    assert stdout == "" and not out.exists()


def test_ctrl_c_saves_and_exits_130(tmp_path):
    out = tmp_path / "stopped.ncv"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "train", "spiral", "--epochs", "100000", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        for line in process.stderr:
            if line.startswith("Epoch 1/"):
                process.send_signal(signal.SIGINT)
                break
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"saved what was learned to {out}" in stderr
    assert "Traceback" not in stderr
    assert engine.load(out).history.steps > 0
