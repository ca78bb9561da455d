"""Fast Winograd convolution: the API of ``handgrad.kernels.numpy.winograd`` on numba transforms and batched products.

The same algorithm as the NumPy set's (``handgrad.kernels.numpy.winograd``: error bounds; the transforms and
points in ``handgrad.kernels.winograd_transforms``), done like ``handgrad.kernels.numba.ops``' im2col
convolution: the batch is split into chunks of whole images, each chunk's transformed tiles fit in the core's
cache (``CHUNK_BYTES``), and the thread team runs one chunk pipeline per task with single-threaded BLAS. Per
chunk of ``T`` tiles, with ``P = alpha^2`` (64 or 36):

- forward: the chunk zero-padded to whole tiles (``pad_input``, a few images: cache-resident); ``V =
  input_transform(x)`` ``(P, T, C)``; ``M = V @ U``: ``P`` products ``(T, C) @ (C, F)`` in one ``np.matmul``;
  ``z = output_transform(M) + b``, written channels-last (through a scratch and cropped when the output is not
  whole tiles; with an ``ELUMaxPool`` epilogue, pooled from the scratch and never written);
- backward: ``dM = output_adjoint(dz)`` ``(P, T, F)`` (from an ``ELUMaxPoolGradient``: the chunk's ``dz`` made in
  the scratch first); ``V`` recomputed (as the im2col path recomputes its
  columns, to keep no ``P/m^2``-times-the-input cache); ``dU += V^T @ dM`` ``(P, C, F)`` per task, summed in
  task order (identical bits whichever thread ran a task), ``dW = G^T dU G`` in float64; input gradient:
  ``dV = dM @ U^T`` (into ``V``'s buffer) and ``dx = input_adjoint(dV)``: the transposed algorithm, which
  reuses ``dM`` instead of transforming the padded ``dz`` again as the flipped-kernel forward pass would.

A task runs its chunks in one numba call (``winograd_chunks``, the products by ``blas.matmul``: NumPy's own
BLAS call, so the same bits) for float32 layers of at least ``blas.MIN_TASK_MACS`` multiply-adds; otherwise,
or when NumPy's gemm is not found, in the Python loops below around ``np.matmul``.

Transformed arrays have an odd number of rows per point (``_rows``), against cache-set conflicts. Outside the
chunks, ``U = G g G^T`` and ``dW = G^T dU G`` are two float64 matrix products each (as
``winograd_transforms.kernel_transform``/``kernel_gradient``, through per-thread float64 scratch); ``U`` is
reused while the weights' bits stay the same (inference). Time per step of the reference network: see the
README's Speed section (``make bench``).
"""
from __future__ import annotations

import threading

import numpy as np

from handgrad.kernels import threads
from handgrad.kernels import winograd_transforms as wg
from handgrad.kernels.conv_geometry import ConvGeometry
from handgrad.kernels.numba import blas, buffers, layout
from handgrad.kernels.numba import loops as numba_loops
from handgrad.kernels.numba import ops as fast
from handgrad.kernels.numba import winograd_chunks as chunks
from handgrad.kernels.numba import winograd_loops6 as loops

# Bytes of one chunk's transformed input and product (``P*T*(C + F)`` floats) per thread, at least one image.
# As for im2col's columns (``fast.CHUNK_BYTES``): both must stay in cache between the transforms and products,
# and beside them ``U`` (and in backward ``U^T`` and a chunk's ``dU``, ``P*C*F`` floats each: 0.5 MB for the
# reference network's conv2). 1 MB chunks ran conv2's forward + backward 6-19 % faster than 2 MB on 2 cores with
# 2 MB of L2 each (docs/kernel-measurements.md); im2col's chunk size made no difference there.
CHUNK_BYTES = 1 << 20


# The transformed kernels ``U`` of the last few weight arrays, by the weights' bits: inference runs the forward
# pass again and again on the same weights, and the float64 transform of conv2's (64 x 32 x 5 x 5) took 0.3-0.6
# ms of a 5 ms forward pass. Checked on every call (a comparison of the weights' bits, ~20 us), so a weight
# changed in place (an optimizer step) is transformed again; ``U`` is never written after it is made.
_TRANSFORMED: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_TRANSFORMED_MAX = 8
_transformed_lock = threading.Lock()


def _bits(a: np.ndarray) -> np.ndarray:
    """The bits of ``a``'s values in C order, as unsigned integers of its item size (NaNs and -0 compare)."""
    return np.ascontiguousarray(a).reshape(-1).view(f"u{a.dtype.itemsize}")


