"""``handgrad gradcheck``: passes for every regularizer configuration, flags the typical incomplete gradient;
the gradient doctor on users' models (``--user-model``, ``--term``, ``--json``); every bad input one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from handgrad.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typical_mistake.py"
NETS = Path(__file__).resolve().parents[1] / "gradcheck" / "cs231n_nets.py"
DOCTOR = ["--input-shape", "1,8,8", "--samples", "6", "--term", "weight=reg", "--term", "activity=act_reg"]
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
    assert main(["gradcheck", *FAST, "--input-shape", "1,12,12", "--user-module", f"{EXAMPLE}:loss_and_grads"]) == 1
    out = capsys.readouterr().out
    assert "gradient check FAILED for: conv2d.W, conv2d.b, conv2d_1.b" in out
    assert "worst entries" in out


def test_correct_user_gradient_passes(capsys):
    assert main(["gradcheck", *FAST, "--input-shape", "1,12,12", "--user-module",
                 f"{EXAMPLE}:correct_loss_and_grads"]) == 0
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


def test_reference_network_summary_says_float64(capsys):
    assert main(["gradcheck", *FAST, "--input-shape", "1,12,12"]) == 0
    out = capsys.readouterr().out
    assert "dtype: float64" in out and "float32" not in out


@pytest.mark.parametrize("variant,code,expected", [
    ("incomplete", 1, "gradient check FAILED for: W1, b1, b2"),
    ("batch_summed", 1, "gradient check FAILED for: batch scaling of: activity"),
    ("scaled", 1, "gradient check FAILED for: W1, b1, W2, b2"),
    ("correct", 0, "PASS: every check and the batch-scaling probe"),
])
def test_the_four_variants_and_their_json(variant, code, expected, tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["gradcheck", "--user-model", f"{NETS}:{variant}", *DOCTOR, "--json", str(report)]) == code
    out = capsys.readouterr().out
    assert expected in out and "checked in" in out
    data = json.loads(report.read_text())
    assert data["passed"] is (code == 0)
    assert data["input_shape"] == [1, 8, 8] and data["batch"] == 4
    failed = {(c["parameter"], c["term"]): c for c in data["checks"] if not c["passed"]}
    if variant == "incomplete":
        assert {k for k, c in failed.items() if c["diagnosis"] == "missing"} == {("W1", "activity"),
                                                                                ("b1", "activity"),
                                                                                ("b2", "activity")}
    if variant == "scaled":
        assert failed[("b1", "activity")]["diagnosis"] == "scaled"
        assert failed[("b1", "activity")]["scale"] == pytest.approx(4, rel=1e-4)
    probes = {b["term"]: b for b in data["batch_scaling"]}
    assert probes["activity"]["summed_over_batch"] is (variant == "batch_summed")


def test_user_module_with_init_params_imports_its_neighbours(tmp_path, capsys):
    """The file's directory is importable; init_params(seed) gives the parameters, with the user's names."""
    (tmp_path / "my_layers_2f9.py").write_text(f"import sys\nsys.path.insert(0, {str(NETS.parent)!r})\n"
                                              "from cs231n_nets import three_conv_loss, three_conv_params\n")
    (tmp_path / "my_net.py").write_text(
        "from my_layers_2f9 import three_conv_loss, three_conv_params\n"
        "def init_params(seed, input_shape=(1, 8, 8), num_classes=4):\n"
        "    return three_conv_params(seed, input_shape, num_classes)\n"
        "def loss(params, x, y, reg=1e-2, act_reg=1e-2):\n"
        "    return three_conv_loss(params, x, y, reg, act_reg)\n")
    args = ["gradcheck", "--user-module", f"{tmp_path / 'my_net.py'}:loss", "--input-shape", "1,8,8", "--classes",
            "4", "--batch", "3", "--samples", "4", "--term", "activity=act_reg"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "W4" in out and "activity" in out and "PASS: every check" in out


def write(tmp_path, text, name="user_code.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_CODE = {
    "syntax": ("def f(params, x, y):\n    return (\n", "f", "syntax error in {file}, line 2"),
    "import": ("import no_such_module_4711\n", "f", "importing {file} raised ModuleNotFoundError"),
    "raises": ("def f(params, x, y):\n    return 1 / 0\n", "f", "f ({file}) raised ZeroDivisionError"),
    "types": ("def f(params, x, y):\n    return 3.0\n", "f", "f ({file}) must return (loss, grads), got float"),
    "grads": ("def f(params, x, y):\n    return 1.0, [1]\n", "f", "grads a dict of arrays"),
    "init": ("def init_params(seed):\n    raise KeyError('W9')\n"
             "def f(params, x, y):\n    return 1.0, params\n", "f", "init_params init_params ({file}) raised KeyError"),
}


@pytest.mark.parametrize("case", sorted(BAD_CODE))
def test_bad_user_code_is_one_line_naming_the_file_or_function(case, tmp_path, capsys):
    text, name, message = BAD_CODE[case]
    file = write(tmp_path, text)
    assert main(["gradcheck", "--user-module", f"{file}:{name}", "--input-shape", "1,4,4"]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert message.format(file=file) in lines[0]
    assert "Traceback" not in err and len(lines) <= 2


def test_verbose_shows_the_users_traceback(tmp_path, capsys):
    file = write(tmp_path, "def f(params, x, y):\n    return 1 / 0\n")
    assert main(["gradcheck", "--user-module", f"{file}:f", "--input-shape", "1,4,4", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "raised ZeroDivisionError" in err and "Traceback" in err and "return 1 / 0" in err


@pytest.mark.parametrize("flags,message", [
    (["--eps", "0"], "--eps must be a number in (0, 1), got 0.0"),
    (["--tol", "inf"], "--tol must be a number in (0, 1), got inf"),
    (["--tol", "-1"], "--tol must be a number in (0, 1), got -1.0"),
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--samples", "0"], "--samples must be a positive integer, got 0"),
    (["--classes", "1"], "--classes must be at least 2"),
    (["--input-shape", "1,12"], "--input-shape must be C,H,W"),
    (["--term", "activity=act_reg"], "--term applies to --user-module or --user-model only"),
    (["--dataset", "cifar10", "--input-shape", "3,8,8"], "--dataset and --input-shape: give one"),
])
def test_bad_flags_are_one_line_naming_the_flag(flags, message, capsys):
    assert main(["gradcheck", *flags]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [
    (["--weight-l2", "1e-3"], "--weight-l2 does not apply to --user-module"),
    (["--activity-on", "post"], "--activity-on does not apply to --user-module"),
    (["--user-model", f"{NETS}:correct"], "--user-module and --user-model: give one"),
    (["--term", "activity"], "--term must look like TERM=COEFFICIENT"),
    (["--term", "activity=nope"], "has no keyword argument 'nope'"),
    (["--tol", "inf"], "--tol must be a number in (0, 1), got inf"),
])
def test_flags_that_do_not_apply_to_user_code_are_refused(flags, message, capsys):
    assert main(["gradcheck", "--user-module", f"{EXAMPLE}:loss_and_grads", *flags]) == 1
    assert message in capsys.readouterr().err


def test_unwritable_json_is_one_line(tmp_path, capsys):
    target = tmp_path / "missing_dir" / "r.json"
    assert main(["gradcheck", "--user-model", f"{NETS}:correct", *DOCTOR, "--json", str(target)]) == 1
    assert f"--json: cannot write {target}" in capsys.readouterr().err


def test_the_command_reports_a_syntax_error_without_a_traceback(tmp_path):
    file = write(tmp_path, "def f(:\n")
    command = Path(sys.executable).parent / "handgrad"  # the installed console script
    run = subprocess.run([str(command), "gradcheck", "--user-module", f"{file}:f"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"handgrad gradcheck: error: --user-module: syntax error in {file}")
    assert "Traceback" not in run.stderr


def test_reference_network_with_batchnorm_passes_in_training_mode(capsys):
    assert main(["gradcheck", *FAST, "--batchnorm", "--weight-l2", "1e-3", "--activity-l2", "1e-3"]) == 0
    out = capsys.readouterr().out
    assert "batch_norm2d_1.gamma" in out and "batch_norm1d.beta" in out
    assert "PASS: 44 checks" in out  # 11 parameters (no biases before BatchNorm) x 4 terms
