"""Winograd convolution kernels: transforms exact, reference vs explicit loops, fast vs reference, float32 error.

The float32 results are checked element-wise against the float64 direct convolution of the same float32
inputs, within the rounding-error bound derived in ``handgrad.kernels.numpy.winograd`` (and the bound is checked
to be tight enough to catch a wrong transform).
"""
from fractions import Fraction

import numba
import numpy as np
import pytest

from handgrad.kernels import threads
from handgrad.kernels import winograd_transforms as wt
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.kernels.conv_reference import conv_backward_loops, conv_forward_loops
from handgrad.kernels.numba import blas
from handgrad.kernels.numba import ops as fast
from handgrad.kernels.numba import winograd as wf
from handgrad.kernels.numba import winograd_loops6 as wloops
from handgrad.kernels.numba import winograd_loops8 as wloops8
from handgrad.kernels.numpy import winograd as wg

CONFIGS = [  # (input (N, C, H, W), filters, kernel, padding)
    ((2, 3, 7, 9), 4, 5, "same"),  # OH, OW not multiples of m = 2
    ((2, 5, 9, 8), 3, 5, "valid"),
    ((3, 2, 8, 7), 3, 5, (1, 3)),  # explicit, unequal padding
    ((2, 4, 10, 7), 5, 3, "same"),  # F(4x4, 3x3): OH = 10, OW = 7 leave partial tiles
    ((2, 3, 9, 11), 2, 3, "valid"),
    ((1, 2, 3, 3), 2, 3, "same"),  # smaller than one tile
]
DTYPES = [np.float32, np.float64]


