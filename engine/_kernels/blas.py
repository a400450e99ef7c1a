"""Matrix products callable from inside Numba kernels: NumPy's own OpenBLAS `cblas_?gemm`.

A kernel that runs many training steps per call (no Python between the steps) still needs
BLAS for its matrix products. Numba's `np.dot` would go through SciPy, a second OpenBLAS with a
second thread pool (docs/performance.md, "Threads"); here the kernels call the very library `np.matmul`
uses, found next to NumPy, with the arguments `np.matmul` passes it for 2-D operands. So results
are bit for bit those of `np.matmul`, and BLAS's thread settings apply to both.

The symbols are registered with LLVM by name and declared as external functions, so kernels
that use them stay in Numba's on-disk cache (a ctypes pointer would be a per-process constant).
`AVAILABLE` is False where NumPy's BLAS is not an ILP64 OpenBLAS found this way (e.g. a build
against Accelerate or MKL); callers then keep their NumPy code.

`single_threaded()` holds that library to one thread for a while (see there why).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from collections.abc import Iterator

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values
_NAMES = {
    "sgemm": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
    "dgemm": ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
}
_LINKED = {"sgemm": "netcanvas_cblas_sgemm", "dgemm": "netcanvas_cblas_dgemm"}
_THREAD_NAMES = {
    "get": ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"),
    "set": ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads"),
}


def _numpy_blas_libraries() -> list[ctypes.CDLL]:
    """Shared libraries shipped inside NumPy's wheel (Linux: numpy.libs, macOS: numpy/.dylibs)."""
    root = os.path.dirname(np.__file__)
    found = []
    for folder in (root + ".libs", os.path.join(root, ".dylibs")):
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            try:
                found.append(ctypes.CDLL(path))
            except OSError:
                continue
    return found


def _first_symbol(lib: ctypes.CDLL, candidates: tuple[str, ...]):
    return next((getattr(lib, name) for name in candidates if getattr(lib, name, None) is not None), None)


def _register(libraries: list[ctypes.CDLL]) -> bool:
    """Register NumPy's cblas_sgemm/dgemm under our own names; False when not found."""
    for lib in libraries:
        symbols = {kind: _first_symbol(lib, candidates) for kind, candidates in _NAMES.items()}
        if all(symbol is not None for symbol in symbols.values()):
            for kind, symbol in symbols.items():
                llvm.add_symbol(_LINKED[kind], ctypes.cast(symbol, ctypes.c_void_p).value)
            return True
    return False


def _thread_functions(libraries: list[ctypes.CDLL]):
    """OpenBLAS's get/set_num_threads of NumPy's library, or None."""
    for lib in libraries:
        get, set_ = (_first_symbol(lib, _THREAD_NAMES[kind]) for kind in ("get", "set"))
        if get is not None and set_ is not None:
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            return get, set_
    return None


_LIBRARIES = _numpy_blas_libraries()
AVAILABLE = _register(_LIBRARIES)
_THREADS = _thread_functions(_LIBRARIES)
_threads_lock = threading.Lock()
_single_thread_users = 0
_threads_before = 0


def threads() -> int | None:
    """The threads NumPy's BLAS uses now; None where it is not an OpenBLAS found next to NumPy."""
    return _THREADS[0]() if _THREADS is not None else None


def usable_threads() -> int | None:
    """The threads NumPy's BLAS runs outside `single_threaded()` (OpenBLAS's own choice or the
    user's OPENBLAS_NUM_THREADS); None where it is not an OpenBLAS found next to NumPy."""
    if _THREADS is None:
        return None
    with _threads_lock:
        return _threads_before if _single_thread_users else _THREADS[0]()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """NumPy's BLAS on one thread while the block runs, then as before.

    For work whose own kernels are single-threaded (the fused small-net path), where the only
    matrix products are small ones now and then (a monitor's snapshot): with two threads, each
    such product leaves OpenBLAS's second thread spinning for milliseconds on the core a GUI
    thread (or the caller's other work) needs. OpenBLAS's setting is process-wide, so uses from
    several threads at once are counted and the last one out restores it. A no-op where NumPy's
    BLAS is not an OpenBLAS found next to it.
    """
    global _single_thread_users, _threads_before
    if _THREADS is None:
        yield
        return
    get, set_ = _THREADS
    with _threads_lock:
        if _single_thread_users == 0:
            _threads_before = get()
            set_(1)
        _single_thread_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _single_thread_users -= 1
            if _single_thread_users == 0:
                set_(_threads_before)


def _signature(real):
    i32, i64, ptr = types.int32, types.int64, types.voidptr
    return types.void(i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)


_sgemm = types.ExternalFunction(_LINKED["sgemm"], _signature(types.float32))
_dgemm = types.ExternalFunction(_LINKED["dgemm"], _signature(types.float64))


@njit(cache=True, nogil=True)
def matmul(a, b, out, transpose_a, transpose_b):
    """out = op(a) @ op(b) for C-contiguous 2-D arrays of one float dtype, op = transpose when
    asked: what `np.matmul(a.T if transpose_a else a, b.T if transpose_b else b, out=out)` does
    for operands with more than one row and column (NumPy uses gemv or plain loops otherwise).
    Only call when `AVAILABLE`."""
    rows, cols = out.shape
    inner = a.shape[0] if transpose_a else a.shape[1]
    trans_a = TRANS if transpose_a else NO_TRANS
    trans_b = TRANS if transpose_b else NO_TRANS
    if a.itemsize == 4:
        _sgemm(
            ROW_MAJOR,
            trans_a,
            trans_b,
            rows,
            cols,
            inner,
            np.float32(1.0),
            a.ctypes.data,
            a.shape[1],
            b.ctypes.data,
            b.shape[1],
            np.float32(0.0),
            out.ctypes.data,
            cols,
        )
    else:
        _dgemm(
            ROW_MAJOR,
            trans_a,
            trans_b,
            rows,
            cols,
            inner,
            1.0,
            a.ctypes.data,
            a.shape[1],
            b.ctypes.data,
            b.shape[1],
            0.0,
            out.ctypes.data,
            cols,
        )
