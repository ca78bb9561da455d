"""The numba set's convolution with ELU + max pooling as its epilogue (``ops.ELUMaxPool``), its backward pass
from the pooling's gradient (``ops.ELUMaxPoolGradient``) and the fused step that runs both
(``fusion.ConvELUMaxPool``): bit for bit the convolution, then ``max_pool_elu_forward``, and back."""
import copy

import numpy as np
import pytest

import handgrad as hg
from handgrad.kernels import backend, threads
from handgrad.kernels import numba as kernels_numba
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.kernels.numba import blas, fusion
from handgrad.kernels.numba import ops as fast
from handgrad.kernels.numba import winograd as wf
from handgrad.models import reference_cnn

ALGORITHMS = {"im2col": fast, "winograd": wf}
CASES = [  # (algorithm, input (N, C, H, W), filters, kernel, padding, pool window, pool stride)
    ("im2col", (8, 1, 28, 28), 32, 5, "same", 2, 2),  # the reference network's conv1: few channels, numba tasks
    ("im2col", (4, 32, 14, 14), 32, 3, "same", 2, 2),  # many channels, numba tasks
    ("im2col", (8, 3, 28, 28), 16, 5, "same", 3, 2),  # numba tasks, overlapping windows, a ragged row and column
    ("im2col", (4, 3, 13, 11), 8, (3, 2), "valid", 3, 2),  # small (Python loops); overlapping, ragged windows
    ("winograd", (3, 32, 14, 14), 64, 5, "same", 2, 2),  # conv2: partial tiles, numba tasks
    ("winograd", (2, 32, 16, 16), 64, 5, "same", 2, 2),  # whole tiles
    ("winograd", (2, 32, 15, 16), 64, 3, "same", 3, 2),  # 6x6 tiles, numba tasks, overlapping and ragged windows
    ("winograd", (3, 16, 9, 7), 8, 3, "same", 3, 2),  # small (Python loops); ragged windows
]


@pytest.fixture(params=["default", "3-threads-1-image-chunks"])
def team(request):
    """The default chunks and team, and 3 threads with one image per chunk (several chunks per task)."""
    saved = threads.num_threads(), fast.CHUNK_BYTES, wf.CHUNK_BYTES, fast.MIN_TASK_MACS, fast.MIN_TASK_ELEMENTS
    if request.param != "default":
        threads.set_num_threads(3)
        fast.CHUNK_BYTES = wf.CHUNK_BYTES = 1
        fast.MIN_TASK_MACS = fast.MIN_TASK_ELEMENTS = 1
    yield request.param
    threads.set_num_threads(saved[0])
    fast.CHUNK_BYTES, wf.CHUNK_BYTES, fast.MIN_TASK_MACS, fast.MIN_TASK_ELEMENTS = saved[1:]


def _setup(shape, filters, kernel, padding, pool, pool_stride, dtype, rng):
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    g = conv_geometry(shape[2], shape[3], kernel, (1, 1), padding)
    pool_g = conv_geometry(g.OH, g.OW, (pool, pool), (pool_stride, pool_stride), "valid")
    x = rng.standard_normal(shape).astype(dtype)
    W = (rng.standard_normal((filters, shape[1], *kernel)) / np.sqrt(shape[1] * kernel[0] * kernel[1])).astype(dtype)
    b = (2 * rng.standard_normal(filters) - 2).astype(dtype)  # negative and positive window maxima: ELU's two sides
    return g, pool_g, x, W, b


