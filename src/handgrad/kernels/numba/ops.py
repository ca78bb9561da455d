"""Fast kernels: the API of ``handgrad.kernels.numpy.ops`` on numba loops, a thread team and chunked products.

Importing this module imports numba. Each function has the reference's name, arguments and results (equal up
to float rounding); what differs is how the work is done:

- Work is split into tasks (runs of images, rows or elements) that the threads of
  ``handgrad.kernels.threads`` take in turn; each runs the whole pipeline on its task with single-threaded
  BLAS (see that module for why).
- Convolution works in chunks of whole images whose column matrix (``CHUNK_BYTES``) stays in the core's
  cache: per chunk, im2col, the products, col2im in backward; a task's chunks in one numba call
  (``im2col_chunks``, products by NumPy's own BLAS call: ``blas``) for float32 layers of at least
  ``blas.MIN_TASK_MACS`` multiply-adds, else in Python loops around ``np.matmul``. The backward pass recomputes a
  chunk's columns instead of keeping the whole column matrix of the forward pass (``N*OH*OW * KH*KW*C``
  floats: 80 MB for the reference network's second conv at batch 128), which saves memory and runs the
  products on cache-resident operands.
- Pooling and ELU are single passes over channels-last memory; ELU's float32 ``expm1`` is a vectorized
  polynomial (``loops.elu_f32``, within 1 ulp), float64 uses the C library's. ``max_pool_elu_*``
  computes ELU followed by max pooling as pooling followed by ELU (``handgrad.kernels.numba.fusion`` plans it);
  a convolution can run it as its epilogue (``ELUMaxPool``) on each chunk of its output while it is in cache.
- Outputs are channels-last arrays viewed as NCHW (as the references'), so the next layer reads them
  without a copy; inputs of any memory layout are accepted (a non-channels-last input costs one copy).

Buffers (``handgrad.kernels.numba.buffers``): large outputs come from a pool of recycled buffers, per-thread scratch
is reused across calls; layouts (``handgrad.kernels.numba.layout``): channels-last views, outputs in an input's
memory layout.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from handgrad.kernels import threads
from handgrad.kernels.conv_geometry import ConvGeometry
from handgrad.kernels.im2col import kernel_from_matrix, kernel_matrix
from handgrad.kernels.numba import blas, im2col_chunks, loops
from handgrad.kernels.numba.buffers import empty, release_buffers, scratch, scratch_array, unused  # noqa: F401 (release_buffers: the API)
from handgrad.kernels.numba.layout import channels_last, dense, flat_like

# Bytes of one chunk's column matrix, per thread (at least one image). On the reference network (2 Zen 3
# cores, 1 MB L2 each, 32 MB shared L3) chunks of 0.25 to 3 MB ran within noise of each other, 5 MB 10-20%
# slower: the chunk and its gradient must stay in cache between im2col, the products and col2im. Each
# thread's scratch is about twice this.
CHUNK_BYTES = 2 << 20
# Smallest task worth handing to another thread (a hand-off costs ~20-50 us, ~100 us of work): multiply-adds
# for products, elements for element-wise passes. Smaller layers (gradient checks) run on the calling thread.
MIN_TASK_MACS = 1 << 22
MIN_TASK_ELEMENTS = 1 << 15
# Tasks per thread of the element-wise passes (ELU, max pooling, both fused): each task's start takes the GIL,
# which the other thread may hold. With one task per thread, conv2's ELU + pooling at batch 64 took 0.14 ms
# forward and 0.19 ms backward on 2 threads, against 0.20 and 0.25 ms with four (docs/kernel-measurements.md).
# Their results do not depend on where the tasks split the batch.
PASS_TASKS_PER_THREAD = 1

# ---------------------------------------------------------------------------------------------- convolution
_gemm = blas.for_tasks  # (im2col_chunks' products: P = OH*OW output pixels, K columns, F filters; see there)
# Inputs with fewer channels than this (the first layer: 1 or 3) use the transposed, channels-first im2col,
# whose copies are runs of a whole output row instead of runs of KW*C floats.
FEW_CHANNELS = 8


def _columns(x_chunk, few: bool, g: ConvGeometry, buf) -> np.ndarray:
    """The im2col matrix ``(n*OH*OW, K)`` of a chunk of the cached input, written into ``buf``.

    Few channels: ``x_chunk`` is NCHW and the matrix a transposed view of ``cols_t (C*KH*KW, n*OH*OW)``;
    many: ``x_chunk`` is NHWC and the matrix is ``cols`` in ``(KH, KW, C)`` column order.
    """
    rows = x_chunk.shape[0] * g.OH * g.OW
    K = g.KH * g.KW * (x_chunk.shape[1] if few else x_chunk.shape[3])
    if few:
        cols_t = buf[: rows * K].reshape(K, rows)
        loops.im2col_channels_first(x_chunk, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, cols_t)
        return cols_t.T
    cols = buf[: rows * K].reshape(rows, K)
    loops.im2col(x_chunk, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, cols)
    return cols


class ELUMaxPool(NamedTuple):
    """A convolution's epilogue: ``MaxPool(ELU(z))`` of each chunk's ``z`` as ``max_pool_elu_forward``, with ELU's
    ``alpha`` and the pooling's geometry ``g`` (no padding)."""

    alpha: float
    g: ConvGeometry


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, g: ConvGeometry,
                   epilogue: ELUMaxPool | None = None):
    """As ``reference.conv2d_forward``; ``cache`` holds the input (not the column matrix) and the kernel matrix.

    Many channels: channels-last input, ``cols (rows, KH*KW*C)``, ``z = cols @ W_mat.T``. Few channels:
    channels-first input, ``cols_t (C*KH*KW, rows)``, ``z = cols_t.T @ W.reshape(F, -1).T`` (the products
    take the transposed operands as they are). With ``epilogue``: ``((y, argmax), cache)``, bit for bit
    ``max_pool_elu_forward(z, *epilogue)``, each chunk's ``z`` pooled while it is in cache (the whole ``z``
    is never written).
    """
    N, C = x.shape[:2]
    F = W.shape[0]
    P = g.OH * g.OW
    few = C < FEW_CHANNELS
    if few:
        x_arr = np.ascontiguousarray(x)  # (N, C, H, W)
        W_mat = W.reshape(F, -1).copy()  # (F, C*KH*KW); a copy: backward uses the weights of this forward
    else:
        x_arr = channels_last(x)  # (N, H, W, C)
        W_mat = kernel_matrix(W)  # (F, KH*KW*C)
    K = W_mat.shape[1]
    step = max(1, CHUNK_BYTES // (P * K * x.itemsize))  # images per chunk
    z = empty((N * P, F), x.dtype) if epilogue is None else None  # (N*OH*OW, F), channels last
    pool = _ELUMaxPoolRun(epilogue, N, F, x.dtype)

    gemm = _gemm(x.dtype, N * P * K * F, P, K, F)  # one numba call per task, or the loops below
    bias = np.zeros(0, x.dtype) if b is None else b  # the Python loops' add_bias(z_chunk, b) as it is

    def task(lo, hi):
        cols_buf = scratch("cols", step * P * K, x.dtype)
        z_buf = z if epilogue is None else scratch("conv_z", step * P * F, x.dtype).reshape(step * P, F)
        if gemm:  # the whole task in one numba call
            im2col_chunks.forward()(gemm, x_arr, lo, hi, step, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW,
                                  W_mat, bias, b is not None, z_buf, cols_buf, few, *pool.arguments)
            return
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            cols = _columns(x_arr[n0:n1], few, g, cols_buf)  # ((n1-n0)*OH*OW, K)
            z_chunk = z_buf[n0 * P : n1 * P] if epilogue is None else z_buf[: (n1 - n0) * P]  # ((n1-n0)*OH*OW, F)
            np.matmul(cols, W_mat.T, out=z_chunk)
            if b is not None:
                loops.add_bias(z_chunk, b)
            if epilogue is not None:
                pool.run(z_chunk.reshape(n1 - n0, g.OH, g.OW, F), n0, n1)

    threads.parallel_for(task, N, _conv_grain(N, step, P * K * F))
    cache = (x_arr, W_mat, few)
    if epilogue is not None:
        return pool.result(), cache
    return z.reshape(N, g.OH, g.OW, F).transpose(0, 3, 1, 2), cache  # z (N, F, OH, OW), channels last


def conv2d_backward(dz, cache, g: ConvGeometry, input_grad: bool = True):
    """As ``reference.conv2d_backward``: per chunk, ``dW_mat += dZ.T @ cols`` and ``dx = col2im(dZ @ W_mat)``.

    ``dz``: ``(N, F, OH, OW)``, or an ``ELUMaxPoolGradient`` from which each chunk's ``dZ`` is made in cache.
    """
    x_arr, W_mat, few = cache
    N = x_arr.shape[0]
    F, K = W_mat.shape
    P = g.OH * g.OW
    dtype = W_mat.dtype
    step = max(1, CHUNK_BYTES // (P * K * dtype.itemsize))  # images per chunk
    grad = dz if isinstance(dz, ELUMaxPoolGradient) else None
    unpool = _UnpoolRun(grad, step, dtype)
    # (N*OH*OW, F); free when channels last
    dz_mat = channels_last(dz.astype(dtype, copy=False)).reshape(N * P, F) if grad is None else None
    dx = empty(x_arr.shape, dtype) if input_grad else None  # like the cached input: NCHW or NHWC
    col2im = loops.col2im_channels_first if few else loops.col2im

    grain = _conv_grain(N, step, P * K * F)
    gemm = _gemm(dtype, N * P * K * F, P, K, F)  # one numba call per task, or the loops below
    tasks = -(-N // grain)
    # One partial sum per task, added in task order afterwards: which thread runs a task varies from call to
    # call, so per-thread sums would make dW and db differ in the last bits between identical runs.
    dW_parts = np.zeros((tasks, F, K), dtype=dtype)
    db_parts = np.zeros((tasks, F))  # float64

    def task(lo, hi):
        dW_part, db_part = dW_parts[lo // grain], db_parts[lo // grain]  # this task's partial sums
        cols_buf = scratch("cols", step * P * K, dtype)
        dcols_buf = scratch("dcols", step * P * K, dtype) if input_grad else None
        dW_chunk = scratch("dW", F * K, dtype).reshape(F, K)  # (F, K)
        dz_buf = dz_mat if grad is None else scratch("conv_dz", step * P * F, dtype).reshape(step * P, F)
        dpooled = unpool.scratch()
        if gemm:  # the whole task in one numba call
            im2col_chunks.backward()(gemm, dz_buf, x_arr, lo, hi, step, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH,
                                   g.OW, W_mat, dW_part, dW_chunk, db_part, dx if input_grad else x_arr[:0],
                                   cols_buf, dcols_buf if input_grad else cols_buf[:0], few, input_grad,
                                   *unpool.arguments(dpooled))
            return
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            rows = (n1 - n0) * P
            if grad is None:
                dz_chunk = dz_mat[n0 * P : n1 * P]  # ((n1-n0)*OH*OW, F)
            else:
                dz_chunk = dz_buf[:rows]
                unpool.run(n0, n1, dz_chunk.reshape(n1 - n0, g.OH, g.OW, F), dpooled)
            loops.add_column_sums(dz_chunk, db_part)
            cols = _columns(x_arr[n0:n1], few, g, cols_buf)  # ((n1-n0)*OH*OW, K)
            if few:  # (K, F) = cols_t @ dZ: ~15% faster than dZ.T @ cols_t.T for K = 25 or 75
                np.matmul(cols.T, dz_chunk, out=dW_chunk.reshape(K, F))
                dW_part += dW_chunk.reshape(K, F).T
            else:
                np.matmul(dz_chunk.T, cols, out=dW_chunk)
                dW_part += dW_chunk
            if input_grad:
                if few:
                    dcols_t = dcols_buf[: rows * K].reshape(K, rows)  # (C*KH*KW, (n1-n0)*OH*OW)
                    np.matmul(W_mat.T, dz_chunk.T, out=dcols_t)
                    col2im(dcols_t, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, dx[n0:n1])
                else:
                    dcols = dcols_buf[: rows * K].reshape(rows, K)  # ((n1-n0)*OH*OW, KH*KW*C)
                    np.matmul(dz_chunk, W_mat, out=dcols)
                    col2im(dcols, g.KH, g.KW, g.SH, g.SW, g.top, g.left, g.OH, g.OW, dx[n0:n1])

    threads.parallel_for(task, N, grain)
    dW_mat, db = dW_parts[0], db_parts[0]
    for i in range(1, tasks):
        dW_mat += dW_parts[i]
        db += db_parts[i]
    db = db.astype(dtype)
    if few:
        dW = dW_mat.reshape(F, x_arr.shape[1], g.KH, g.KW)  # (F, C, KH, KW), the natural order
        return dW, db, dx  # dx (N, C, H, W)
    dW = kernel_from_matrix(dW_mat, (F, x_arr.shape[3], g.KH, g.KW))
    return dW, db, (dx.transpose(0, 3, 1, 2) if input_grad else None)  # dx (N, C, H, W), channels last


def _conv_grain(N: int, step: int, macs_per_image: int) -> int:
    """Images per task: a few tasks per thread, at most a chunk's worth, at least ``MIN_TASK_MACS`` of work."""
    return max(-(-MIN_TASK_MACS // max(1, macs_per_image)), min(step, threads.grain_for(N, 1)))


# ---------------------------------------------------------------------------------------------- dense
def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """As ``reference.dense_forward``: each thread computes its columns of ``z = x @ W + b``.

    Split over output features, not rows: each thread then packs only its own columns of ``W`` (a row split
    had every thread pack all of ``W``, 3.2 MB for the reference network's 3136 -> 256, which at batch 64
    costs about as much as the product; see docs/kernel-measurements.md).
    """
    N, n_in = x.shape
    n_out = W.shape[1]
    z = empty((N, n_out), W.dtype)  # (N, out)

    def task(lo, hi):
        np.matmul(x, W[:, lo:hi], out=z[:, lo:hi])
        if b is not None:
            z[:, lo:hi] += b[lo:hi]

    threads.parallel_for(task, n_out, _split_grain(n_out, N * n_in))
    return z


def dense_backward(dz: np.ndarray, x: np.ndarray, W: np.ndarray, input_grad: bool = True):
    """As ``reference.dense_backward``: ``dW = x.T @ dz`` and ``dx = dz @ W.T`` in one pass split over input
    features: a task's rows of ``dW`` and columns of ``dx`` read only its columns of ``x`` and rows of ``W``."""
    N, n_in = x.shape
    n_out = W.shape[1]
    dz = np.ascontiguousarray(dz, dtype=W.dtype)  # (N, out)
    dW = empty((n_in, n_out), W.dtype)  # (in, out)
    dx = empty((N, n_in), W.dtype) if input_grad else None  # (N, in)

    def task(lo, hi):
        np.matmul(x[:, lo:hi].T, dz, out=dW[lo:hi])
        if input_grad:
            np.matmul(dz, W[lo:hi].T, out=dx[:, lo:hi])

    threads.parallel_for(task, n_in, _split_grain(n_in, N * n_out * (2 if input_grad else 1)))
    return dW, dz.sum(axis=0), dx


def _split_grain(n: int, macs_per_item: int) -> int:
    """Items per task for a product: one task per thread (each packs its own copy of the shared operand)."""
    return max(-(-MIN_TASK_MACS // max(1, macs_per_item)), -(-n // threads.num_threads()))


def _pass_grain(n: int, elements_per_item: int) -> int:
    """Items per task of an element-wise pass over ``n`` items: ``PASS_TASKS_PER_THREAD`` tasks per thread, each
    of at least ``MIN_TASK_ELEMENTS`` elements."""
    return threads.grain_for(n, MIN_TASK_ELEMENTS // max(1, elements_per_item), PASS_TASKS_PER_THREAD)


# ---------------------------------------------------------------------------------------------- pooling
def _argmax_dtype(g: ConvGeometry):
    return np.int8 if g.KH * g.KW <= 127 else np.int32


def max_pool_forward(x: np.ndarray, g: ConvGeometry):
    """As ``reference.max_pool_forward``; ``argmax`` is channels-last ``(N, OH, OW, C)``, int8 for windows up to 127."""
    N, C = x.shape[:2]
    x_nhwc = channels_last(x)  # (N, H, W, C)
    y = empty((N, g.OH, g.OW, C), x.dtype)  # (N, OH, OW, C)
    argmax = empty((N, g.OH, g.OW, C), _argmax_dtype(g))

    def task(lo, hi):
        loops.max_pool(x_nhwc[lo:hi], g.KH, g.KW, g.SH, g.SW, y[lo:hi], argmax[lo:hi])

    threads.parallel_for(task, N, _pass_grain(N, x[0].size))
    return y.transpose(0, 3, 1, 2), argmax  # (N, C, OH, OW), channels last


def max_pool_backward(dy: np.ndarray, argmax: np.ndarray, x_shape, g: ConvGeometry) -> np.ndarray:
    """As ``reference.max_pool_backward``; ``argmax`` from ``max_pool_forward`` above."""
    N, C, H, W = x_shape
    dy_nhwc = channels_last(dy)  # (N, OH, OW, C)
    dx = empty((N, H, W, C), dy.dtype)  # (N, H, W, C)

    def task(lo, hi):
        loops.max_pool_backward(dy_nhwc[lo:hi], argmax[lo:hi], g.KH, g.KW, g.SH, g.SW, dx[lo:hi])

    threads.parallel_for(task, N, _pass_grain(N, H * W * C))
    return dx.transpose(0, 3, 1, 2)  # (N, C, H, W), channels last


# ---------------------------------------------------------------------------------------------- ELU
def elu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    """As ``reference.elu_forward``; the output has ``x``'s memory layout."""
    x, order = dense(x)
    y, x_flat, y_flat = flat_like(x, order)
    if x.dtype == np.float32:
        kernel, a = loops.elu_f32, np.float32(alpha)
    else:
        kernel, a = loops.elu_f64, float(alpha)

    def task(lo, hi):
        kernel(x_flat[lo:hi], a, y_flat[lo:hi])

    threads.parallel_for(task, x.size, _pass_grain(x.size, 1))
    return y


def elu_backward(dy: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """As ``reference.elu_backward``; ``dx`` has ``y``'s memory layout whatever ``dy``'s."""
    y, order = dense(y)
    dy_flat = np.ascontiguousarray(np.asarray(dy, dtype=y.dtype).transpose(order)).reshape(-1)  # copy if layouts differ
    dx, y_flat, dx_flat = flat_like(y, order)
    a = y.dtype.type(alpha)

    def task(lo, hi):
        loops.elu_backward(dy_flat[lo:hi], y_flat[lo:hi], a, dx_flat[lo:hi])

    threads.parallel_for(task, y.size, _pass_grain(y.size, 1))
    return dx


# ---------------------------------------------------------------------------------------------- ELU + max pooling
def max_pool_elu_forward(x: np.ndarray, alpha: float, g: ConvGeometry):
    """``MaxPool(ELU(x))`` computed as ``ELU(MaxPool(x))``; returns ``(y, argmax)`` as ``max_pool_forward``.

    Equal because ELU is increasing, so each window's maximum and its position are the same before and
    after ELU (up to float rounding; where ELU saturates to ``-alpha`` a tie in ``ELU(x)`` may break towards
    another position, whose gradient is 0 as well). ELU then runs on the pooled map: ``KH*KW`` times fewer
    exponentials, and the full-size ELU output is never written.
    """
    N, C = x.shape[:2]
    x_nhwc = channels_last(x)  # (N, H, W, C)
    pool = _ELUMaxPoolRun(ELUMaxPool(alpha, g), N, C, x.dtype)

    def task(lo, hi):
        pool.run(x_nhwc[lo:hi], lo, hi)

    threads.parallel_for(task, N, _pass_grain(N, x[0].size))
    return pool.result()


class _ELUMaxPoolRun:
    """The outputs of ``max_pool_elu_forward`` (or of a convolution's ``ELUMaxPool`` epilogue) for ``N`` images of
    ``C`` channels, filled images ``lo:hi`` at a time by ``run``; ``arguments``: the chunk tasks' pooling
    arguments (``pool, KH, KW, SH, SW, alpha, pooled, argmax, y``; empty arrays without an epilogue)."""

    def __init__(self, epilogue: ELUMaxPool | None, N: int, C: int, dtype):
        if epilogue is None:
            none = unused(dtype, 4)
            self.arguments = (False, 0, 0, 0, 0, dtype.type(0), none, unused(np.int8, 4), none)
            return
        g = epilogue.g
        self.g = g
        self.pooled = empty((N, g.OH, g.OW, C), dtype)  # (N, OH, OW, C), max of x
        self.y = empty((N, g.OH, g.OW, C), dtype)  # (N, OH, OW, C), ELU of the max
        self.argmax = empty((N, g.OH, g.OW, C), _argmax_dtype(g))
        if dtype == np.float32:
            self.kernel, self.alpha = loops.max_pool_elu_f32, np.float32(epilogue.alpha)
        else:
            self.kernel, self.alpha = loops.max_pool_elu_f64, float(epilogue.alpha)
        self.arguments = (True, g.KH, g.KW, g.SH, g.SW, self.alpha, self.pooled, self.argmax, self.y)

    def run(self, x_nhwc: np.ndarray, lo: int, hi: int) -> None:
        """Pool images ``lo:hi`` from ``x_nhwc (hi-lo, H, W, C)`` (rows and columns past the windows unread)."""
        g = self.g
        self.kernel(x_nhwc, g.KH, g.KW, g.SH, g.SW, self.pooled[lo:hi], self.argmax[lo:hi], self.alpha, self.y[lo:hi])

    def result(self):
        """``(y, argmax)``: ``y (N, C, OH, OW)`` channels last, ``argmax (N, OH, OW, C)``."""
        return self.y.transpose(0, 3, 1, 2), self.argmax


class ELUMaxPoolGradient(NamedTuple):
    """A convolution's output gradient through its ``ELUMaxPool`` epilogue, made chunk by chunk in cache by its
    backward pass: ``dz = MaxPool'(ELU'(y) * dy)``, bit for bit ``max_pool_elu_backward``.

    ``dy`` ``(N, F, POH, POW)`` in any layout; ``y`` and ``argmax``: the epilogue's results; ``alpha`` and the
    pooling's geometry ``g``: as in ``ELUMaxPool``.
    """

    dy: np.ndarray
    y: np.ndarray
    argmax: np.ndarray
    alpha: float
    g: ConvGeometry


class _UnpoolRun:
    """``dz`` of images ``lo:hi`` from an ``ELUMaxPoolGradient`` (or nothing without one), ``step`` images per chunk;
    ``arguments(dpooled)``: the chunk tasks' (``unpool, dy, y, alpha, argmax, KH, KW, SH, SW, dpooled``)."""

    def __init__(self, grad: ELUMaxPoolGradient | None, step: int, dtype):
        self.grad, self.step, self.dtype = grad, step, dtype
        if grad is None:
            return
        self.dy = np.asarray(grad.dy, dtype=dtype).transpose(0, 2, 3, 1)  # (N, POH, POW, F), a view
        self.y = channels_last(grad.y)  # (N, POH, POW, F)
        self.alpha = dtype.type(grad.alpha)
        # Channels last in memory: the flat loops; else (a Flatten's NCHW gradient) read where it lies, no copy.
        self.kernel = (loops.max_pool_elu_backward if self.dy.flags.c_contiguous else
                       loops.max_pool_elu_backward_strided)

    def scratch(self) -> np.ndarray:
        """This thread's ``dpooled`` for one chunk ``(step, POH, POW, F)`` (empty without a gradient)."""
        if self.grad is None:
            return unused(self.dtype, 4)
        return scratch_array("conv_dpooled", (self.step, *self.y.shape[1:]), self.dtype)

    def arguments(self, dpooled: np.ndarray) -> tuple:
        """The chunk tasks' unpooling arguments, with this thread's ``dpooled`` (see the class docstring)."""
        if self.grad is None:
            none = unused(self.dtype, 4)
            return False, none, none, self.dtype.type(0), unused(np.int8, 4), 0, 0, 0, 0, dpooled
        g = self.grad.g
        return True, self.dy, self.y, self.alpha, self.grad.argmax, g.KH, g.KW, g.SH, g.SW, dpooled

    def run(self, lo: int, hi: int, dz: np.ndarray, dpooled: np.ndarray) -> None:
        """``dz (hi-lo, H, W, F)`` (overwritten; rows and columns past the output zero) of images ``lo:hi``."""
        g = self.grad.g
        self.kernel(self.dy[lo:hi], self.y[lo:hi], self.alpha, self.grad.argmax[lo:hi], g.KH, g.KW, g.SH, g.SW,
                    dpooled[: hi - lo], dz)


def max_pool_elu_backward(dy: np.ndarray, y: np.ndarray, argmax: np.ndarray, alpha: float, x_shape,
                          g: ConvGeometry) -> np.ndarray:
    """Gradient of ``max_pool_elu_forward``: ``dx = MaxPool'(ELU'(y) * dy)``, ELU's derivative taken at the
    pooled output ``y`` (the ELU output at each window's maximum)."""
    N, C, H, W = x_shape
    dy_nhwc = np.asarray(dy, dtype=y.dtype).transpose(0, 2, 3, 1)  # (N, OH, OW, C), a view
    # Channels last in memory: the flat loops; else (a Flatten's NCHW gradient) read where it lies, no copy.
    kernel = loops.max_pool_elu_backward if dy_nhwc.flags.c_contiguous else loops.max_pool_elu_backward_strided
    y_nhwc = channels_last(y)  # (N, OH, OW, C)
    dpooled = empty(y_nhwc.shape, y.dtype)  # (N, OH, OW, C)
    dx = empty((N, H, W, C), y.dtype)  # (N, H, W, C)
    a = y.dtype.type(alpha)

    def task(lo, hi):
        kernel(dy_nhwc[lo:hi], y_nhwc[lo:hi], a, argmax[lo:hi], g.KH, g.KW, g.SH, g.SW, dpooled[lo:hi], dx[lo:hi])

    threads.parallel_for(task, N, _pass_grain(N, H * W * C))
    return dx.transpose(0, 3, 1, 2)  # (N, C, H, W), channels last
