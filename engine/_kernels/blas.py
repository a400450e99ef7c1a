"""Matrix products callable from inside Numba kernels: NumPy's own OpenBLAS `cblas_?gemm`.

A kernel that runs many training steps per call (no Python between the steps) still needs
BLAS for its matrix products. Numba's `np.dot` would go through SciPy, a second OpenBLAS with a
second thread pool (PERF-NOTES lesson 1); here the kernels call the very library `np.matmul`
uses, found next to NumPy, with the arguments `np.matmul` passes it for 2-D operands. So results
are bit for bit those of `np.matmul`, and BLAS's thread settings apply to both.

The symbols are registered with LLVM by name and declared as external functions, so kernels
that use them stay in Numba's on-disk cache (a ctypes pointer would be a per-process constant).
`AVAILABLE` is False where NumPy's BLAS is not an ILP64 OpenBLAS found this way (e.g. a build
against Accelerate or MKL); callers then keep their NumPy code.
"""

from __future__ import annotations

import ctypes
import glob
import os

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values
_NAMES = {"sgemm": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
          "dgemm": ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}
_LINKED = {"sgemm": "netcanvas_cblas_sgemm", "dgemm": "netcanvas_cblas_dgemm"}


def _numpy_blas_libraries() -> list[str]:
    """Shared libraries shipped inside NumPy's wheel (Linux: numpy.libs, macOS: numpy/.dylibs)."""
    root = os.path.dirname(np.__file__)
    found = []
    for folder in (root + ".libs", os.path.join(root, ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return found


def _register() -> bool:
    """Register NumPy's cblas_sgemm/dgemm under our own names; False when not found."""
    for path in _numpy_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        addresses = {}
        for kind, candidates in _NAMES.items():
            for name in candidates:
                symbol = getattr(lib, name, None)
                if symbol is not None:
                    addresses[kind] = ctypes.cast(symbol, ctypes.c_void_p).value
                    break
        if len(addresses) == len(_NAMES):
            for kind, address in addresses.items():
                llvm.add_symbol(_LINKED[kind], address)
            return True
    return False


AVAILABLE = _register()


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
        _sgemm(ROW_MAJOR, trans_a, trans_b, rows, cols, inner, np.float32(1.0), a.ctypes.data, a.shape[1],
               b.ctypes.data, b.shape[1], np.float32(0.0), out.ctypes.data, cols)
    else:
        _dgemm(ROW_MAJOR, trans_a, trans_b, rows, cols, inner, 1.0, a.ctypes.data, a.shape[1],
               b.ctypes.data, b.shape[1], 0.0, out.ctypes.data, cols)