def setup(shape, filters, kernel, padding, dtype, rng):
    g = conv_geometry(shape[2], shape[3], (kernel, kernel), (1, 1), padding)
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((filters, shape[1], kernel, kernel)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    dz = rng.standard_normal((shape[0], filters, g.OH, g.OW)).astype(dtype)
    return g, x, W, b, dz


# ---------------------------------------------------------------------------------------------- transforms
@pytest.mark.parametrize("m,r", [(2, 5), (4, 3), (2, 3), (3, 2)])
def test_toom_cook_computes_the_correlation_exactly(m, r, rng):
    points = [Fraction(p) for p in (0, 2, -2, Fraction(1, 2), Fraction(-1, 2), 3, -3)[: m + r - 2]]
    t = wt.toom_cook(m, r, points)
    assert t.AT.shape == (m, m + r - 1) and t.G.shape == (m + r - 1, r) and t.BT.shape == (m + r - 1,) * 2
    for _ in range(5):  # small integers: every step exact in float64
        d = rng.integers(-9, 10, m + r - 1).astype(np.float64)
        g = rng.integers(-9, 10, r).astype(np.float64)
        y = t.AT @ ((t.G @ g) * (t.BT @ d)) * 1.0
        np.testing.assert_allclose(y, np.correlate(d, g, mode="valid"), rtol=0, atol=1e-9)


def test_toom_cook_rejects_wrong_point_counts():
    with pytest.raises(ValueError, match=r"F\(2, 5\) needs 5 distinct points"):
        wt.toom_cook(2, 5, (0, 1, -1, 2))
    with pytest.raises(ValueError, match="distinct"):
        wt.toom_cook(2, 3, (0, 1, 1))


@pytest.mark.parametrize("r", sorted(wt.TRANSFORMS))
def test_data_transforms_are_exact_in_float32(r):
    """``A`` and ``B`` meet the data: dyadic entries, so casting them to float32 loses nothing."""
    t = wt.TRANSFORMS[r]
    for M in (t.AT, t.BT):
        np.testing.assert_array_equal(M.astype(np.float32).astype(np.float64), M)
    assert t.m == wt.TILE_FOR_KERNEL[r] == 4 and t.alpha == {3: 6, 5: 8}[r]


@pytest.mark.parametrize("kernel", sorted(wt.TRANSFORMS))
@pytest.mark.parametrize("name", ["_bt", "_b", "_at", "_a"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_hard_coded_transforms_are_the_matrices(kernel, name, dtype, rng):
    """The fast loops' written-out 1-D transforms equal ``B^T d``, ``B v``, ``A^T M``, ``A y`` of ``TRANSFORMS``:
    to float64 rounding, and in float32 within the bound ``gamma_alpha sum |coefficient * value|`` (each term
    passes through at most alpha roundings)."""
    t = wt.TRANSFORMS[kernel]
    matrix = {"_bt": t.BT, "_b": t.BT.T, "_at": t.AT, "_a": t.AT.T}[name]
    fn = getattr({6: wloops, 8: wloops8}[t.alpha], name)
    for _ in range(20):
        v = rng.standard_normal(matrix.shape[1]).astype(dtype)
        got = np.array(fn(*v))
        exact = matrix @ v.astype(np.float64)
        bound = wg.gamma(t.alpha, dtype) * (np.abs(matrix) @ np.abs(v.astype(np.float64)))
        assert np.all(np.abs(got - exact) <= bound), (name, got, exact)
    # computed in the data's type: float32 stays float32 (the constants must not promote it to float64)
    signature = next(sig for sig in fn.nopython_signatures if sig.args[0] == numba.from_dtype(np.dtype(dtype)))
    assert {str(item) for item in signature.return_type} == {np.dtype(dtype).name}


# ---------------------------------------------------------------------------------------------- reference
@pytest.mark.parametrize("shape,filters,kernel,padding", CONFIGS)
def test_reference_matches_explicit_loops(shape, filters, kernel, padding, rng):
    g, x, W, b, dz = setup(shape, filters, kernel, padding, np.float64, rng)
    z, cache = wg.conv2d_forward(x, W, b, g)
    np.testing.assert_allclose(z, conv_forward_loops(x, W, b, g), rtol=1e-11, atol=1e-11)
    dW, db, dx = wg.conv2d_backward(dz, cache, g)
    dW_ref, db_ref, dx_ref = conv_backward_loops(dz, x, W, g)
    for got, want in ((dx, dx_ref), (dW, dW_ref), (db, db_ref)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    assert wg.conv2d_backward(dz, cache, g, input_grad=False)[2] is None


@pytest.mark.parametrize("shape,filters,kernel,padding", CONFIGS)
def test_input_gradient_is_the_forward_algorithm_on_the_flipped_kernel(shape, filters, kernel, padding, rng):
    """``dx`` = correlation of ``dz`` (padded by ``r-1-top`` / ``H+top-OH``) with ``W`` flipped, channels swapped."""
    g, x, W, b, dz = setup(shape, filters, kernel, padding, np.float64, rng)
    _, cache = wg.conv2d_forward(x, W, b, g)
    dx = wg.conv2d_backward(dz, cache, g)[2]
    H, Wd = shape[2:]
    pads = (kernel - 1 - g.top, H + g.top - g.OH, kernel - 1 - g.left, Wd + g.left - g.OW)
    dz_pad = np.pad(dz, ((0, 0), (0, 0), (max(pads[0], 0), pads[1]), (max(pads[2], 0), pads[3])))
    dz_pad = dz_pad[:, :, max(-pads[0], 0):, max(-pads[2], 0):]  # padding beyond r - 1 crops instead
    g_t = conv_geometry(dz_pad.shape[2], dz_pad.shape[3], (kernel, kernel), (1, 1), "valid")
    flipped = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, r, r)
    dx_flip, _ = wg.conv2d_forward(dz_pad, flipped, None, g_t)
    np.testing.assert_allclose(dx_flip, dx, rtol=1e-11, atol=1e-11)


# ---------------------------------------------------------------------------------------------- fast
@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def team(request):
    """1 and 3 threads, one image per chunk and per task, so that each thread does several."""
    before, chunk, minimum = threads.num_threads(), wf.CHUNK_BYTES, fast.MIN_TASK_MACS
    threads.set_num_threads(request.param)
    wf.CHUNK_BYTES = fast.MIN_TASK_MACS = 1
    yield request.param
    threads.set_num_threads(before)
    wf.CHUNK_BYTES, fast.MIN_TASK_MACS = chunk, minimum


@pytest.mark.parametrize("shape,filters,kernel,padding", CONFIGS)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_fast_matches_reference_in_float64(shape, filters, kernel, padding, layout, team, rng):
    g, x, W, b, dz = setup(shape, filters, kernel, padding, np.float64, rng)
    if layout == "nhwc":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    z_ref, cache_ref = wg.conv2d_forward(x, W, b, g)
    z, cache = wf.conv2d_forward(x, W, b, g)
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12)
    for got, want in zip(wf.conv2d_backward(dz, cache, g), wg.conv2d_backward(dz, cache_ref, g)):
        assert got.shape == want.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    dW, _, dx = wf.conv2d_backward(dz, cache, g, input_grad=False)
    assert dx is None
    z_nobias, _ = wf.conv2d_forward(x, W, None, g)
    np.testing.assert_allclose(z_nobias, z_ref - b[:, None, None], rtol=1e-12, atol=1e-12)


def test_fast_backward_is_bitwise_independent_of_which_thread_runs_which_task(team, rng, monkeypatch):
    g, x, W, b, dz = setup((6, 8, 7, 7), 5, 5, "same", np.float32, rng)
    _, cache = wf.conv2d_forward(x, W, b, g)
    expected = [a.copy() for a in wf.conv2d_backward(dz, cache, g)]

    def shuffled_parallel_for(fn, n, grain):  # one thread, the tasks in a random order
        for lo in rng.permutation(list(range(0, n, max(1, grain)))):
            fn(int(lo), min(n, int(lo) + grain))

    monkeypatch.setattr(threads, "parallel_for", shuffled_parallel_for)
    for got, want in zip(wf.conv2d_backward(dz, cache, g), expected):
        assert got.tobytes() == want.tobytes()


# ---------------------------------------------------------------------------------------------- float32 error
ERROR_CONFIGS = [  # includes the reference network's conv2 on 28x28 and 32x32 inputs
    ((4, 32, 14, 14), 64, 5, "same"),
    ((2, 32, 16, 16), 64, 5, "same"),
    ((3, 16, 12, 10), 24, 3, "same"),
    ((2, 20, 11, 9), 8, 5, "valid"),
]


@pytest.mark.parametrize("shape,filters,kernel,padding", ERROR_CONFIGS)
@pytest.mark.parametrize("kernels", ["reference", "fast"])
def test_float32_error_within_the_derived_bound(shape, filters, kernel, padding, kernels, rng):
    g, x, W, b, dz = setup(shape, filters, kernel, padding, np.float32, rng)
    module = wg if kernels == "reference" else wf
    z, cache = module.conv2d_forward(x, W, b, g)
    dW, db, dx = module.conv2d_backward(dz, cache, g)
    x64, W64, b64, dz64 = (a.astype(np.float64) for a in (x, W, b, dz))  # the same values, exactly
    exact = {"z": conv_forward_loops(x64, W64, b64, g)}
    exact["dW"], exact["db"], exact["dx"] = conv_backward_loops(dz64, x64, W64, g)
    bounds = wg.error_bounds(x, W, b, dz, g, np.float32)
    for name, got in (("z", z), ("dx", dx), ("dW", dW), ("db", db)):
        error = np.abs(got.astype(np.float64) - exact[name])
        worst = np.unravel_index(np.argmax(error - bounds[name]), error.shape)
        assert np.all(error <= bounds[name]), (name, worst, error[worst], bounds[name][worst])
        # The bound must be tight enough to catch a wrong transform (errors of the order of the values); the
        # loosest, F(4x4, 5x5)'s dx on conv2, is 1.4% of the largest value.
        assert bounds[name].max() < 3e-2 * np.abs(exact[name]).max(), (name, bounds[name].max())


def test_float32_error_measured_against_im2col(rng):
    """Documented accuracy on conv2 of the reference network: Winograd's float32 error is a few times im2col's."""
    g, x, W, b, _ = setup((4, 32, 14, 14), 64, 5, "same", np.float32, rng)
    exact = conv_forward_loops(*(a.astype(np.float64) for a in (x, W, b)), g)
    scale = np.abs(exact).max()
    err_winograd = np.abs(wf.conv2d_forward(x, W, b, g)[0] - exact).max() / scale
    err_im2col = np.abs(fast.conv2d_forward(x, W, b, g)[0] - exact).max() / scale
    assert err_winograd < 1e-5, err_winograd  # measured 4.1e-6 (F(4x4, 5x5))
    assert err_winograd < 30 * err_im2col, (err_winograd, err_im2col)


def test_unsupported_geometry_is_rejected_naming_the_kernel():
    g = conv_geometry(8, 8, (3, 3), (2, 2), "same")
    with pytest.raises(ValueError, match=r"winograd: needs stride 1 and a 3x3 or 5x5 kernel, got kernel \(3, 3\) "
                                         r"and stride \(2, 2\)"):
        wg.conv2d_forward(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 3, 3)), None, g)


