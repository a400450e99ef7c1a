"""The bundled examples by name: the CLI takes `spiral` where it takes a file, and what it writes
for an example goes to the current folder, never into the examples' own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.commands import run_cli
from engine.errors import NetworkFileError
from engine.examples import example_path, examples_dir, is_example, list_examples, resolve_network_file

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def test_the_examples_are_the_repositorys_folder():
    assert examples_dir() == EXAMPLES.resolve()
    assert {e.path.name for e in list_examples()} == {p.name for p in EXAMPLES.glob("*.json")}
    assert example_path("spiral") == example_path("spiral.json") == EXAMPLES.resolve() / "spiral.json"
    assert example_path("../examples/spiral") is None and example_path("nope") is None
    assert is_example(EXAMPLES / "xor.json") and not is_example(Path("xor.json"))


def test_summary_takes_an_example_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["summary", "tiny_3_5_1"]) == 0
    out = capsys.readouterr().out
    assert 'Network "3-5-1 classifier"' in out and "Total params: 26" in out


def test_a_file_of_that_name_wins_over_the_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spiral").write_text("{}")
    assert resolve_network_file("spiral") == Path("spiral")


def test_an_unknown_name_lists_the_examples(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["summary", "spirl"]) == 1
    err = capsys.readouterr().err
    assert "spirl: no such file, and no example of that name" in err and "spiral" in err
    with pytest.raises(NetworkFileError, match="no such file"):
        resolve_network_file("spirl")
    assert resolve_network_file("missing/spirl.json") == Path("missing/spirl.json")


def test_train_and_export_an_example_write_into_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in EXAMPLES.iterdir())
    assert run_cli(["train", "xor", "--epochs", "1"]) == 0
    assert run_cli(["export", "xor", "--format", "python"]) == 0
    assert (tmp_path / "xor_trained.ncv").is_file() and (tmp_path / "xor_numpy.py").is_file()
    assert sorted(p.name for p in EXAMPLES.iterdir()) == before
