"""NumPy's own matrix product, callable from numba loops: ``matmul`` makes the BLAS call ``np.matmul`` makes.

Why: a task of the fast kernels was a Python loop over its chunks that called numba loops and ``np.matmul`` in
turn. Each of those calls releases the GIL and takes it back, and with two threads every retake waits for the
other thread's Python: numba calls of 5 us of work ran 1.05-1.32x as fast on 2 threads as on 1, and
conv2's Winograd forward pass took 4.1-6.1 ms on 2 threads where one numba call per task, products
included, took 3.2-4.1 ms (p10-median, batch 64, 16x16; docs/kernel-measurements.md).

Bit for bit: for 2-D float32/float64 operands with no dimension of 1 and rows of unit stride, ``np.matmul(A,
B, out=C)`` calls ``cblas_?gemm(RowMajor, transA, transB, M, N, K, 1, A, lda, B, ldb, 0, C, ldc)`` of the
BLAS NumPy is linked to (``numpy/_core/src/umath/matmul.c.src``): ``transA`` is NoTrans when ``A``'s rows
have unit stride (``lda`` = its row stride), else Trans (``lda`` = its column stride); likewise ``B``.
``matmul`` makes that call to that function, found by name through NumPy's own extension module, so every
product has NumPy's bits (``tests/kernels/test_blas.py``). The caller guarantees the preconditions (no
dimension of 1, ``C`` C-ordered rows, ``A`` and ``B`` not the same matrix: NumPy would call ``?syrk``).

``matmul_add``: the same call with ``beta = 1`` (``C += A @ B``), for sums short enough that BLAS adds the whole
product to ``C`` at once: then ``C + np.matmul(A, B)``'s bits (``ADD_MAX_K``).

``address(dtype)``: the function's address, passed to the loops at run time (an address compiled in would
not survive numba's on-disk cache), or 0 when NumPy's BLAS was not found (no ILP64 ``cblas_?gemm64_``
symbol, or its self-check failed): the kernels then keep their Python loops around ``np.matmul``.
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# The ILP64 names NumPy's wheels (scipy-openblas64, NumPy >= 1.26) call; with 64-bit integer arguments.
_NAMES = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _numpy_extension() -> str:
    core = getattr(np, "_core", None)
    if core is None or not hasattr(core, "_multiarray_umath"):  # NumPy 1.x
        core = np.core
    return core._multiarray_umath.__file__


def find(dtype) -> int:
    """The address of the ``cblas_sgemm`` (float32) or ``cblas_dgemm`` (float64) NumPy calls, 0 if not found."""
    letter = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(np.dtype(dtype))
    if letter is None:
        return 0
    try:
        library = ctypes.CDLL(_numpy_extension())
    except OSError:
        return 0
    for name in _NAMES:
        try:
            return ctypes.cast(getattr(library, name.format(letter)), ctypes.c_void_p).value or 0
        except AttributeError:
            continue
    return 0


@intrinsic
def _gemm(typingctx, function, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """``cblas_?gemm(RowMajor, trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)`` through the address
    ``function``; ``a``, ``b``, ``c`` arrays (their data pointers are passed), ``beta`` a float, the rest
    integers."""
    sig = types.void(function, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        i32, i64, ptr = ir.IntType(32), ir.IntType(64), ir.IntType(8).as_pointer()
        real = context.get_value_type(signature.args[6].dtype)
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64])

        def integer(i, width):
            return context.cast(builder, args[i], signature.args[i], types.int64 if width == 64 else types.int32)

        def data(i):
            array = context.make_array(signature.args[i])(context, builder, args[i])
            return builder.bitcast(array.data, ptr)

        fn = builder.inttoptr(integer(0, 64), fnty.as_pointer())
        beta = context.cast(builder, args[10], signature.args[10], signature.args[6].dtype)
        builder.call(fn, [ir.Constant(i32, _ROW_MAJOR), integer(1, 32), integer(2, 32), integer(3, 64), integer(4, 64),
                          integer(5, 64), ir.Constant(real, 1.0), data(6), integer(7, 64), data(8), integer(9, 64),
                          beta, data(11), integer(12, 64)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def _operand(strides, columns, itemsize):
    """``(trans, ld)`` of one operand, as NumPy chooses them: NoTrans when its rows have unit stride."""
    if strides[1] == itemsize and strides[0] % itemsize == 0 and strides[0] // itemsize >= columns:
        return _NO_TRANS, strides[0] // itemsize
    return _TRANS, strides[1] // itemsize


@njit(inline="always")
def _product(function, A, B, beta, C):
    """``C = A @ B + beta * C`` in one ``cblas_?gemm`` call, the operands passed as NumPy passes them."""
    m, k = A.shape
    n = B.shape[1]
    trans_a, lda = _operand(A.strides, k, A.itemsize)
    trans_b, ldb = _operand(B.strides, n, B.itemsize)
    _gemm(function, trans_a, trans_b, m, n, k, A, lda, B, ldb, beta, C, C.strides[0] // C.itemsize)


@njit(nogil=True, cache=True)
def matmul(function, A, B, C):
    """``C = A @ B`` as ``np.matmul(A, B, out=C)`` computes it: ``A (m, k)``, ``B (k, n)``, ``C (m, n)``, 2-D
    arrays of one float dtype, ``function`` = ``address(dtype)``."""
    _product(function, A, B, 0.0, C)


# Longest sum (``k``) for which ``matmul_add`` is used where bits must match ``C += np.matmul(A, B)``: BLAS then
# adds the whole product to ``C`` once (``fl(C + AB)``); OpenBLAS splits ``k`` into blocks of its GEMM_Q (256
# or more for single precision on x86) and adds each block's part, which rounds differently.
ADD_MAX_K = 128


@njit(nogil=True, cache=True)
def matmul_add(function, A, B, C):
    """``C += A @ B`` in one BLAS call (``beta = 1``), the operands passed as ``matmul`` passes them: bit for bit
    ``C += np.matmul(A, B)`` for ``k <= ADD_MAX_K`` (``tests/kernels/test_blas.py``), while saving the write of
    the product and the pass that adds it."""
    _product(function, A, B, 1.0, C)


def _self_check(function: int, dtype) -> bool:
    """Whether ``matmul`` through ``function`` gives ``np.matmul``'s bits on small products of each layout."""
    rng = np.random.default_rng(0)
    for trans_a in (False, True):
        for trans_b in (False, True):
            A = rng.standard_normal((5, 7) if trans_a else (7, 5)).astype(dtype)
            B = rng.standard_normal((3, 5) if trans_b else (5, 3)).astype(dtype)
            A, B = (A.T if trans_a else A), (B.T if trans_b else B)
            C = np.empty((7, 3), dtype)
            matmul(function, A, B, C)
            if C.tobytes() != np.matmul(A, B).tobytes():
                return False
    return True


_ADDRESSES: dict = {}


def address(dtype) -> int:
    """``find(dtype)`` once its self-check passed (cached), else 0: what the kernels pass to ``matmul``."""
    dtype = np.dtype(dtype)
    if dtype not in _ADDRESSES:
        function = find(dtype)
        _ADDRESSES[dtype] = function if function and _self_check(function, dtype) else 0
    return _ADDRESSES[dtype]


# Layers with fewer multiply-adds per pass keep the Python loops around np.matmul: compiling a task function
# takes seconds per configuration (``task_compiler``), more than small layers (tests, gradient checks) gain.
MIN_TASK_MACS = 1 << 22


def for_tasks(dtype, macs: int, *dims: int) -> int:
    """``address(dtype)`` for a kernel whose tasks are one numba call each, or 0 for its Python loops: float32
    only (float64 is for gradient checks), at least ``MIN_TASK_MACS`` multiply-adds, and no product dimension
    (``dims``) of 1, for which NumPy calls other BLAS functions."""
    if np.dtype(dtype) != np.float32 or macs < MIN_TASK_MACS or min(dims) < 2:
        return 0
    return address(dtype)
