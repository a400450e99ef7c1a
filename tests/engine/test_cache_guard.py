"""Cached Numba kernels are dropped when any kernel source changes (engine/_kernels/cache_guard)."""

from __future__ import annotations

from pathlib import Path

from numba.core.caching import FunctionCache

import engine._kernels as kernels
from engine._kernels import cache_guard


def _cache_files(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if p.suffix in (".nbi", ".nbc")}


def test_a_change_to_any_source_drops_every_module_s_cached_index(tmp_path):
    source, cache = tmp_path / "kernels", tmp_path / "cache"
    source.mkdir()
    cache.mkdir()
    (source / "callee.py").write_text("def f(): return 1\n")
    (source / "caller.py").write_text("def g(): return 2\n")
    ours = {"caller.g-1.py311.nbi", "caller.g-1.py311.1.nbc", "callee.f-1.py311.nbi"}
    for name in [*ours, "elsewhere.h-3.py311.nbi"]:
        (cache / name).write_bytes(b"x")

    assert cache_guard.drop_stale_cache(source, cache)  # no stamp yet: stale
    assert _cache_files(cache) == {"caller.g-1.py311.1.nbc", "elsewhere.h-3.py311.nbi"}
    (cache / "caller.g-1.py311.nbi").write_bytes(b"x")  # recompiled
    assert not cache_guard.drop_stale_cache(source, cache)  # same sources: kept
    assert "caller.g-1.py311.nbi" in _cache_files(cache)

    (source / "callee.py").write_text("def f(): return 3\n")  # only the callee's file changes
    assert cache_guard.drop_stale_cache(source, cache)
    assert "caller.g-1.py311.nbi" not in _cache_files(cache)
    assert not list(cache.glob("*.tmp"))


def test_importing_the_kernels_stamps_their_cache_with_the_current_sources():
    cache = Path(FunctionCache(cache_guard._probe).cache_path)
    stamp = (cache / cache_guard.STAMP_NAME).read_text()
    assert stamp == cache_guard.sources_digest(Path(kernels.__file__).parent)