def _transformed_kernel(W: np.ndarray, t, dtype) -> np.ndarray:
    """``U = wg.kernel_transform(W, t).astype(dtype)`` bit for bit ``(P, C, F)``: reused while ``W``'s bits stay
    the same, else made by ``_kernel_transform``."""
    key = (id(W), W.shape, W.dtype, np.dtype(dtype), t.alpha)
    bits = _bits(W)
    with _transformed_lock:
        hit = _TRANSFORMED.get(key)
    if hit is not None and np.array_equal(hit[0], bits):
        return hit[1]
    U = _kernel_transform(W, t, dtype)
    with _transformed_lock:
        _TRANSFORMED.pop(key, None)
        _TRANSFORMED[key] = (bits.copy(), U)  # the newest last
        while len(_TRANSFORMED) > _TRANSFORMED_MAX:
            del _TRANSFORMED[next(iter(_TRANSFORMED))]
    return U


def _scratch64(name: str, shape) -> np.ndarray:
    """This thread's float64 scratch for ``winograd_transforms.kernel_transform``/``kernel_gradient`` (fresh ~1 MB
    temporaries each call cost their page faults)."""
    return buffers.scratch_array(f"winograd_{name}", shape, np.float64)


def _kernel_transform(W: np.ndarray, t, dtype) -> np.ndarray:
    """``wg.kernel_transform(W, t).astype(dtype)`` bit for bit, through this thread's scratch, into a pooled
    ``(P, C, F)`` array."""
    U64 = wg.kernel_transform(W, t, _scratch64)
    U = buffers.empty(U64.shape, dtype)
    np.copyto(U, U64)
    return U


def _kernel_gradient(dU: np.ndarray, t, dtype) -> np.ndarray:
    """``wg.kernel_gradient(dU, t).astype(dtype)`` bit for bit (and in its memory layout), through this thread's
    scratch: ``(P, C, F) -> (F, C, r, r)``."""
    return wg.kernel_gradient(dU, t, _scratch64).astype(dtype)


