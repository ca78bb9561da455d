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
