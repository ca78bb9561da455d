"""One numba call per task of ``handgrad.kernels.numba.winograd``: a task's chunk pipelines, products included.

The same steps, on the same buffers and in the same order, as the Python loops of ``winograd.conv2d_forward``
and ``conv2d_backward`` (see there), with the ``P`` products of a chunk made by ``blas.matmul`` (NumPy's own
call of its BLAS) instead of one ``np.matmul``: bit for bit the same results, without the GIL between the
steps. One step is merged: the backward pass adds each later chunk's weight-gradient product to the task's sum
in the product's own call (``blas.matmul_add``, the same bits for sums of up to ``blas.ADD_MAX_K`` terms)
instead of writing it apart and adding it (conv2's backward alone took 0.93-0.97x the time, 2 threads, batch 64;
docs/kernel-measurements.md). Compiled per tile size and channel counts, like the 8x8 tile loops they call
(``task_compiler``).
"""
from __future__ import annotations

import functools

from numba import njit

from handgrad.kernels.numba import blas, task_compiler, winograd_loops6, winograd_loops8
from handgrad.kernels.numba import loops as numba_loops


@njit(inline="always")
def rows(T):
    """Rows per point in the transformed arrays: ``T`` rounded up to odd (see ``winograd._rows``)."""
    return T | 1


@functools.cache
def transform_loops(alpha: int, C: int, F: int) -> tuple:
    """``(input_transform, input_adjoint, output_transform, output_adjoint)`` for ``alpha x alpha`` tiles."""
    if alpha == 8:
        return (winograd_loops8.input_transform(C), winograd_loops8.input_adjoint(C),
                winograd_loops8.output_transform(F), winograd_loops8.output_adjoint(F))
    loops = winograd_loops6
    return loops.input_transform, loops.input_adjoint, loops.output_transform, loops.output_adjoint


def _sources() -> str:
    """The hash of the sources the templates call (``task_compiler.source_hash``)."""
    return task_compiler.source_hash(blas, numba_loops, winograd_loops6, winograd_loops8)


def _functions(alpha: int, C: int, F: int) -> dict:
    """The globals the templates call."""
    input_transform, input_adjoint, output_transform, output_adjoint = transform_loops(alpha, C, F)
    return dict(input_transform=input_transform, input_adjoint=input_adjoint, output_transform=output_transform,
                output_adjoint=output_adjoint, pad_input=winograd_loops6.pad_input,
                crop_input=winograd_loops6.crop_input, add_column_sums=numba_loops.add_column_sums,
                add_in_place=numba_loops.add_in_place, matmul=blas.matmul, matmul_add=blas.matmul_add,
                add_max_k=blas.ADD_MAX_K, rows=rows,
                max_pool_elu=numba_loops.max_pool_elu_f32, unpool_elu=numba_loops.max_pool_elu_backward_strided)


def _forward_template(alpha, C, F, sources):
    def run(gemm, x, lo, hi, step, top, left, TH, TW, U, bias, z, xp_buf, V_buf, M_buf, z_buf, whole, OH, OW,
            pool, pool_kh, pool_kw, pool_sh, pool_sw, elu_alpha, pooled, argmax, y):
        sources  # noqa: B018 (a constant of the cache key: the sources this task calls)
        P = alpha * alpha
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            T = (n1 - n0) * TH * TW
            Tp = rows(T)
            xp = xp_buf[: n1 - n0]
            pad_input(x[n0:n1], top, left, xp)  # noqa: F821 (the template's globals: see _functions)
            V = V_buf[: P * Tp * C].reshape((P, Tp, C))
            input_transform(xp, TH, TW, V)  # noqa: F821
            M = M_buf[: P * Tp * F].reshape((P, Tp, F))
            for p in range(P):
                matmul(gemm, V[p, :T], U[p], M[p, :T])  # noqa: F821
            if pool:  # z_buf's rows and columns past the output lie outside the windows
                output_transform(M, bias, TH, TW, z_buf[: n1 - n0])  # noqa: F821
                max_pool_elu(z_buf[: n1 - n0], pool_kh, pool_kw, pool_sh, pool_sw, pooled[n0:n1],  # noqa: F821
                             argmax[n0:n1], elu_alpha, y[n0:n1])
            elif whole:
                output_transform(M, bias, TH, TW, z[n0:n1])  # noqa: F821
            else:
                output_transform(M, bias, TH, TW, z_buf[: n1 - n0])  # noqa: F821
                z[n0:n1] = z_buf[: n1 - n0, :OH, :OW]

    return run


