"""``blas.matmul``: NumPy's own BLAS call, made from numba loops, gives ``np.matmul``'s bits."""
import numpy as np
import pytest

from handgrad.kernels.numba import blas

DTYPES = [np.float32, np.float64]


def operand(rng, rows, cols, dtype, transposed, padded):
    """A ``(rows, cols)`` matrix as the kernels hand them over: C-ordered rows or the transpose of such a matrix,
    with its rows longer than the matrix (``padded``: a slice of a wider array) or not."""
    shape = (cols, rows) if transposed else (rows, cols)
    wide = rng.standard_normal((shape[0], shape[1] + (3 if padded else 0))).astype(dtype)
    a = wide[:, : shape[1]]
    return a.T if transposed else a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", [(2, 2, 2), (7, 5, 3), (33, 32, 64), (64, 25, 130)])
def test_matmul_is_numpys_product_bit_for_bit(dtype, m, k, n, rng):
    gemm = blas.find(dtype)  # without address()'s self-check, which would turn a wrong matmul into a skip
    if not gemm:
        pytest.skip("NumPy's cblas_?gemm64_ was not found: the kernels keep np.matmul")
    for trans_a in (False, True):
        for trans_b in (False, True):
            for padded in (False, True):
                A = operand(rng, m, k, dtype, trans_a, padded)
                B = operand(rng, k, n, dtype, trans_b, padded)
                wide = np.full((m, n + 2), np.nan, dtype)
                C = wide[:, :n]  # rows longer than the product: ldc > n
                blas.matmul(gemm, A, B, C)
                assert np.ascontiguousarray(C).tobytes() == np.matmul(A, B).tobytes(), (trans_a, trans_b, padded)
                assert np.isnan(wide[:, n:]).all()  # nothing written past the product's columns


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", [(2, 2, 2), (32, 32, 64), (64, 33, 32), (32, blas.ADD_MAX_K, 64)])
def test_matmul_add_adds_the_product_with_numpys_bits(dtype, m, k, n, rng):
    """``C += A @ B`` in the product's own call: bit for bit ``C + np.matmul(A, B)`` for sums of up to
    ``ADD_MAX_K`` terms (Winograd's weight gradient: ``V.T @ dM`` of a chunk's tiles added to the task's sum)."""
    gemm = blas.find(dtype)
    if not gemm:
        pytest.skip("NumPy's cblas_?gemm64_ was not found: the kernels keep np.matmul")
    for trans_a in (False, True):
        for trans_b in (False, True):
            A = operand(rng, m, k, dtype, trans_a, padded=True)
            B = operand(rng, k, n, dtype, trans_b, padded=False)
            C0 = rng.standard_normal((m, n)).astype(dtype)
            C = C0.copy()
            blas.matmul_add(gemm, A, B, C)
            assert C.tobytes() == (C0 + np.matmul(A, B)).tobytes(), (trans_a, trans_b)
            blas.matmul(gemm, A, B, C)  # the same arguments with beta = 0 again: the product alone
            assert C.tobytes() == np.matmul(A, B).tobytes()


def test_address_is_zero_for_types_without_a_gemm():
    for dtype in (np.float16, np.int64):
        assert blas.find(dtype) == 0 and blas.address(dtype) == 0


def test_numpys_wheels_provide_the_gemm():
    """NumPy's wheels link scipy-openblas64 (ILP64): the fast path must find its products there."""
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    ilp64 = "USE64BITINT" in config.get("openblas configuration", "")
    if not (config.get("name", "").startswith("scipy-openblas") and ilp64):
        pytest.skip(f"NumPy built against {config.get('name')}: the kernels may keep np.matmul")
    assert blas.address(np.float32) != 0 and blas.address(np.float64) != 0
