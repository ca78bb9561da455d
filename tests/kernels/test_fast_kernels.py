"""Each fast kernel (handgrad.kernels.numba: ops / loops) against its NumPy reference, on awkward sizes.

Awkward means: strides 2, valid and asymmetric padding, non-square kernels, odd H and W for pooling,
overlapping pooling windows, float32 and float64, channels-first and channels-last inputs, gradients of any
memory layout, several threads and several chunks per thread.
"""
import numpy as np
import pytest

from handgrad.kernels import im2col as ref_im2col
from handgrad.kernels import threads
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.kernels.numba import blas, buffers, loops
from handgrad.kernels.numba import ops as fast
from handgrad.kernels.numpy import ops as reference
from tests.ulps import assert_elu_close, expm1_ulps

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}

CONV_CONFIGS = [  # (input (N, C, H, W), filters, kernel, stride, padding)
    ((2, 3, 7, 7), 4, (3, 3), (1, 1), "same"),
    ((3, 3, 8, 6), 5, (3, 2), (2, 2), "valid"),
    ((2, 2, 9, 7), 3, (2, 4), (2, 1), "same"),  # even kernel: asymmetric "same" padding
    ((3, 1, 6, 5), 2, (5, 5), (2, 2), (1, 1)),
    ((5, 9, 7, 6), 6, (3, 5), (1, 2), "same"),  # >= FEW_CHANNELS: the channels-last path
    ((4, 10, 6, 7), 4, (1, 1), (1, 1), "valid"),
    ((3, 12, 5, 9), 7, (5, 3), (2, 1), (2, 1)),
]


def layouts(x):
    """The same logical NCHW array as channels-first memory and as channels-last memory."""
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)
    return {"nchw": np.ascontiguousarray(x), "nhwc": nhwc.transpose(0, 3, 1, 2)}


def geometry(shape, kernel, stride, padding):
    return conv_geometry(shape[2], shape[3], kernel, stride, padding)


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def team(request):
    """Run with 1 and 3 threads, with chunks small enough that each thread does several."""
    before, chunk = threads.num_threads(), fast.CHUNK_BYTES
    threads.set_num_threads(request.param)
    fast.CHUNK_BYTES = 1  # one image per chunk
    minimums = fast.MIN_TASK_MACS, fast.MIN_TASK_ELEMENTS
    fast.MIN_TASK_MACS = fast.MIN_TASK_ELEMENTS = 1  # split even tiny layers
    yield request.param
    threads.set_num_threads(before)
    fast.CHUNK_BYTES = chunk
    fast.MIN_TASK_MACS, fast.MIN_TASK_ELEMENTS = minimums


# ---------------------------------------------------------------------------------------------- im2col
@pytest.mark.parametrize("shape,filters,kernel,stride,padding", CONV_CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_and_col2im_channels_last(shape, filters, kernel, stride, padding, dtype, rng):
    g = geometry(shape, kernel, stride, padding)
    x = rng.standard_normal(shape).astype(dtype)
    expected = ref_im2col.im2col(x, g)  # (N*OH*OW, KH*KW*C)
    cols = np.full(expected.shape, np.nan, dtype=dtype)
    loops.im2col(fast.channels_last(x), g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, cols)
    np.testing.assert_array_equal(cols, expected)

    dcols = rng.standard_normal(expected.shape).astype(dtype)
    N, C, H, W = shape
    dx = np.full((N, H, W, C), np.nan, dtype=dtype)
    loops.col2im(dcols, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, dx)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), ref_im2col.col2im(dcols, shape, g), **TOL[dtype])