@pytest.mark.parametrize("algorithm,shape,filters,kernel,padding,pool,pool_stride", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_epilogue_gives_the_bits_of_the_convolution_then_the_pooling(algorithm, shape, filters, kernel, padding,
                                                                     pool, pool_stride, dtype, bias, team, rng):
    kernels = ALGORITHMS[algorithm]
    g, pool_g, x, W, b = _setup(shape, filters, kernel, padding, pool, pool_stride, dtype, rng)
    b = b if bias else None
    z, cache = kernels.conv2d_forward(x, W, b, g)
    want_y, want_argmax = fast.max_pool_elu_forward(z, 0.7, pool_g)
    (y, argmax), fused_cache = kernels.conv2d_forward(x, W, b, g, epilogue=fast.ELUMaxPool(0.7, pool_g))
    assert y.shape == want_y.shape and y.dtype == dtype and argmax.shape == want_argmax.shape
    assert y.tobytes() == want_y.tobytes() and argmax.tobytes() == want_argmax.tobytes()
    assert not bias or ((y < 0).any() and (y > 0).any())  # both sides of ELU were met
    dz = rng.standard_normal(z.shape).astype(dtype)
    for got, want in zip(kernels.conv2d_backward(dz, fused_cache, g), kernels.conv2d_backward(dz, cache, g)):
        assert got.tobytes() == want.tobytes()  # the cache of the fused pass serves the backward pass


@pytest.mark.parametrize("algorithm,shape,filters,kernel,padding,pool,pool_stride", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dy_layout", ["channels-last", "channels-first"])  # a convolution's dx; a Flatten's
@pytest.mark.parametrize("input_grad", [True, False])
def test_gradient_made_chunk_by_chunk_gives_the_bits_of_the_pooling_then_the_convolution(
        algorithm, shape, filters, kernel, padding, pool, pool_stride, dtype, dy_layout, input_grad, team, rng):
    kernels = ALGORITHMS[algorithm]
    g, pool_g, x, W, b = _setup(shape, filters, kernel, padding, pool, pool_stride, dtype, rng)
    (y, argmax), cache = kernels.conv2d_forward(x, W, b, g, epilogue=fast.ELUMaxPool(0.7, pool_g))
    dy = rng.standard_normal(y.shape).astype(dtype)  # (N, F, POH, POW), channels first
    if dy_layout == "channels-last":
        dy = np.ascontiguousarray(dy.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    dz = fast.max_pool_elu_backward(dy, y, argmax, 0.7, (shape[0], filters, g.OH, g.OW), pool_g)
    want = kernels.conv2d_backward(dz, cache, g, input_grad)
    got = kernels.conv2d_backward(fast.ELUMaxPoolGradient(dy, y, argmax, 0.7, pool_g), cache, g, input_grad)
    assert (got[2] is None) == (want[2] is None) == (not input_grad)
    for a, w in zip(got, want):
        if w is not None:
            assert a.shape == w.shape and a.dtype == dtype and a.tobytes() == w.tobytes()
    assert np.abs(want[1]).max() > 0 and np.abs(want[0]).max() > 0


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_numba_tasks_and_python_loops_give_the_same_epilogue_bits(algorithm, team, rng, monkeypatch):
    if not blas.address(np.float32):
        pytest.skip("NumPy's gemm was not found: the Python loops only")
    kernels = ALGORITHMS[algorithm]
    case = next(c for c in CASES if c[0] == algorithm)
    g, pool_g, x, W, b = _setup(*case[1:], np.float32, rng)
    P, K = g.OH * g.OW, W[0].size
    assert kernels._gemm(np.float32, x.shape[0] * P * K * W.shape[0], P, K, W.shape[0])  # numba tasks here
    epilogue = fast.ELUMaxPool(1.0, pool_g)
    (y, argmax), cache = kernels.conv2d_forward(x, W, b, g, epilogue=epilogue)
    grad = fast.ELUMaxPoolGradient(rng.standard_normal(y.shape).astype(np.float32), y, argmax, 1.0, pool_g)
    grads = kernels.conv2d_backward(grad, cache, g)
    monkeypatch.setattr(kernels, "_gemm", lambda *args: 0)
    (y_loops, argmax_loops), _ = kernels.conv2d_forward(x, W, b, g, epilogue=epilogue)
    assert y.tobytes() == y_loops.tobytes() and argmax.tobytes() == argmax_loops.tobytes()
    for got, want in zip(grads, kernels.conv2d_backward(grad, cache, g), strict=True):
        assert got.tobytes() == want.tobytes()


def kinds(layers):
    return [type(s).__name__ for _, _, s in kernels_numba.fusion_plan(layers)]


class ConvSubclass(hg.Conv2D):
    """A subclass (as a test injecting a fault writes one) does not inherit the claim to be fusable."""


def test_fused_only_for_a_plain_conv2d_before_what_elu_max_pool_fuses():
    assert kinds([hg.Conv2D(4, 3), hg.ELU(), hg.MaxPool2D(2)]) == ["ConvELUMaxPool"]
    assert kinds([hg.Conv2D(4, 3, kernel_regularizer=hg.L2(0.1)), hg.ELU(), hg.MaxPool2D(2), hg.ELU()]) == [
        "ConvELUMaxPool", "ELU"]  # weight penalties are Sequential's, added after the step's backward
    assert kinds([hg.Conv2D(4, 3, activation="elu"), hg.ELU(), hg.MaxPool2D(2)]) == ["Conv2D", "ELUMaxPool"]
    assert kinds([hg.Conv2D(4, 3, activity_regularizer=hg.L2(0.1)), hg.ELU(), hg.MaxPool2D(2)]) == [
        "Conv2D", "ELUMaxPool"]  # z is penalized: it must exist
    assert kinds([ConvSubclass(4, 3), hg.ELU(), hg.MaxPool2D(2)]) == ["ConvSubclass", "ELUMaxPool"]
    assert kinds([hg.Conv2D(4, 3), hg.ELU(activity_regularizer=hg.L2(0.1)), hg.MaxPool2D(2)]) == [
        "Conv2D", "ELU", "MaxPool2D"]
    assert kinds([hg.Conv2D(4, 3), hg.ELU(), hg.AvgPool2D(2)]) == ["Conv2D", "ELU", "AvgPool2D"]
    assert kinds([hg.Conv2D(4, 3), hg.BatchNorm2D(), hg.ELU(), hg.MaxPool2D(2)]) == [
        "Conv2D", "BatchNorm2D", "ELUMaxPool"]
    assert kinds([hg.Conv2D(4, 3), hg.ELU()]) == ["Conv2D", "ELU"]  # fewer layers left than the rule's


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 13, 11)])
def test_a_model_gives_the_same_bits_with_and_without_the_fused_convolution(input_shape, rng, monkeypatch):
    """Loss, every gradient (weight penalties included) and the input gradient, fused or layer by layer."""
    model = reference_cnn(input_shape=input_shape, weight_l2=1e-3, dropout=0.25, seed=3)
    x = rng.standard_normal((6, *input_shape)).astype(np.float32)
    y = np.array([1, 0, 9, 3, 3, 7])
    results = []
    for rules in (fusion.RULES, (fusion.ELUMaxPool,)):
        monkeypatch.setattr(fusion, "RULES", rules)
        m = copy.deepcopy(model)  # the same weights and dropout generator state
        with backend.using_kernels("numba"):
            terms, grads = m.loss(x, y, training=True)
            dx = m.backward(m.forward(x, training=True) * 0 + 1.0, input_grad=True)
            results.append((terms, {k: g.copy() for k, g in grads.items()}, dx,
                            [type(s).__name__ for _, _, s in m._steps]))
    (t_fused, g_fused, dx_fused, steps_fused), (t_pairs, g_pairs, dx_pairs, steps_pairs) = results
    assert steps_fused[:2] == ["ConvELUMaxPool", "ConvELUMaxPool"] and "ConvELUMaxPool" not in steps_pairs
    assert (t_fused.data, t_fused.weight) == (t_pairs.data, t_pairs.weight)
    assert g_fused.keys() == g_pairs.keys()
    for k in g_pairs:
        assert g_fused[k].tobytes() == g_pairs[k].tobytes(), k
    assert dx_fused.tobytes() == dx_pairs.tobytes()
