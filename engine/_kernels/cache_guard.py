"""Drop Numba's cached kernels when any kernel source changed, not only the function's own file.

Numba keys a cached function on its own source file (mtime and size). A kernel compiled with
another module's function inlined (every fused path calls `optimizer_update` from
small_net.py, which calls optimizers.py) keeps running the old callee after only the callee's
file changed: a `git pull` into an editable install could silently train with stale code. So on
import the package hashes all of its sources and, when the hash differs from the one stored
next to the cache, deletes the cached index files (.nbi) there; each kernel then recompiles
once, as after a fresh install.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

STAMP_NAME = f"netcanvas-kernels.py{sys.version_info.major}{sys.version_info.minor}.stamp"


def sources_digest(source_dir: Path) -> str:
    """SHA-256 over the names and contents of the package's .py files."""
    digest = hashlib.sha256()
    for path in sorted(source_dir.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_cache(source_dir: Path, cache_dir: Path) -> bool:
    """Delete `cache_dir`'s Numba index files for `source_dir`'s modules unless the stamp there
    matches their current sources; then store the stamp. Returns whether files were dropped."""
    digest = sources_digest(source_dir)
    stamp = cache_dir / STAMP_NAME
    with contextlib.suppress(OSError):  # no stamp yet (a fresh cache, or older): stale
        if stamp.read_text() == digest:
            return False
    modules = {path.stem for path in source_dir.glob("*.py")}
    dropped = False
    for index in cache_dir.glob("*.nbi"):
        if index.name.split(".", 1)[0] in modules:
            index.unlink(missing_ok=True)  # (another process may be doing the same)
            dropped = True
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f"{STAMP_NAME}.{os.getpid()}.tmp"
    partial.write_text(digest)
    os.replace(partial, stamp)
    return dropped


def _probe() -> None:
    """A function of this folder for Numba to locate its cache directory by."""


def guard_package_cache() -> None:
    """`drop_stale_cache` for this package, at the directory Numba caches it in. Never fails:
    without a usable cache directory Numba does not cache either."""
    with contextlib.suppress(Exception):  # a cache we cannot inspect is Numba's to handle
        from numba.core.caching import FunctionCache

        drop_stale_cache(Path(__file__).parent, Path(FunctionCache(_probe).cache_path))