@pytest.mark.parametrize("shape,filters,kernel,stride,padding", CONV_CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_and_col2im_channels_first(shape, filters, kernel, stride, padding, dtype, rng):
    g = geometry(shape, kernel, stride, padding)
    N, C, H, W = shape
    x = rng.standard_normal(shape).astype(dtype)
    expected = ref_im2col.im2col(x, g)  # (N*OH*OW, KH*KW*C), columns in (kh, kw, c) order
    expected_t = expected.reshape(-1, g.KH, g.KW, C).transpose(3, 1, 2, 0)  # (C, KH, KW, rows)
    expected_t = expected_t.reshape(C * g.KH * g.KW, -1)  # (C*KH*KW, rows)
    cols_t = np.full(expected_t.shape, np.nan, dtype=dtype)
    loops.im2col_channels_first(x, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, cols_t)
    np.testing.assert_array_equal(cols_t, expected_t)

    dcols = rng.standard_normal(expected.shape).astype(dtype)  # (rows, KH*KW*C)
    dcols_t = np.ascontiguousarray(dcols.reshape(-1, g.KH, g.KW, C).transpose(3, 1, 2, 0)).reshape(C * g.KH * g.KW, -1)
    dx = np.full(shape, np.nan, dtype=dtype)
    loops.col2im_channels_first(dcols_t, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, dx)
    np.testing.assert_allclose(dx, ref_im2col.col2im(dcols, shape, g), **TOL[dtype])


# ---------------------------------------------------------------------------------------------- convolution
@pytest.mark.parametrize("shape,filters,kernel,stride,padding", CONV_CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_conv2d_forward_and_backward(shape, filters, kernel, stride, padding, dtype, layout, team, rng):
    g = geometry(shape, kernel, stride, padding)
    x = layouts(rng.standard_normal(shape).astype(dtype))[layout]
    W = rng.standard_normal((filters, shape[1], *kernel)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    z, cache = fast.conv2d_forward(x, W, b, g)
    z_ref, cache_ref = reference.conv2d_forward(x, W, b, g)
    np.testing.assert_allclose(z, z_ref, **TOL[dtype])
    dz = rng.standard_normal(z.shape).astype(dtype)
    for dz_layout in layouts(dz).values():
        dW, db, dx = fast.conv2d_backward(dz_layout, cache, g)
        dW_ref, db_ref, dx_ref = reference.conv2d_backward(dz, cache_ref, g)
        for got, want in ((dW, dW_ref), (db, db_ref), (dx, dx_ref)):
            assert got.shape == want.shape and got.dtype == dtype
            np.testing.assert_allclose(got, want, **TOL[dtype])
    dW, db, dx = fast.conv2d_backward(dz, cache, g, input_grad=False)
    assert dx is None
    np.testing.assert_allclose(dW, dW_ref, **TOL[dtype])


@pytest.mark.parametrize("channels", [3, 12], ids=["few-channels", "many-channels"])
def test_conv2d_backward_is_bitwise_independent_of_which_thread_runs_which_task(channels, team, rng, monkeypatch):
    """Exact resume and seeded runs need identical gradients from identical inputs, whatever the scheduling."""
    shape = (6, channels, 7, 7)
    g = geometry(shape, (3, 3), (1, 1), "same")
    x = rng.standard_normal(shape).astype(np.float32)
    W = rng.standard_normal((5, channels, 3, 3)).astype(np.float32)
    z, cache = fast.conv2d_forward(x, W, None, g)
    dz = rng.standard_normal(z.shape).astype(np.float32)
    dW, db, dx = (a.copy() for a in fast.conv2d_backward(dz, cache, g))

    def shuffled_parallel_for(fn, n, grain):  # one thread, the tasks in a random order
        starts = list(range(0, n, max(1, grain)))
        for lo in rng.permutation(starts):
            fn(int(lo), min(n, int(lo) + grain))

    monkeypatch.setattr(threads, "parallel_for", shuffled_parallel_for)
    for _ in range(3):
        for got, want in zip(fast.conv2d_backward(dz, cache, g), (dW, db, dx)):
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("channels,kernel,stride", [(1, (5, 5), (1, 1)), (3, (5, 3), (2, 1)), (32, (3, 3), (1, 1))],
                         ids=["1-channel", "3-channels-strided", "32-channels"])
@pytest.mark.parametrize("bias", [True, False])
def test_one_numba_call_per_task_gives_the_python_loops_bits(channels, kernel, stride, bias, team, rng, monkeypatch):
    """``im2col_chunks`` (products by ``blas.matmul``) against the Python loops around ``np.matmul``, for the
    few-channel (the reference network's first layer) and the many-channel columns."""
    if not blas.address(np.float32):
        pytest.skip("NumPy's gemm was not found: the Python loops only")
    shape = (8, channels, 28, 28) if channels < 32 else (4, channels, 14, 14)  # >= blas.MIN_TASK_MACS
    g = geometry(shape, kernel, stride, "same")
    x = rng.standard_normal(shape).astype(np.float32)
    W = rng.standard_normal((32, channels, *kernel)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32) if bias else None
    assert fast._gemm(np.float32, shape[0] * g.OH * g.OW * W[0].size * 32, g.OH * g.OW, W[0].size, 32)
    z, cache = fast.conv2d_forward(x, W, b, g)
    dz = rng.standard_normal(z.shape).astype(np.float32)
    results = [z.copy(), *(a.copy() for a in fast.conv2d_backward(dz, cache, g)),
               *(a.copy() for a in fast.conv2d_backward(dz, cache, g, input_grad=False)[:2])]
    monkeypatch.setattr(fast, "_gemm", lambda *args: 0)
    z, cache = fast.conv2d_forward(x, W, b, g)
    expected = [z, *fast.conv2d_backward(dz, cache, g), *fast.conv2d_backward(dz, cache, g, input_grad=False)[:2]]
    for got, want in zip(results, expected, strict=True):
        assert got.tobytes() == want.tobytes()


def test_conv2d_accepts_a_strided_gradient(rng):
    g = conv_geometry(6, 6, (3, 3), (1, 1), "same")
    x = rng.standard_normal((2, 9, 6, 6))
    W = rng.standard_normal((4, 9, 3, 3))
    z, cache = fast.conv2d_forward(x, W, None, g)
    dz = rng.standard_normal((2, 8, 6, 6))[:, ::2]  # (2, 4, 6, 6), a non-contiguous view
    dW, db, dx = fast.conv2d_backward(dz, cache, g)
    dW_ref, db_ref, dx_ref = reference.conv2d_backward(dz, reference.conv2d_forward(x, W, None, g)[1], g)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW, dW_ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------- dense
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward_and_backward(dtype, team, rng):
    x = rng.standard_normal((7, 13)).astype(dtype)
    W = rng.standard_normal((13, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    np.testing.assert_allclose(fast.dense_forward(x, W, b), reference.dense_forward(x, W, b), **TOL[dtype])
    dz = rng.standard_normal((7, 5)).astype(dtype)
    for got, want in zip(fast.dense_backward(dz.T.copy().T, x, W), reference.dense_backward(dz, x, W)):
        np.testing.assert_allclose(got, want, **TOL[dtype])
    assert fast.dense_backward(dz, x, W, input_grad=False)[2] is None
    # without a bias, and without an input gradient: each task's columns / rows alone (the split of the team)
    np.testing.assert_allclose(fast.dense_forward(x, W, None), reference.dense_forward(x, W, None), **TOL[dtype])
    for got, want in zip(fast.dense_backward(dz, x, W, input_grad=False)[:2], reference.dense_backward(dz, x, W)[:2]):
        np.testing.assert_allclose(got, want, **TOL[dtype])


# ---------------------------------------------------------------------------------------------- pooling
POOL_CONFIGS = [  # (input (N, C, H, W), pool, stride)
    ((2, 3, 8, 8), (2, 2), (2, 2)),
    ((2, 2, 7, 9), (2, 2), (2, 2)),  # odd H, W: the last row / column is dropped
    ((1, 2, 7, 7), (3, 3), (2, 2)),  # overlapping windows
    ((2, 1, 6, 5), (2, 3), (1, 1)),
    ((3, 5, 9, 4), (3, 1), (2, 3)),  # stride > window: rows and columns skipped
]


@pytest.mark.parametrize("shape,pool,stride", POOL_CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_max_pool(shape, pool, stride, dtype, layout, team, rng):
    g = conv_geometry(shape[2], shape[3], pool, stride, "valid")
    x = rng.standard_normal(shape).astype(dtype)
    x[..., 0, 1] = x[..., 0, 0]  # ties: the first maximum wins
    x = layouts(x)[layout]
    y, argmax = fast.max_pool_forward(x, g)
    y_ref, argmax_ref = reference.max_pool_forward(x, g)
    np.testing.assert_array_equal(y, y_ref)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for dy_layout in layouts(dy).values():  # overlapping windows add in another order: equal up to rounding
        np.testing.assert_allclose(fast.max_pool_backward(dy_layout, argmax, shape, g),
                                   reference.max_pool_backward(dy, argmax_ref, shape, g), **TOL[dtype])


def test_max_pool_nan_is_the_maximum_as_in_numpy(rng):
    g = conv_geometry(4, 4, (2, 2), (2, 2), "valid")
    x = rng.standard_normal((1, 2, 4, 4))
    x[0, 0, 1, 1] = x[0, 1, 2, 3] = np.nan
    y, argmax = fast.max_pool_forward(x, g)
    y_ref, argmax_ref = reference.max_pool_forward(x, g)
    np.testing.assert_array_equal(y, y_ref)  # NaN where NumPy has NaN
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(fast.max_pool_backward(dy, argmax, x.shape, g),
                                  reference.max_pool_backward(dy, argmax_ref, x.shape, g))


def test_max_pool_large_window_uses_wide_indices(rng):
    g = conv_geometry(12, 11, (12, 11), (1, 1), "valid")  # 132 positions: more than int8 holds
    x = rng.standard_normal((2, 3, 12, 11))
    y, argmax = fast.max_pool_forward(x, g)
    assert argmax.dtype == np.int32
    np.testing.assert_array_equal(y, reference.max_pool_forward(x, g)[0])


# ---------------------------------------------------------------------------------------------- ELU
# Each ELU kernel against the exact value within its derived ulp bound (tests/ulps.py), never bit for bit
# against NumPy's expm1, whose last bit depends on the SIMD loop the CPU selects.
@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_elu_float32_is_within_its_ulp_bound_of_the_exact_value(alpha):
    x = np.concatenate([np.linspace(-20, 3, 200_001), -np.logspace(-40, 2, 20_001)]).astype(np.float32)
    assert_elu_close(fast.elu_forward(x, alpha), x, alpha, expm1_ulps("numba", np.float32), "fast")
    assert_elu_close(reference.elu_forward(x, alpha), x, alpha, expm1_ulps("numpy", np.float32), "reference")


@pytest.mark.parametrize("alpha", [1.0, 0.7])
def test_elu_float64_is_within_its_ulp_bound_of_the_exact_value(alpha, rng):
    x = np.concatenate([-np.logspace(-300, 2.5, 1500), rng.uniform(-40, 2, 1500)])
    assert_elu_close(fast.elu_forward(x, alpha), x, alpha, expm1_ulps("numba", np.float64), "fast")
    assert_elu_close(reference.elu_forward(x, alpha), x, alpha, expm1_ulps("numpy", np.float64), "reference")


@pytest.mark.parametrize("dtype", DTYPES)
def test_elu_special_values(dtype):
    """NaN stays NaN, +inf stays, -inf -> -alpha, +-0 -> +-0 (alpha * expm1(+-0)), subnormals within bounds."""
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-45, -1e-310, -100.0, 1e30], dtype=dtype)
    for name, kernel in (("numba", fast.elu_forward), ("numpy", reference.elu_forward)):
        y = kernel(x, 2.0)
        assert_elu_close(y, x, 2.0, expm1_ulps(name, dtype), name)
        assert y[1] == -2.0 and np.isnan(y[0]) and y[2] == np.inf, name


@pytest.mark.parametrize("dtype", DTYPES)
def test_elu_in_every_layout(dtype, team, rng):
    """Both kernels within their bounds for every memory layout; the fast one keeps the input's layout."""
    x = (3 * rng.standard_normal((3, 4, 5, 6))).astype(dtype)
    views = {**layouts(x), "strided": x[:, ::2, :, 1:], "fortran": np.asfortranarray(x)}
    for name, v in views.items():
        y = fast.elu_forward(v, 0.7)
        assert_elu_close(y, v, 0.7, expm1_ulps("numba", dtype), f"fast, {name}")
        assert_elu_close(reference.elu_forward(v, 0.7), v, 0.7, expm1_ulps("numpy", dtype), f"reference, {name}")
        if name != "strided":
            assert y.strides == v.strides, name  # the output keeps the input's memory layout
        dy = rng.standard_normal(y.shape).astype(dtype)
        for dy_name, dy_view in layouts(dy).items() if y.ndim == 4 and y.shape == x.shape else [("c", dy)]:
            dx = fast.elu_backward(dy_view, y, 0.7)  # no transcendental: the same two roundings as the reference
            np.testing.assert_array_equal(dx, reference.elu_backward(dy, y, 0.7), err_msg=f"{name}, dy {dy_name}")


@pytest.mark.parametrize("shape,pool,stride", POOL_CONFIGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_elu_equals_elu_then_max_pool(shape, pool, stride, dtype, team, rng):
    g = conv_geometry(shape[2], shape[3], pool, stride, "valid")
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    y, argmax = fast.max_pool_elu_forward(layouts(x)["nhwc"], 0.5, g)
    e = reference.elu_forward(x, 0.5)
    y_ref, argmax_ref = reference.max_pool_forward(e, g)
    np.testing.assert_allclose(y, y_ref, **TOL[dtype])
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = fast.max_pool_elu_backward(dy, y, argmax, 0.5, shape, g)
    dx_ref = reference.elu_backward(reference.max_pool_backward(dy, argmax_ref, shape, g), e, 0.5)
    np.testing.assert_allclose(dx, dx_ref, **TOL[dtype])
    for name, dy_view in layouts(dy).items():  # channels-last dy: the flat loops; any other: read in place
        dx_view = fast.max_pool_elu_backward(dy_view, y, argmax, 0.5, shape, g)
        assert dx_view.tobytes() == dx.tobytes(), f"dy {name}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_bias(dtype, rng):
    z = rng.standard_normal((301, 7)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    expected = z + b
    loops.add_bias(z, b)
    np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_column_sums(dtype, rng):
    a = rng.standard_normal((1001, 7)).astype(dtype)
    acc = np.arange(7.0)
    loops.add_column_sums(a, acc)
    np.testing.assert_allclose(acc, np.arange(7.0) + a.astype(np.float64).sum(axis=0), rtol=1e-12)


def test_pool_recycles_a_buffer_only_when_nothing_refers_to_it():
    shape = (buffers.POOL_MIN_BYTES // 8 + 1, 2)  # large enough to be pooled (float32)
    a = buffers.empty(shape, np.float32)
    a[...] = 1.0
    b = buffers.empty(shape, np.float32)
    assert not np.shares_memory(a, b)  # a is alive
    view = a.T[::2]
    del a
    c = buffers.empty(shape, np.float32)
    assert not np.shares_memory(view, c)  # a view keeps its buffer in use
    np.testing.assert_array_equal(view, 1.0)
    address = view.base.__array_interface__["data"][0]
    del view, b, c
    d = buffers.empty(shape, np.float32)
    assert d.__array_interface__["data"][0] == address  # the first free buffer of that size: a's
    assert d.flags.c_contiguous and d.shape == shape and d.dtype == np.float32
    small = buffers.empty((3, 4), np.float64)
    assert small.base is None  # small arrays are plain allocations


# ---------------------------------------------------------------------------------------------- batch norm
BATCH_NORM_SHAPES = [(5, 7, 3, 4), (2, 33, 5, 3), (9, 20), (4, 1)]  # channels within, across and past blocks


@pytest.mark.parametrize("shape", BATCH_NORM_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_statistics", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one-chunk", "row-chunks"])
def test_batch_norm_forward_and_backward(shape, dtype, batch_statistics, chunk_bytes, team, rng, monkeypatch):
    from handgrad.kernels.numba import batch_norm as fast_bn
    from handgrad.kernels.numpy import batch_norm as reference_bn
    if chunk_bytes is not None:  # one row per chunk: the chunks' sums and their addition in chunk order
        monkeypatch.setattr(fast_bn, "CHUNK_BYTES", chunk_bytes)
    C = shape[1]
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)  # a mean far from 0: the shifted sums matter
    gamma, beta = rng.standard_normal((2, C)).astype(dtype)
    statistics = None if batch_statistics else (rng.standard_normal(C).astype(dtype),
                                                (0.5 + rng.random(C)).astype(dtype))
    dy = rng.standard_normal(shape).astype(dtype)
    expected = reference_bn.batch_norm_forward(x, gamma, beta, 1e-3, statistics)
    dexpected = reference_bn.batch_norm_backward(dy, expected[3], gamma)
    inputs = layouts(x) if x.ndim == 4 else {"rows": x}
    for name, v in inputs.items():
        got = fast_bn.batch_norm_forward(v, gamma, beta, 1e-3, statistics)
        for a, b in zip(got[:3], expected[:3]):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=name)
        for dy_name, g in (layouts(dy) if dy.ndim == 4 else {"rows": dy}).items():
            dgot = fast_bn.batch_norm_backward(g, got[3], gamma)
            for a, b, what in zip(dgot, dexpected, ("dgamma", "dbeta", "dx")):
                assert a.shape == b.shape and a.dtype == b.dtype
                np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{what}: x {name}, dy {dy_name}")
        dgamma, dbeta, dx = fast_bn.batch_norm_backward(dy, got[3], gamma, input_grad=False)
        assert dx is None
        np.testing.assert_allclose(dgamma, dexpected[0], **TOL[dtype])


def test_batch_norm_is_bitwise_the_same_for_any_number_of_threads(rng, monkeypatch):
    """The sums are taken per chunk of rows and added in chunk order: no order that a team changes."""
    from handgrad.kernels.numba import batch_norm as fast_bn
    monkeypatch.setattr(fast_bn, "CHUNK_BYTES", 40 * 4 * 7)  # 7 rows per chunk: 186 chunks, some to each thread
    x = rng.standard_normal((16, 40, 9, 9)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = rng.standard_normal((2, 40)).astype(np.float32)
    monkeypatch.setattr(fast, "MIN_TASK_ELEMENTS", 1)
    results, before = [], threads.num_threads()
    for n in (1, 2, 3):
        threads.set_num_threads(n)
        y, mean, var, cache = fast_bn.batch_norm_forward(x, gamma, beta, 1e-3)
        results.append((y.copy(), mean, var, *fast_bn.batch_norm_backward(dy, cache, gamma)))
    threads.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
