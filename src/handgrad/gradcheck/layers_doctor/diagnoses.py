"""Say which classic bug a wrong output is, from its values and the case it failed in.

Specific patterns first (each a comparison with what that bug computes):

- ``shape``: the output has the wrong shape; for conv and pool the message gives ``(H + 2P - HH) / S + 1``;
- ``not_flattened``: affine on ``x (N, d1, d2)`` fails (raises, or a wrong shape) where ``(N, D)`` passes;
- ``padding_not_removed``: conv's dx has the padded input's shape;
- ``flipped_kernel``: conv's out equals the true convolution (kernel flipped);
- ``test_uses_batch_stats``: batchnorm's test mode normalizes with the batch statistics;
- ``momentum_reversed``: a running statistic equals ``momentum * batch + (1 - momentum) * running``;
- ``overlap``: max pool's dx is wrong only at inputs that two windows share (``=`` instead of ``+=``);
- ``gamma_missing``: a normalization's dx equals the one for gamma = 1;
- ``batch_stats_constant``: dx equals ``gamma * dout / sqrt(var + eps)``, the batch mean and variance held
  constant;
- ``nonfinite``: NaN or inf (softmax without the max shift overflows at scores ~800);
- ``float32`` (``check.py``): the forward computes in float32 for float64 inputs;
- ``padding_or_stride`` (across cases): conv wrong only in the cases with padding and/or stride;

then the kinds of the model doctor, from yours ``a`` and the reference ``n``: ``missing`` (``||a|| <= 1e-3
||n||``), ``scaled`` (``a = k n``, ``k`` named when it is ``N``, ``1/N``, 2 or 1/2), ``sign`` (``k = -1``),
``partial`` (right on some entries, wrong on others), ``wrong``. Dropout's own diagnoses are in
``check.py`` (they read statistics, not entries).
"""
from __future__ import annotations

import numpy as np

from handgrad.gradcheck.layers_doctor import oracles

TOL = 1e-6  # relative error (by norms) above which an output fails; finite differences are good to ~1e-8
RESIDUAL = 1e-3  # a = k n with ||a - k n|| <= 1e-3 ||a||: a clean multiple


def close(got, want, tol: float = TOL) -> bool:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not np.isfinite(got).all():
        return False
    diff = float(np.linalg.norm(got - want))
    return diff <= tol * (float(np.linalg.norm(got)) + float(np.linalg.norm(want))) or diff <= 1e-10


def _entrywise_close(a, n):
    return np.abs(a - n) <= 1e-6 * (np.abs(a) + np.abs(n)) + 1e-9


def _factor(k: float, N: int) -> str | None:
    for value, name in ((N, f"N = {N}"), (1 / N, f"1/N = 1/{N}"), (2.0, "2"), (0.5, "1/2")):
        if abs(k - value) <= 1e-3 * abs(value) and (N > 2 or value in (2.0, 0.5)):
            return name
    return None


def classify(output: str, got, want, N: int, reference: str) -> tuple[str, str]:
    """The model doctor's kinds for ``got`` against ``want``; ``reference`` names what ``want`` is."""
    a, n = np.asarray(got, np.float64).ravel(), np.asarray(want, np.float64).ravel()
    na, nn = float(np.linalg.norm(a)), float(np.linalg.norm(n))
    if nn == 0.0:
        return "wrong", f"{output} is non-zero where {reference} is zero"
    if na <= RESIDUAL * nn:
        return "missing", (f"{output} is zero where {reference} is not: it is never computed or never "
                           f"reaches the returned array")
    k = float(a @ n / (n @ n))
    if np.linalg.norm(a - k * n) <= RESIDUAL * na:
        if abs(k + 1) <= 1e-3:
            return "sign", f"{output} has the wrong sign (yours = -1 x {reference}): flip the sign of this term"
        named = _factor(k, N)
        if named and named.startswith("N ="):
            fix = "summed over the batch where it should be averaged: divide by N"
        elif named and named.startswith("1/N"):
            fix = "divided by N once too often (or averaged where it should be summed)"
        else:
            fix = "a constant factor is wrong"
        return "scaled", f"{output} is {named or f'{k:.4g}'} times {reference}: {fix}"
    ok = _entrywise_close(a, n)
    worst = int(np.argmax(np.abs(a - n)))
    index = np.unravel_index(worst, np.shape(got))
    at = f"worst at index {tuple(int(i) for i in index)}: yours {a[worst]:.6g}, expected {n[worst]:.6g}"
    if 0.25 <= ok.mean() < 1:
        return "partial", (f"{output} is right on {int(ok.sum())} of {ok.size} entries and wrong on the others "
                           f"({at}): a term is missing for part of the entries")
    return "wrong", f"{output} differs from {reference} ({at})"


