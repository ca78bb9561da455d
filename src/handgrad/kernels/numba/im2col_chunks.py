"""One numba call per task of ``handgrad.kernels.numba.ops``' im2col convolution, products included.

The same steps, on the same buffers and in the same order, as the Python loops of ``ops.conv2d_forward`` and
``conv2d_backward`` (see there), with the products made by ``blas.matmul`` (NumPy's own call of its BLAS)
instead of ``np.matmul``: bit for bit the same results, without the GIL between the steps (``blas``).
``few``: the transposed, channels-first columns of inputs with few channels (``ops.FEW_CHANNELS``). Compiled
once (``task_compiler``: cached on disk by the sources they call).
"""
from __future__ import annotations

import functools

from handgrad.kernels.numba import blas, loops, task_compiler

_FUNCTIONS = dict(im2col=loops.im2col, im2col_channels_first=loops.im2col_channels_first, col2im=loops.col2im,
                  col2im_channels_first=loops.col2im_channels_first, add_bias=loops.add_bias,
                  add_column_sums=loops.add_column_sums, add_in_place=loops.add_in_place, matmul=blas.matmul,
                  max_pool_elu=loops.max_pool_elu_f32, unpool_elu=loops.max_pool_elu_backward_strided)


def _forward_template(sources):
    def run(gemm, x, lo, hi, step, KH, KW, SH, SW, top, left, OH, OW, W_mat, b, has_bias, z, cols_buf, few,
            pool, pool_kh, pool_kw, pool_sh, pool_sw, alpha, pooled, argmax, y):
        sources  # noqa: B018 (a constant of the cache key: the sources this task calls)
        P = OH * OW
        F, K = W_mat.shape
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            rows = (n1 - n0) * P
            z_chunk = z[:rows] if pool else z[n0 * P : n1 * P]  # ((n1-n0)*OH*OW, F): a chunk's scratch, or z's
            if few:
                cols_t = cols_buf[: rows * K].reshape((K, rows))
                im2col_channels_first(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW, cols_t)  # noqa: F821
                matmul(gemm, cols_t.T, W_mat.T, z_chunk)  # noqa: F821 (the template's globals: _FUNCTIONS)
            else:
                cols = cols_buf[: rows * K].reshape((rows, K))
                im2col(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW, cols)  # noqa: F821
                matmul(gemm, cols, W_mat.T, z_chunk)  # noqa: F821
            if has_bias:
                add_bias(z_chunk, b)  # noqa: F821
            if pool:
                max_pool_elu(z_chunk.reshape((n1 - n0, OH, OW, F)), pool_kh, pool_kw, pool_sh, pool_sw,  # noqa: F821
                             pooled[n0:n1], argmax[n0:n1], alpha, y[n0:n1])

    return run


def _backward_template(sources):
    def run(gemm, dz_mat, x, lo, hi, step, KH, KW, SH, SW, top, left, OH, OW, W_mat, dW_part, dW_chunk, db_part,
            dx, cols_buf, dcols_buf, few, input_grad, unpool, dy, y, alpha, argmax, pool_kh, pool_kw, pool_sh,
            pool_sw, dpooled):
        sources  # noqa: B018 (a constant of the cache key: the sources this task calls)
        P = OH * OW
        F, K = W_mat.shape
        for n0 in range(lo, hi, step):
            n1 = min(hi, n0 + step)
            rows = (n1 - n0) * P
            dz_chunk = dz_mat[:rows] if unpool else dz_mat[n0 * P : n1 * P]  # ((n1-n0)*OH*OW, F)
            if unpool:  # this chunk's dZ, in the scratch dz_mat
                unpool_elu(dy[n0:n1], y[n0:n1], alpha, argmax[n0:n1], pool_kh, pool_kw, pool_sh, pool_sw,  # noqa: F821
                           dpooled[: n1 - n0], dz_chunk.reshape((n1 - n0, OH, OW, F)))
            add_column_sums(dz_chunk, db_part)  # noqa: F821
            if few:
                cols_t = cols_buf[: rows * K].reshape((K, rows))
                im2col_channels_first(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW, cols_t)  # noqa: F821
                dW_t = dW_chunk.reshape((K, F))
                matmul(gemm, cols_t, dz_chunk, dW_t)  # noqa: F821 ((K, F) = cols_t @ dZ)
                for f in range(F):
                    for k in range(K):
                        dW_part[f, k] += dW_t[k, f]
            else:
                cols = cols_buf[: rows * K].reshape((rows, K))
                im2col(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW, cols)  # noqa: F821
                matmul(gemm, dz_chunk.T, cols, dW_chunk)  # noqa: F821
                add_in_place(dW_part, dW_chunk)  # noqa: F821
            if input_grad:
                if few:
                    dcols_t = dcols_buf[: rows * K].reshape((K, rows))
                    matmul(gemm, W_mat.T, dz_chunk.T, dcols_t)  # noqa: F821
                    col2im_channels_first(dcols_t, KH, KW, SH, SW, top, left, OH, OW, dx[n0:n1])  # noqa: F821
                else:
                    dcols = dcols_buf[: rows * K].reshape((rows, K))
                    matmul(gemm, dz_chunk, W_mat, dcols)  # noqa: F821
                    col2im(dcols, KH, KW, SH, SW, top, left, OH, OW, dx[n0:n1])  # noqa: F821

    return run


@functools.cache
def forward():
    """``run(gemm, x, lo, hi, step, KH, KW, SH, SW, top, left, OH, OW, W_mat, b, has_bias, z, cols_buf, few, pool,
    pool_kh, pool_kw, pool_sh, pool_sw, alpha, pooled, argmax, y)``: ``ops.conv2d_forward``'s chunks of images
    ``lo:hi``: ``z (N*OH*OW, F) = cols @ W_mat.T (+ b)``; with ``pool``, each chunk's ``z`` (into the
    scratch ``z``, ``(images per chunk * OH*OW, F)``) pooled and ELU'd into ``pooled``, ``argmax``, ``y``
    ``(N, POH, POW, F)`` as ``loops.max_pool_elu_f32``, so that the whole ``z`` is never written."""
    return task_compiler.compile_task(_forward_template, _FUNCTIONS, sources=task_compiler.source_hash(blas, loops))


@functools.cache
def backward():
    """``run(gemm, dz_mat, x, lo, hi, step, KH, KW, SH, SW, top, left, OH, OW, W_mat, dW_part, dW_chunk, db_part,
    dx, cols_buf, dcols_buf, few, input_grad, unpool, dy, y, alpha, argmax, pool_kh, pool_kw, pool_sh, pool_sw,
    dpooled)``: ``ops.conv2d_backward``'s chunks of images ``lo:hi``: ``dW_part (F, K) += dZ.T @ cols``,
    ``db_part`` (float64) ``+=`` the column sums of ``dZ``, and with ``input_grad`` ``dx = col2im(dZ @ W_mat)``.
    With ``unpool``, each chunk's ``dZ`` is made into the scratch ``dz_mat`` (``(images per chunk * OH*OW, F)``)
    from ``dy``, ``y`` and ``argmax`` ``(N, POH, POW, F)`` as ``loops.max_pool_elu_backward_strided``."""
    return task_compiler.compile_task(_backward_template, _FUNCTIONS, sources=task_compiler.source_hash(blas, loops))
