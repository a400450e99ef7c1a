"""Saved files get ordinary permissions: the umask's for a new file, the old mode for a replaced one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import engine
from tests.engine.test_io import ISSUE_JSON, write_json

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the previous one back."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("suffix", [".json", ".ncv"])
def test_a_new_file_follows_the_umask(tmp_path, umask, suffix):
    network = engine.load(write_json(tmp_path, ISSUE_JSON))
    umask(0o022)
    engine.save(network, tmp_path / f"new{suffix}")
    assert mode(tmp_path / f"new{suffix}") == 0o644
    umask(0o027)
    engine.save(network, tmp_path / f"private{suffix}")
    assert mode(tmp_path / f"private{suffix}") == 0o640


@pytest.mark.parametrize("kept", [0o640, 0o600, 0o664])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask, kept):
    source = write_json(tmp_path, ISSUE_JSON)
    network = engine.load(source)
    umask(0o022)  # 0o664 would lose its group write bit if the umask were applied
    for suffix in (".json", ".ncv"):
        target = tmp_path / f"shared{suffix}"
        target.write_text("old contents")
        target.chmod(kept)
        engine.save(network, target)
        assert mode(target) == kept
        assert engine.load(target).count_params() == 26
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "shared.json", "shared.ncv"]