def shape_message(kind: str, case, output: str, got_shape, want_shape) -> tuple[str, str]:
    base = f"{output} has shape {tuple(got_shape)}, expected {tuple(want_shape)}"
    if kind == "conv" and output == "out":
        x, w, p = case.arrays["x"], case.arrays["w"], case.extra[0]
        return "shape", (f"{base} = (N, F, (H + 2P - HH) / S + 1, (W + 2P - WW) / S + 1) with H = {x.shape[2]}, "
                         f"W = {x.shape[3]}, HH = {w.shape[2]}, WW = {w.shape[3]}, P = {p['pad']}, "
                         f"S = {p['stride']}: compute H' and W' with this formula")
    if kind == "max_pool" and output == "out":
        x, p = case.arrays["x"], case.extra[0]
        return "shape", (f"{base} = (N, C, (H - HH) / S + 1, (W - WW) / S + 1) with H = {x.shape[2]}, "
                         f"W = {x.shape[3]}, HH = {p['pool_height']}, WW = {p['pool_width']}, S = {p['stride']}")
    if kind == "affine" and "multi_dim" in case.tags:
        if output == "dx":
            return "not_flattened", f"{base}: reshape dx back to x's shape (dx.reshape(x.shape))"
        return "not_flattened", f"{base}: reshape x to (N, D) first (x.reshape(x.shape[0], -1))"
    if kind == "conv" and output == "dx":
        P = case.extra[0]["pad"]
        x = case.arrays["x"]
        if tuple(got_shape) == (*x.shape[:2], x.shape[2] + 2 * P, x.shape[3] + 2 * P):
            return "padding_not_removed", (f"{base}, the padded input's: remove the padding, "
                                           f"dx = dx_pad[:, :, P:-P, P:-P] (P = {P})")
    if output.startswith("d"):
        return "shape", f"{base}: a gradient has the shape of its input, {output} that of {output[1:]}"
    return "shape", f"{base}"


def forward(kind: str, case, output: str, got, want) -> tuple[str, str]:
    got = np.asarray(got, np.float64)
    if got.shape != np.shape(want):
        return shape_message(kind, case, output, got.shape, np.shape(want))
    if not np.isfinite(got).all():
        hint = (": exp overflows for large scores; subtract each row's maximum before exp"
                if kind == "softmax_loss" else "")
        return "nonfinite", f"{output} holds NaN or inf{hint}"
    if kind == "conv" and close(got, oracles.flipped_conv(case)):
        return "flipped_kernel", ("out is the true convolution (w flipped): layers compute the cross-correlation, "
                                  "out = sum(x_window * w[f]) + b[f]; do not flip w")
    if "test_mode" in case.tags and kind in ("batchnorm", "spatial_batchnorm") and \
            close(got, oracles.batchnorm_train_output(case)):
        return "test_uses_batch_stats", ("out in test mode is normalized with the batch's mean and variance: test "
                                         "mode must use bn_param's running_mean and running_var")
    if output.startswith("running_") and close(got, oracles.running_momentum_reversed(case, output)):
        return "momentum_reversed", (f"{output} = momentum * batch + (1 - momentum) * {output}: the momentum "
                                     f"convention is reversed; use momentum * {output} + (1 - momentum) * batch")
    N = case.arrays["x"].shape[0]
    return classify(output, got, want, N, "handgrad's")


NORMS = ("batchnorm", "spatial_batchnorm", "layernorm", "spatial_groupnorm")


def backward(kind: str, case, output: str, got, numerical, dout) -> tuple[str, str]:
    got = np.asarray(got, np.float64)
    if got.shape != numerical.shape:
        if got.size == numerical.size and output not in ("dx",):
            got = got.reshape(numerical.shape)  # dgamma of (C,) for a gamma of (1, C, 1, 1): accepted
        else:
            return shape_message(kind, case, output, got.shape, numerical.shape)
    if not np.isfinite(got).all():
        return "nonfinite", f"{output} holds NaN or inf"
    if kind == "max_pool" and "overlap" in case.tags:
        wrong = ~_entrywise_close(got, numerical)
        if wrong.any() and (oracles.pool_coverage(case)[wrong] >= 2).all():
            return "overlap", ("dx is wrong only at inputs that overlapping windows share: accumulate with "
                               "dx[window] += ..., not dx[window] = ..., windows share inputs")
    if kind in NORMS and output == "dx":
        if "gamma_one" not in case.tags and close(got, oracles.dx_without_gamma(kind, case, dout), 1e-5):
            return "gamma_missing", ("dx is the gradient for gamma = 1 (wrong only when gamma != 1): a gamma "
                                     "factor is missing in dx, dx_hat = dout * gamma")
        if close(got, oracles.dx_constant_statistics(kind, case, dout), 1e-5):
            return "batch_stats_constant", ("dx = gamma * dout / sqrt(var + eps), the gradient with the batch mean "
                                            "and variance held constant: the terms through the batch statistics "
                                            "are missing (dmean and dvar depend on x)")
    N = case.arrays["x"].shape[0]
    return classify(output, got, numerical, N, "the numerical gradient of your forward")


GENERIC = ("missing", "scaled", "sign", "partial", "wrong")


def across_cases(kind: str, failures: list, cases: list) -> list:
    """Conv wrong (generic kinds) only where there is padding or stride: say so, naming which."""
    from handgrad.gradcheck.layers_doctor.report import Failure

    if kind != "conv" or not failures or any(f.diagnosis not in GENERIC for f in failures):
        return failures
    tags = {c.name: c.tags for c in cases}
    failed = {f.case for f in failures}
    if any(not tags[name] for name in failed):
        return failures  # also wrong without padding or stride
    padded = all(name in failed for name, t in tags.items() if "padded" in t)
    strided = all(name in failed for name, t in tags.items() if "strided" in t)
    only_padded = all("padded" in tags[name] for name in failed)
    only_strided = all("strided" in tags[name] for name in failed)
    what = ("padding" if only_padded and padded else "stride > 1" if only_strided and strided else
            "padding or stride")
    hint = {"padding": "check how x is padded and which part of dx_pad is returned",
            "stride > 1": "check the window offsets i * stride, j * stride in every loop",
            }.get(what, "check the padding and the window offsets i * stride")
    return [Failure(f.case, f.output, "padding_or_stride", f"{f.output} is wrong only with {what}: {hint} "
                                                           f"(in this case, {f.message})") for f in failures]