def _backward_template(alpha, C, F, sources):
    def run(gemm, dz, x, lo, hi, step, top, left, TH, TW, Ut, dU_part, dU_chunk, db_part, dx, xp_buf, V_buf,
            dM_buf, dz_buf, whole, input_grad, OH, OW, unpool, dy, y, elu_alpha, argmax, pool_kh, pool_kw, pool_sh,
            pool_sw, dpooled):
        sources  # noqa: B018 (a constant of the cache key: the sources this task calls)
        P = alpha * alpha
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            T = (n1 - n0) * TH * TW
            Tp = rows(T)
            if unpool:  # this chunk's dz, made in dz_buf (whole tiles; zero past the output, as the windows leave it)
                unpool_elu(dy[n0:n1], y[n0:n1], elu_alpha, argmax[n0:n1], pool_kh, pool_kw, pool_sh,  # noqa: F821
                           pool_sw, dpooled[: n1 - n0], dz_buf[: n1 - n0])
                add_column_sums(dz_buf[: n1 - n0].reshape((-1, F)), db_part)  # noqa: F821 (the zeros add nothing)
            else:
                add_column_sums(dz[n0:n1].reshape((-1, F)), db_part)  # noqa: F821
                if not whole:
                    dz_buf[: n1 - n0, :OH, :OW] = dz[n0:n1]
            dM = dM_buf[: P * Tp * F].reshape((P, Tp, F))
            output_adjoint(dz[n0:n1] if whole and not unpool else dz_buf[: n1 - n0], TH, TW, dM)  # noqa: F821
            xp = xp_buf[: n1 - n0]
            pad_input(x[n0:n1], top, left, xp)  # noqa: F821
            V = V_buf[: P * Tp * C].reshape((P, Tp, C))
            input_transform(xp, TH, TW, V)  # noqa: F821
            # dU_part (C, F per point): the first chunk's product written; the others' added by the product's own
            # call when its sum is short enough to keep the bits (blas.ADD_MAX_K), else apart, as the Python loops
            if n0 == lo:
                for p in range(P):
                    matmul(gemm, V[p, :T].T, dM[p, :T], dU_part[p])  # noqa: F821
            elif T <= add_max_k:  # noqa: F821
                for p in range(P):
                    matmul_add(gemm, V[p, :T].T, dM[p, :T], dU_part[p])  # noqa: F821
            else:
                for p in range(P):
                    matmul(gemm, V[p, :T].T, dM[p, :T], dU_chunk[p])  # noqa: F821
                add_in_place(dU_part, dU_chunk)  # noqa: F821
            if input_grad:
                for p in range(P):
                    matmul(gemm, dM[p, :T], Ut[p], V[p, :T])  # noqa: F821 (dV (T, C), in V's buffer)
                input_adjoint(V, TH, TW, xp)  # noqa: F821
                crop_input(xp, top, left, dx[n0:n1])  # noqa: F821

    return run


@functools.cache
def forward(alpha: int, C: int, F: int):
    """``run(gemm, x, lo, hi, step, top, left, TH, TW, U, bias, z, xp_buf, V_buf, M_buf, z_buf, whole, OH, OW,
    pool, pool_kh, pool_kw, pool_sh, pool_sw, elu_alpha, pooled, argmax, y)``: ``winograd.conv2d_forward``'s
    chunks of images ``lo:hi`` into ``z (N, OH, OW, F)``; ``z_buf`` (whole tiles) is used only when not ``whole``
    or with ``pool``. With ``pool``, ``z`` is not written: each chunk's ``z_buf`` is pooled and ELU'd into
    ``pooled``, ``argmax``, ``y`` as ``loops.max_pool_elu_f32``."""
    return task_compiler.compile_task(_forward_template, _functions(alpha, C, F), alpha=alpha, C=C, F=F,
                                      sources=_sources())


@functools.cache
def backward(alpha: int, C: int, F: int):
    """``run(gemm, dz, x, lo, hi, step, top, left, TH, TW, Ut, dU_part, dU_chunk, db_part, dx, xp_buf, V_buf,
    dM_buf, dz_buf, whole, input_grad, OH, OW, unpool, dy, y, elu_alpha, argmax, pool_kh, pool_kw, pool_sh,
    pool_sw, dpooled)``: ``winograd.conv2d_backward``'s chunks of images ``lo:hi``, of ``dz (N, OH, OW, F)``.

    ``dz_buf`` (zero past the output) is used only when not ``whole`` or with ``unpool``; ``Ut`` and ``dx``
    only with ``input_grad``. With ``unpool``, ``dz`` is not read: each chunk's is made into ``dz_buf`` from
    ``dy``, ``y`` and ``argmax`` ``(N, POH, POW, F)`` as ``loops.max_pool_elu_backward_strided``. ``dU_part``
    is this task's partial sum (its first chunk's product written in place, the others added), ``db_part``
    its float64 bias sums.
    """
    return task_compiler.compile_task(_backward_template, _functions(alpha, C, F), alpha=alpha, C=C, F=F,
                                      sources=_sources())
