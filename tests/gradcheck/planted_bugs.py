"""The classic bugs, each planted in a copy of ``user_layers/layers.py`` by one text substitution.

``BUGS[name] = (substitutions, expected)``: every ``(old, new)`` must occur exactly once in the correct file
(so that an edit of that file cannot silently leave a bug unplanted); ``expected`` maps each layer that must
be flagged to ``{output: diagnosis}``, and nothing else may be flagged. Layers built on the buggy function
(``spatial_batchnorm`` calls ``batchnorm_forward`` and ``batchnorm_backward_alt``; ``max_pool_fast`` falls
back to the naive loops where windows overlap) are wrong too and expected.
"""
from pathlib import Path

CORRECT = Path(__file__).parent / "user_layers" / "layers.py"
RUNNING = {"running_mean": "momentum_reversed"}

BUGS = {
    "max_pool_assign": (
        [("dx[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw] += mask",
          "dx[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw] = mask")],
        {"max_pool": {"dx": "overlap"}, "max_pool_fast": {"dx": "overlap"}}),
    "batchnorm_dx_without_gamma": (
        [("    dx_hat = dout * gamma\n    dvar", "    dx_hat = dout\n    dvar")],
        {"batchnorm": {"dx": "gamma_missing"}}),
    "batch_statistics_constant": (
        [("dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)", "dx = gamma / std * dout")],
        {"batchnorm_alt": {"dx": "batch_stats_constant"}, "spatial_batchnorm": {"dx": "batch_stats_constant"}}),
    "conv_flipped_kernel": (
        [("out[n, f, i, j] = np.sum(window * w[f]) + b[f]",
          "out[n, f, i, j] = np.sum(window * w[f, :, ::-1, ::-1]) + b[f]"),
         ("dw[f] += window * dout[n, f, i, j]", "dw[f] += (window * dout[n, f, i, j])[:, ::-1, ::-1]"),
         ("+= w[f] * dout[n, f, i, j]", "+= w[f, :, ::-1, ::-1] * dout[n, f, i, j]")],
        {"conv": {"out": "flipped_kernel"}}),
    "conv_dx_padding_kept": (
        [("    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]\n    return dx, dw, db",
          "    dx = dx_pad\n    return dx, dw, db")],
        {"conv": {"dx": "padding_not_removed"}}),
    "dropout_backward_without_mask": (
        [("        dx = dout * mask", "        dx = dout")],
        {"dropout": {"dx": "mask_missing"}}),
    "dropout_scaled_by_p": (
        [("mask = (np.random.rand(*x.shape) < p) / p", "mask = (np.random.rand(*x.shape) < p) * p")],
        {"dropout": {"out": "scaled_by_p"}}),
    "affine_not_reshaped": (
        [("out = x.reshape(N, -1).dot(w) + b", "out = x.dot(w) + b")],
        {"affine": {"out": "not_flattened"}}),
    "softmax_summed": (
        [("loss = -np.sum(log_probs[np.arange(N), y]) / N", "loss = -np.sum(log_probs[np.arange(N), y])"),
         ("    dx[np.arange(N), y] -= 1\n    dx /= N\n", "    dx[np.arange(N), y] -= 1\n")],
        {"softmax_loss": {"loss": "scaled"}}),
    "running_mean_momentum_reversed": (
        [("running_mean = momentum * running_mean + (1 - momentum) * mu",
          "running_mean = (1 - momentum) * running_mean + momentum * mu")],
        {"batchnorm": RUNNING, "batchnorm_alt": RUNNING, "spatial_batchnorm": RUNNING}),
    # beyond the ten of the issue: the other diagnoses
    "layernorm_dx_without_gamma": (
        [("    dx_hat = dout * gamma\n    dx = (D", "    dx_hat = dout\n    dx = (D")],
        {"layernorm": {"dx": "gamma_missing"}}),
    "groupnorm_dx_without_gamma": (
        [("dx_hat = (dout * gamma).reshape(N, G, -1)", "dx_hat = dout.reshape(N, G, -1)")],
        {"spatial_groupnorm": {"dx": "gamma_missing"}}),
    "conv_stride_ignored_in_rows": (
        [("window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]\n"
          "                    out[n, f, i, j]",
          "window = x_pad[n, :, i:i + HH, j * stride:j * stride + WW]\n                    out[n, f, i, j]")],
        {"conv": {"out": "padding_or_stride", "dx": "padding_or_stride", "dw": "padding_or_stride"}}),
    "conv_output_size_without_padding": (
        [("    F, _, HH, WW = w.shape\n    H_out = 1 + (H + 2 * pad - HH) // stride",
          "    F, _, HH, WW = w.shape\n    H_out = 1 + (H - HH) // stride")],
        {"conv": {"out": "shape"}}),
    "conv_db_missing": (
        [("    db = np.sum(dout, axis=(0, 2, 3))\n", "    db = np.zeros(F)\n")],
        {"conv": {"db": "missing"}}),
    "relu_backward_sign": (
        [("    dx = dout * (x > 0)\n", "    dx = -dout * (x > 0)\n")],
        {"relu": {"dx": "sign"}}),
    "softmax_without_max_shift": (
        [("shifted_logits = x - np.max(x, axis=1, keepdims=True)", "shifted_logits = x")],
        {"softmax_loss": {"loss": "nonfinite"}}),
    "batchnorm_test_mode_batch_statistics": (
        [("x_hat = (x - running_mean) / np.sqrt(running_var + eps)",
          "x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)")],
        {name: {"out": "test_uses_batch_stats"} for name in ("batchnorm", "batchnorm_alt", "spatial_batchnorm")}),
}


def planted(name: str, directory: Path) -> Path:
    """``directory/layers.py``: the correct file with bug ``name`` planted."""
    text = CORRECT.read_text()
    for old, new in BUGS[name][0]:
        assert text.count(old) == 1, f"{name}: {old!r} occurs {text.count(old)} times in {CORRECT.name}"
        text = text.replace(old, new)
    path = directory / "layers.py"
    path.write_text(text)
    return path