# The reference network's conv2 (5x5, 32 -> 64) on 14x14 (partial tiles) and 16x16, and a 3x3 layer: big
# enough for one numba call per task (blas.MIN_TASK_MACS).
TASK_CONFIGS = [((3, 32, 14, 14), 64, 5, "same"), ((2, 32, 16, 16), 64, 5, "same"), ((4, 32, 15, 16), 64, 3, "same")]


@pytest.mark.parametrize("shape,filters,kernel,padding", TASK_CONFIGS)
def test_one_numba_call_per_task_gives_the_python_loops_bits(shape, filters, kernel, padding, team, rng, monkeypatch):
    """``winograd_chunks`` (products by ``blas.matmul``) against the Python loops around ``np.matmul``."""
    g, x, W, b, dz = setup(shape, filters, kernel, padding, np.float32, rng)
    if not blas.address(np.float32):
        pytest.skip("NumPy's gemm was not found: the Python loops only")
    calls = []
    for factory in ("forward", "backward"):
        real = getattr(wf.chunks, factory)
        monkeypatch.setattr(wf.chunks, factory, lambda *key, real=real: calls.append(key) or real(*key))
    z, cache = wf.conv2d_forward(x, W, b, g)
    results = [z.copy(), *(a.copy() for a in wf.conv2d_backward(dz, cache, g)),
               *(a.copy() for a in wf.conv2d_backward(dz, cache, g, input_grad=False)[:2])]
    assert len(calls) == 3  # the numba tasks ran
    monkeypatch.setattr(wf, "_gemm", lambda *args: 0)
    z, cache = wf.conv2d_forward(x, W, b, g)
    expected = [z, *wf.conv2d_backward(dz, cache, g), *wf.conv2d_backward(dz, cache, g, input_grad=False)[:2]]
    for got, want in zip(results, expected, strict=True):
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_transforms_through_scratch_give_the_shared_functions_bits(dtype, rng):
    for r in sorted(wt.TRANSFORMS):
        t = wt.TRANSFORMS[r]
        W = rng.standard_normal((7, 5, r, r)).astype(dtype)
        assert wf._kernel_transform(W, t, dtype).tobytes() == wt.kernel_transform(W, t).astype(dtype).tobytes()
        dU = rng.standard_normal((t.alpha**2, 5, 7)).astype(dtype)
        got, want = wf._kernel_gradient(dU, t, dtype), wt.kernel_gradient(dU, t).astype(dtype)
        assert got.strides == want.strides and got.tobytes() == want.tobytes()


def test_the_transformed_kernel_is_reused_only_while_the_weights_bits_stay_the_same(rng):
    t = wt.TRANSFORMS[5]
    W = rng.standard_normal((6, 4, 5, 5)).astype(np.float32)
    U = wf._transformed_kernel(W, t, np.float32)
    assert wf._transformed_kernel(W, t, np.float32) is U  # inference: the same weights again
    for change in (lambda w: w.__setitem__((0, 0, 0, 0), w[0, 0, 0, 0] + 1),  # an optimizer step, in place
                   lambda w: w.__setitem__((1, 2, 3, 4), -0.0 if w[1, 2, 3, 4] == 0 else 0.0),  # the sign of 0
                   lambda w: w.__setitem__((5, 3, 2, 1), np.nan)):
        change(W)
        U = wf._transformed_kernel(W, t, np.float32)
        assert U.tobytes() == wt.kernel_transform(W, t).astype(np.float32).tobytes()
    assert wf._transformed_kernel(W.copy(), t, np.float32) is not U  # another array: its own entry
    assert len(wf._TRANSFORMED) <= wf._TRANSFORMED_MAX
