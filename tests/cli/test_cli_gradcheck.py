"""``handgrad gradcheck``: passes for every regularizer configuration, flags the typical incomplete gradient."""
from pathlib import Path

import pytest

from handgrad.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typical_mistake.py"
FAST = ["--batch", "2", "--samples", "8"]


@pytest.mark.parametrize("flags", [
    [],
    ["--weight-l2", "1e-3", "--activity-l2", "1e-3", "--activity-on", "pre"],
    ["--weight-l2", "1e-3", "--activity-l2", "1e-3", "--activity-on", "post"],
    ["--weight-l1", "1e-3", "--activity-l1", "1e-3", "--activity-on", "pre"],
    ["--weight-l1", "1e-3", "--activity-l1", "1e-3", "--activity-on", "post"],
    ["--weight-l1", "1e-4", "--weight-l2", "1e-3", "--activity-l1", "1e-4", "--activity-l2", "1e-3"],
    ["--dataset", "cifar10", "--weight-l2", "1e-3", "--activity-l2", "1e-3", "--activity-on", "post"],
])
def test_every_regularizer_configuration_passes(flags, capsys):
    assert main(["gradcheck", *FAST, *flags]) == 0
    out = capsys.readouterr().out
    assert "PASS: 32 checks" in out
    for term in ("data", "weight", "activity", "total"):
        assert term in out


def test_incomplete_user_gradient_is_flagged_by_name(capsys):
    assert main(["gradcheck", *FAST, "--user-module", f"{EXAMPLE}:loss_and_grads"]) == 1
    out = capsys.readouterr().out
    assert "gradient check FAILED for: conv2d.W, conv2d.b, conv2d_1.b" in out
    assert "worst entries" in out


def test_correct_user_gradient_passes(capsys):
    assert main(["gradcheck", *FAST, "--user-module", f"{EXAMPLE}:correct_loss_and_grads"]) == 0
    assert "PASS: 8 checks" in capsys.readouterr().out


def test_a_broken_library_gradient_fails_the_command(capsys, monkeypatch):
    import handgrad as hg

    monkeypatch.setattr(hg.layers.base.Layer, "activity_grad", lambda self, y: self.activity_regularizer.grad(y))
    assert main(["gradcheck", *FAST, "--activity-l2", "1e-2"]) == 1  # the gradient misses its 1/N
    assert "gradient check FAILED for: conv2d.W, conv2d.b, conv2d_1.W, conv2d_1.b" in capsys.readouterr().out


@pytest.mark.parametrize("spec,message", [
    ("nofile.py:f", "--user-module: nofile.py does not exist"),
    (f"{EXAMPLE}", "--user-module must look like path/to/file.py:function"),
    (f"{EXAMPLE}:nothing_here", "has no function 'nothing_here'"),
])
def test_bad_user_module(spec, message, capsys):
    assert main(["gradcheck", "--user-module", spec]) == 1
    assert message in capsys.readouterr().err


def test_reference_network_with_batchnorm_passes_in_training_mode(capsys):
    assert main(["gradcheck", *FAST, "--batchnorm", "--weight-l2", "1e-3", "--activity-l2", "1e-3"]) == 0
    out = capsys.readouterr().out
    assert "batch_norm2d_1.gamma" in out and "batch_norm1d.beta" in out
    assert "PASS: 44 checks" in out  # 11 parameters (no biases before BatchNorm) x 4 terms