def _plan(N: int, C: int, F: int, g: ConvGeometry, itemsize: int):
    """``(t, TH, TW, step, grain)``: transform, tiles per image, images per chunk, images per task."""
    t = wg.transform_for(g)
    TH, TW = wg.tiles(g, t.m)
    P = t.alpha**2
    step = max(1, CHUNK_BYTES // (P * TH * TW * (C + F) * itemsize))
    grain = fast._conv_grain(N, step, P * TH * TW * C * F)
    return t, TH, TW, step, grain


def _padded_shape(n: int, C: int, t, TH: int, TW: int) -> tuple:
    """The zero-padded input of ``n`` images that whole tiles read: ``(n, TH*m + r - 1, TW*m + r - 1, C)``."""
    return n, TH * t.m + t.r - 1, TW * t.m + t.r - 1, C


def _rows(T: int) -> int:
    """Rows per point in the transformed arrays: ``T`` rounded up to odd.

    The transforms write (or read) all points of a tile at once, 36 or 64 streams one point stride apart; with
    ``T`` even (e.g. 128 tiles: two 16x16 images) that stride is a multiple of 4 KiB, the streams fall into the
    same L1/L2 cache sets and evict each other (the output adjoint, 2 images of 64 tiles in cache, took 1225 ns
    per tile with 128 rows and 806 ns with 129). An odd row count spreads them.
    """
    return T | 1


_gemm = blas.for_tasks  # NumPy's gemm for winograd_chunks, or 0 for the Python loops (see there)


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, g: ConvGeometry,
                   epilogue: fast.ELUMaxPool | None = None):
    """As ``winograd.conv2d_forward``; ``cache`` holds the channels-last input and ``U``. With ``epilogue``:
    ``((y, argmax), cache)`` as ``fast.conv2d_forward``'s, each chunk's output tiles pooled in cache."""
    N, C = x.shape[:2]
    F = W.shape[0]
    dtype = x.dtype
    t, TH, TW, step, grain = _plan(N, C, F, g, dtype.itemsize)
    P, tiles_per_image = t.alpha**2, TH * TW
    whole = g.OH == TH * t.m and g.OW == TW * t.m  # the output is whole tiles: written in place
    x_nhwc = layout.channels_last(x)  # (N, H, W, C)
    with threads.single_threaded_blas():  # a threaded BLAS call would leave its workers spinning on our cores
        U = _transformed_kernel(W, t, dtype)  # (P, C, F)
    bias = np.zeros(F, dtype) if b is None else np.asarray(b, dtype)
    z = buffers.empty((N, g.OH, g.OW, F), dtype) if epilogue is None else None  # (N, OH, OW, F)
    pool = fast._ELUMaxPoolRun(epilogue, N, F, dtype)
    tiled = not whole or epilogue is not None  # chunks written to z_buf: whole tiles
    input_transform, _, output_transform, _ = chunks.transform_loops(t.alpha, C, F)
    gemm = _gemm(dtype, N * tiles_per_image * P * C * F, tiles_per_image, C, F)  # one numba call per task?
    run = chunks.forward(t.alpha, C, F) if gemm else None
    unused = buffers.unused(dtype, 4)  # the numba task's stand-in for a buffer it does not use

    def task(lo, hi):
        xp_buf = buffers.scratch_array("winograd_xp", _padded_shape(step, C, t, TH, TW), dtype)
        V_buf = buffers.scratch("winograd_V", _rows(step * tiles_per_image) * P * C, dtype)
        M_buf = buffers.scratch("winograd_M", _rows(step * tiles_per_image) * P * F, dtype)
        z_buf = buffers.scratch_array("winograd_z", (step, TH * t.m, TW * t.m, F), dtype) if tiled else None
        if run is not None:  # the whole task in one numba call
            run(gemm, x_nhwc, lo, hi, step, g.top, g.left, TH, TW, U, bias, unused if z is None else z,
                xp_buf, V_buf, M_buf, z_buf if tiled else unused, whole, g.OH, g.OW, *pool.arguments)
            return
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            T = (n1 - n0) * tiles_per_image
            Tp = _rows(T)
            xp = xp_buf[: n1 - n0]
            loops.pad_input(x_nhwc[n0:n1], g.top, g.left, xp)
            V = V_buf[: P * Tp * C].reshape(P, Tp, C)
            input_transform(xp, TH, TW, V)
            M = M_buf[: P * Tp * F].reshape(P, Tp, F)
            np.matmul(V[:, :T], U, out=M[:, :T])
            if epilogue is not None:  # z_buf's rows and columns past the output lie outside the windows
                output_transform(M, bias, TH, TW, z_buf[: n1 - n0])
                pool.run(z_buf[: n1 - n0], n0, n1)
            elif whole:
                output_transform(M, bias, TH, TW, z[n0:n1])
            else:
                output_transform(M, bias, TH, TW, z_buf[: n1 - n0])
                z[n0:n1] = z_buf[: n1 - n0, : g.OH, : g.OW]

    # Two tasks per thread, of several chunks: each task costs a Python call with the GIL held (~20 us), and
    # tasks of one chunk each ran conv2's forward pass 8-17 % slower (docs/kernel-measurements.md). A whole
    # number of chunks per task keeps the chunks (and so the bits: BLAS's result for a row may depend on the
    # product's row count, with OpenBLAS's Haswell kernels) where tasks of one chunk put them.
    grain = max(grain, threads.grain_for(N, step, tasks_per_thread=2))
    threads.parallel_for(task, N, step * -(-grain // step))
    cache = (x_nhwc, U, g)
    if epilogue is not None:
        return pool.result(), cache
    return z.transpose(0, 3, 1, 2), cache  # z (N, F, OH, OW), channels last


def conv2d_backward(dz, cache, g: ConvGeometry, input_grad: bool = True):
    """As ``winograd.conv2d_backward``: ``(dW, db, dx)``, ``dx`` None when ``input_grad`` is False. ``dz``: as
    ``fast.conv2d_backward``'s (an array, or a ``fast.ELUMaxPoolGradient``: each chunk's made in cache)."""
    x_nhwc, U, _ = cache
    N, H, W, C = x_nhwc.shape
    F = U.shape[2]
    dtype = U.dtype
    t, TH, TW, step, grain = _plan(N, C, F, g, dtype.itemsize)
    P, tiles_per_image = t.alpha**2, TH * TW
    whole = g.OH == TH * t.m and g.OW == TW * t.m
    Ut = None
    if input_grad:  # (P, F, C)
        Ut = buffers.empty((P, F, C), dtype)
        np.copyto(Ut, U.transpose(0, 2, 1))
    grad = dz if isinstance(dz, fast.ELUMaxPoolGradient) else None
    unpool = fast._UnpoolRun(grad, step, dtype)
    tiled = not whole or grad is not None  # chunks of dz in dz_buf: whole tiles
    unused3, unused4 = buffers.unused(dtype, 3), buffers.unused(dtype, 4)  # stand-ins for buffers a task does not use
    # (N, OH, OW, F); free when channels last
    dz_nhwc = layout.channels_last(dz.astype(dtype, copy=False)) if grad is None else unused4
    dx = buffers.empty((N, H, W, C), dtype) if input_grad else None
    input_transform, input_adjoint, _, output_adjoint = chunks.transform_loops(t.alpha, C, F)
    gemm = _gemm(dtype, N * tiles_per_image * P * C * F, tiles_per_image, C, F)  # one numba call per task?
    run = chunks.backward(t.alpha, C, F) if gemm else None
    # Two tasks per thread (fewer than the forward pass): fewer partial sums to add up afterwards.
    grain = max(grain, threads.grain_for(N, step, tasks_per_thread=2))
    tasks = -(-N // grain)
    # One partial sum per task, added in task order (see fast.conv2d_backward: reproducible bits).
    dU_parts = buffers.empty((tasks, P, C, F), dtype)  # each task's first chunk writes its part
    db_parts = np.zeros((tasks, F))  # float64

    def task(lo, hi):
        dU_part, db_part = dU_parts[lo // grain], db_parts[lo // grain]
        xp_buf = buffers.scratch_array("winograd_xp", _padded_shape(step, C, t, TH, TW), dtype)
        V_buf = buffers.scratch("winograd_V", _rows(step * tiles_per_image) * P * C, dtype)
        dM_buf = buffers.scratch("winograd_M", _rows(step * tiles_per_image) * P * F, dtype)
        dU_chunk = buffers.scratch_array("winograd_dU", (P, C, F), dtype)
        dz_buf = None
        if tiled:
            dz_buf = buffers.scratch_array("winograd_z", (step, TH * t.m, TW * t.m, F), dtype)
            if grad is None:  # the rows and columns past the output stay zero (an unpooled chunk is written whole)
                dz_buf[:] = 0
        dpooled = unpool.scratch()
        if run is not None:  # the whole task in one numba call
            run(gemm, dz_nhwc, x_nhwc, lo, hi, step, g.top, g.left, TH, TW, unused3 if Ut is None else Ut,
                dU_part, dU_chunk, db_part, unused4 if dx is None else dx, xp_buf, V_buf, dM_buf,
                dz_buf if tiled else unused4, whole, input_grad, g.OH, g.OW, *unpool.arguments(dpooled))
            return
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            T = (n1 - n0) * tiles_per_image
            Tp = _rows(T)
            if grad is not None:  # this chunk's dz, made in dz_buf (zero past the output, as the windows leave it)
                dz_chunk = dz_buf[: n1 - n0]
                unpool.run(n0, n1, dz_chunk, dpooled)
                numba_loops.add_column_sums(dz_chunk.reshape(-1, F), db_part)  # the zeros add nothing
            else:
                dz_chunk = dz_nhwc[n0:n1]
                numba_loops.add_column_sums(dz_chunk.reshape(-1, F), db_part)
                if not whole:
                    dz_buf[: n1 - n0, : g.OH, : g.OW] = dz_chunk
                    dz_chunk = dz_buf[: n1 - n0]
            dM = dM_buf[: P * Tp * F].reshape(P, Tp, F)
            output_adjoint(dz_chunk, TH, TW, dM)
            xp = xp_buf[: n1 - n0]
            loops.pad_input(x_nhwc[n0:n1], g.top, g.left, xp)
            V = V_buf[: P * Tp * C].reshape(P, Tp, C)
            input_transform(xp, TH, TW, V)
            if n0 == lo:
                np.matmul(V[:, :T].transpose(0, 2, 1), dM[:, :T], out=dU_part)  # (P, C, F)
            else:
                np.matmul(V[:, :T].transpose(0, 2, 1), dM[:, :T], out=dU_chunk)
                dU_part += dU_chunk
            if input_grad:
                np.matmul(dM[:, :T], Ut, out=V[:, :T])  # dV (P, T, C), in V's buffer
                input_adjoint(V, TH, TW, xp)  # d(padded input), in the padded input's buffer
                loops.crop_input(xp, g.top, g.left, dx[n0:n1])

    threads.parallel_for(task, N, grain)
    dU, db = dU_parts[0], db_parts[0]  # (P, C, F), (F,): the parts added in task order
    for i in range(1, tasks):
        dU += dU_parts[i]
        db += db_parts[i]
    with threads.single_threaded_blas():
        dW = _kernel_gradient(dU, t, dtype)  # (F, C, r, r)
    return dW, db.astype(dtype), (dx.transpose(0, 3, 1, 2) if input_grad else None)  # dx (N, C, H, W)
